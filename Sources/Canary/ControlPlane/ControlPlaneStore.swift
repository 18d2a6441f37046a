// Resource Manager's last word on each resource, kept apart from the status page.
import Config
import Synchronization

/// The control-plane monitor's facts, by resource: the monitor writes them after each pass, and
/// the verdicts (`ControlPlaneFacts.explain`) and the status board's view read them. Readable
/// from any thread without awaiting.
public final class ControlPlaneStore: Sendable {
    private let facts = Mutex<[String: ControlPlaneFacts]>([:])

    public init() {}

    /// The last facts Resource Manager gave about a resource.
    public subscript(resource: String) -> ControlPlaneFacts? {
        facts.withLock { $0[resource] }
    }

    /// Every resource's facts at one moment (a copy-on-write snapshot, for a view of them all).
    public var snapshot: [String: ControlPlaneFacts] {
        facts.withLock { $0 }
    }

    public func record(_ facts: ControlPlaneFacts, resource: String) {
        self.facts.withLock { $0[resource] = facts }
    }

    /// Keeps, across a reload, the facts of resources still read at the same `arm_id`, until
    /// their next read; forgets the rest. Linear in the facts held.
    public func apply(_ config: CanaryConfig, change: ConfigChange) {
        let read = config.controlPlane != nil
        var keep: Set<String> = []
        if read {
            for resource in config.resources where resource.armID != nil && change.changedResources[resource.name]?.contains(.armID) != true {
                keep.insert(resource.name)
            }
        }
        facts.withLock { facts in facts = facts.filter { keep.contains($0.key) } }
    }
}
