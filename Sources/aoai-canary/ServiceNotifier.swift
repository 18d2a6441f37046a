// The service manager's side of the daemon: watchdog pings and a STATUS line with the healthy count.
import Agent
import Journal
import Support
import Synchronization

/// Sends `WATCHDOG=1` from the scheduler's loop (so a wedged scheduler gets restarted) and
/// `STATUS=` when the number of healthy resources changes.
final class ServiceNotifier: Sendable {
    private let agent: AgentReference
    private let watchdog: Double?
    private let state = Mutex((lastPing: 0.0, lastCheck: -Double.infinity, lastStatus: ""))
    /// The status line is worked out at most this often: the loop can pass hundreds of times a second.
    static let statusEvery: Double = 1

    init(agent: AgentReference) {
        self.agent = agent
        watchdog = ServiceManager.watchdogInterval
    }

    /// How often the loop must call `beat`: a third of the watchdog, at most 10 s.
    var heartbeatInterval: Double { min(10, (watchdog ?? 30) / 3) }

    /// Called from the scheduler's loop. The watchdog is fed only while rounds run (the
    /// schedule's rule, the same as `/-/ready`'s): a loop that passes but starts no due round
    /// gets no `WATCHDOG=1`, and systemd restarts the service.
    func beat() {
        let now = SystemClock().monotonicSeconds
        let stalled = agent.current.scheduler.health.stall(now: now) != nil
        let (ping, check) = state.withLock { state -> (Bool, Bool) in
            let ping = watchdog != nil && !stalled && now - state.lastPing >= heartbeatInterval * 0.9
            if ping { state.lastPing = now }
            let check = now - state.lastCheck >= Self.statusEvery
            if check { state.lastCheck = now }
            return (ping, check)
        }
        if ping { ServiceManager.notify("WATCHDOG=1") }
        guard check else { return }
        let health = agent.current.board.health
        // Until every resource has had its first round, "healthy" would undercount.
        let status =
            health.total == 0
            ? "no resources configured"
            : health.started ? "\(health.healthy) of \(health.total) resources healthy" : "probing \(health.total) resources"
        let changed = state.withLock { state -> Bool in
            defer { state.lastStatus = status }
            return state.lastStatus != status
        }
        if changed { ServiceManager.notify("STATUS=\(status)") }
    }
}
