// `run --shard INDEX/COUNT`: which part of the estate one agent probes.
import Support

/// `run --shard INDEX/COUNT`: this agent's part of the estate.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// From 1 to `count`.
    public var index: Int
    public var count: Int

    /// Parses `INDEX/COUNT` with 1 <= INDEX <= COUNT <= 1000; nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), (1...1000).contains(count), (1...count).contains(index) else {
            return nil
        }
        self.index = index
        self.count = count
    }

    public init?(index: Int, count: Int) {
        guard (1...1000).contains(count), (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// The word `--shard` takes for INDEX in a StatefulSet: the pod's ordinal plus one.
    public static let ordinalWord = "ordinal"

    /// Why `--shard ordinal/COUNT` has no shard: said as the usage error it is.
    public enum OrdinalError: Error, Equatable, CustomStringConvertible {
        case badCount(String)
        case noOrdinal(hostname: String?)
        case beyondCount(ordinal: Int, count: Int, from: String)

        public var description: String {
            switch self {
            case .badCount(let text): return "the COUNT of ordinal/COUNT must be a number from 1 to 1000, found \"\(text)\""
            case .noOrdinal(let hostname):
                return "cannot tell this pod's ordinal: POD_INDEX is not set (the downward API's apps.kubernetes.io/pod-index label) and the host "
                    + "name \(hostname.map { "\"\($0)\"" } ?? "(none)") does not end in -N as a StatefulSet's pods do; not probing everything"
            case .beyondCount(let ordinal, let count, let from):
                return "this pod's ordinal is \(ordinal) (from \(from)), beyond --shard ordinal/\(count): COUNT must be the StatefulSet's replicas"
            }
        }
    }

    /// `--shard ordinal/COUNT`: INDEX is the pod's ordinal plus one, from `POD_INDEX` (the
    /// downward API's `apps.kubernetes.io/pod-index` label) or else the `-N` a StatefulSet puts
    /// at the end of its pods' names (`HOSTNAME`). Nil when `text` does not start with `ordinal/`.
    public static func fromPod(_ text: String, environment: [String: String]) -> Result<Shard, OrdinalError>? {
        guard text.hasPrefix(ordinalWord + "/") else { return nil }
        let countText = String(text.dropFirst(ordinalWord.count + 1))
        guard let count = Int(countText), (1...1000).contains(count) else { return .failure(.badCount(countText)) }
        let ordinal: Int
        let from: String
        if let value = environment["POD_INDEX"], let number = Int(value), number >= 0 {
            (ordinal, from) = (number, "POD_INDEX")
        } else if let hostname = environment["HOSTNAME"], let dash = hostname.lastIndex(of: "-"),
            let number = Int(hostname[hostname.index(after: dash)...]), number >= 0, !hostname[hostname.index(after: dash)...].hasPrefix("+")
        {
            (ordinal, from) = (number, "the host name \(hostname)")
        } else {
            return .failure(.noOrdinal(hostname: environment["HOSTNAME"]))
        }
        guard let shard = Shard(index: ordinal + 1, count: count) else { return .failure(.beyondCount(ordinal: ordinal, count: count, from: from)) }
        return .success(shard)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether this shard probes the resource: its `arm_id` (or name, without one), lowercased,
    /// hashed with 64-bit FNV-1a, modulo `count`. Stable across agents, restarts and versions.
    public func owns(_ resource: ResourceConfig) -> Bool {
        Int(fnv1a((resource.armID?.description ?? resource.name).lowercased()) % UInt64(count)) == index - 1
    }
}
