// Time as the agent sees it: injected, so tests drive schedules and token expiry without sleeping.
import Posix
import Synchronization

/// Two readings of time and a way to wait.
public protocol CanaryClock: Sendable {
    /// Unix time in seconds: for token expiry and timestamps in metrics.
    var wallSeconds: Double { get }
    /// Seconds from an arbitrary start that never jumps: for schedules and durations.
    var monotonicSeconds: Double { get }
    /// Suspends until `monotonicSeconds` reaches `deadline`; throws when the task is cancelled.
    func sleep(untilMonotonic deadline: Double) async throws
}

/// The real clocks.
public struct SystemClock: CanaryClock {
    public init() {}

    public var wallSeconds: Double { System.wallClock() }
    public var monotonicSeconds: Double { System.monotonicClock() }

    public func sleep(untilMonotonic deadline: Double) async throws {
        let delay = deadline - monotonicSeconds
        // An infinite or absurd deadline sleeps in day-long steps rather than trap converting it.
        if delay > 0 { try await Task.sleep(for: .milliseconds(Int64(min((delay * 1000).rounded(.up), 86_400_000)))) }
        try Task.checkCancellation()
    }

    /// Blocks the calling thread (one that is not the cooperative pool's) for `seconds`.
    public static func block(seconds: Double) {
        System.sleep(seconds: seconds)
    }
}
