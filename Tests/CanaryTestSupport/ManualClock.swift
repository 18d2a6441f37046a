// A clock for tests that moves only when told to, for the scheduler and token expiry without sleeping.
import Support
import Synchronization

/// A clock that moves only when told to; sleepers wake when it is advanced past their deadline.
public final class ManualClock: CanaryClock {
    private struct State {
        var wall: Double
        var monotonic: Double
        var sleepers: [(deadline: Double, id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(wallSeconds: Double = 1_800_000_000, monotonicSeconds: Double = 1000) {
        state = Mutex(State(wall: wallSeconds, monotonic: monotonicSeconds))
    }

    public var wallSeconds: Double { state.withLock { $0.wall } }
    public var monotonicSeconds: Double { state.withLock { $0.monotonic } }

    /// The number of tasks waiting in `sleep`.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves both readings forward and wakes the sleepers whose deadline has come.
    public func advance(by seconds: Double) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.wall += seconds
            state.monotonic += seconds
            let due = state.sleepers.filter { $0.deadline <= state.monotonic }
            state.sleepers.removeAll { $0.deadline <= state.monotonic }
            return due.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Moves only the wall clock (a clock step), as NTP or an operator might.
    public func stepWall(by seconds: Double) {
        state.withLock { $0.wall += seconds }
    }

    public func sleep(untilMonotonic deadline: Double) async throws {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if deadline <= state.monotonic { return true }
                    state.sleepers.append((deadline, id, continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }
}
