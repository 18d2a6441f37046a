// A thread-safe growing text, for output collected from other threads.
import Synchronization

/// Text appended from any thread and read from tests.
public final class TextBuffer: Sendable {
    private let text = Mutex("")
    private let lines = Mutex<[String]>([])

    public init() {}

    public func append(_ chunk: String) {
        text.withLock { $0 += chunk }
        lines.withLock { $0.append(chunk) }
    }

    /// Everything appended, joined.
    public var value: String { text.withLock { $0 } }

    /// Each append as it came (one log line per call for loggers).
    public var chunks: [String] { lines.withLock { $0 } }
}
