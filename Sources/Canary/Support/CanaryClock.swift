// Time as the agent sees it: injected, so tests drive schedules and token expiry without sleeping.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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

    public var wallSeconds: Double { Self.read(CLOCK_REALTIME) }
    public var monotonicSeconds: Double { Self.read(CLOCK_MONOTONIC) }

    public func sleep(untilMonotonic deadline: Double) async throws {
        let delay = deadline - monotonicSeconds
        // An infinite or absurd deadline sleeps in day-long steps rather than trap converting it.
        if delay > 0 { try await Task.sleep(for: .milliseconds(Int64(min((delay * 1000).rounded(.up), 86_400_000)))) }
        try Task.checkCancellation()
    }

    /// Blocks the calling thread (one that is not the cooperative pool's) for `seconds`.
    public static func block(seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    private static func read(_ clock: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
