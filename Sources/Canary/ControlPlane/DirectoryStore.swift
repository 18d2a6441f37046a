// The directory's last word on each credential, kept apart from the status page.
import Synchronization

/// The directory monitor's facts, by credential name: the monitor writes them after each pass;
/// the explanations of token failures, the status page and the metrics read them. Readable from
/// any thread without awaiting.
public final class DirectoryStore: Sendable {
    private let facts = Mutex<[String: DirectoryFacts]>([:])

    public init() {}

    public subscript(credential: String) -> DirectoryFacts? {
        facts.withLock { $0[credential] }
    }

    public var snapshot: [String: DirectoryFacts] {
        facts.withLock { $0 }
    }

    public func record(_ facts: DirectoryFacts) {
        self.facts.withLock { $0[facts.credential] = facts }
    }

    /// Keeps only the facts of `credentials` (a reload dropped the others).
    public func keep(_ credentials: Set<String>) {
        facts.withLock { facts in facts = facts.filter { credentials.contains($0.key) } }
    }
}
