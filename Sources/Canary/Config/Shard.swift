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

    public var description: String { "\(index)/\(count)" }

    /// Whether this shard probes the resource: its `arm_id` (or name, without one), lowercased,
    /// hashed with 64-bit FNV-1a, modulo `count`. Stable across agents, restarts and versions.
    public func owns(_ resource: ResourceConfig) -> Bool {
        Int(fnv1a((resource.armID?.description ?? resource.name).lowercased()) % UInt64(count)) == index - 1
    }
}
