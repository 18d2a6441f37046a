// Whether rounds are actually running: what /-/ready, /-/healthy and the service watchdog say.
import Synchronization

/// The scheduler loop's pulse, readable from any thread without awaiting the scheduler.
///
/// The rule: the schedule is *stalled* when its loop is not running, when the loop has not
/// passed for longer than its heartbeat interval plus `grace`, or when a round fell due more
/// than `grace` seconds ago and has not started. A round that is due starts at its slot, and a
/// resource whose previous round is still in flight (bounded by `timeout`) skips its slot rather
/// than holding it, so on a working agent no slot stays overdue, whatever the control plane,
/// discovery or a reload are doing.
public final class ScheduleHealth: Sendable {
    struct State {
        var running = false
        var lastPass = -Double.infinity
        var nextDue: Double?
        var heartbeatInterval = 10.0
    }

    /// How long a due round may wait before the schedule counts as stalled.
    public let grace: Double
    private let state = Mutex(State())

    public init(grace: Double = 30) {
        self.grace = grace
    }

    /// The loop passed at `now` (monotonic); `nextDue` is its earliest slot not yet started.
    func pass(now: Double, nextDue: Double?, heartbeatInterval: Double) {
        state.withLock { state in
            state.running = true
            state.lastPass = now
            state.nextDue = nextDue
            state.heartbeatInterval = heartbeatInterval
        }
    }

    /// The loop ended (cancelled): nothing is probed until it runs again.
    func stopped() {
        state.withLock { $0.running = false }
    }

    /// Why the schedule is stalled at `now` (monotonic), or nil when rounds run.
    public func stall(now: Double) -> String? {
        let state = state.withLock { $0 }
        guard state.running else { return "the probe schedule is not running" }
        if now - state.lastPass > state.heartbeatInterval + grace {
            return "the probe schedule has not run for \(Int(now - state.lastPass)) s"
        }
        if let due = state.nextDue, now - due > grace {
            return "a probe round due \(Int(now - due)) s ago has not started"
        }
        return nil
    }
}
