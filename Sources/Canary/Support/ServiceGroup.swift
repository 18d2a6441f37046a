// The program's long-running parts and how they start and stop together, in the manner of
// swift-service-lifecycle's ServiceGroup (which this build cannot fetch: the idea, not the code).
import Synchronization

/// A long-running part of the program: `run()` does its work until its task is cancelled, then
/// returns (or throws when it cannot go on).
public protocol Service: Sendable {
    func run() async throws
}

/// Runs services side by side as the children of one task group. When any of them returns or
/// throws, or the group's own task is cancelled, the others are cancelled and awaited; the first
/// error is rethrown. No service is left running when `run()` returns.
public struct ServiceGroup: Sendable {
    public let services: [any Service]

    public init(_ services: [any Service]) {
        self.services = services
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services {
                group.addTask { try await service.run() }
            }
            defer { group.cancelAll() }
            // The first to finish, normally or not, ends the group.
            try await group.next()
        }
    }
}

/// A first-in, first-out queue of requests between threads and one consuming task: `push` from
/// anywhere, `next` from the consumer. Unlike an AsyncStream, nothing pushed is lost to a
/// cancelled consumer: `close` hands back what was never taken.
public final class RequestQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var waiter: CheckedContinuation<Element?, Never>?
        var closed = false
    }
    private let state = Mutex(State())

    public init() {}

    /// Adds a request; false when the queue is closed (the request was not taken).
    @discardableResult
    public func push(_ element: Element) -> Bool {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>?? in
            guard !state.closed else { return .none }
            if let waiter = state.waiter {
                state.waiter = nil
                return .some(waiter)
            }
            state.items.append(element)
            return .some(nil)
        }
        switch waiter {
        case .none: return false
        case .some(let continuation?): continuation.resume(returning: element)
        case .some(nil): break
        }
        return true
    }

    /// The next request, waiting for one; nil when the task is cancelled or the queue closed.
    public func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Element?? in
                    if !state.items.isEmpty { return .some(state.items.removeFirst()) }
                    if state.closed || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Every request already waiting, without waiting for more.
    public func drain() -> [Element] {
        state.withLock { state in
            defer { state.items.removeAll() }
            return state.items
        }
    }

    /// Closes the queue: later pushes are refused. Returns what was never taken.
    public func close() -> [Element] {
        let (items, waiter) = state.withLock { state -> ([Element], CheckedContinuation<Element?, Never>?) in
            state.closed = true
            defer {
                state.items.removeAll()
                state.waiter = nil
            }
            return (state.items, state.waiter)
        }
        waiter?.resume(returning: nil)
        return items
    }
}

/// A wake-up call between threads and one waiting task: `signal` from anywhere, `wait` from the
/// task, which returns at its deadline or at the first signal, whichever comes first. A signal
/// while nobody waits is kept for the next wait. For loops that would otherwise poll.
public final class Wakeup: Sendable {
    private let signals = RequestQueue<Void>()

    public init() {}

    public func signal() {
        signals.push(())
    }

    /// Returns at `deadline` (monotonic, by `clock`), at a signal, or when the task is cancelled.
    public func wait(untilMonotonic deadline: Double, clock: any CanaryClock) async {
        // Signals that came together count once.
        if !signals.drain().isEmpty { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(untilMonotonic: deadline) }
            group.addTask { _ = await self.signals.next() }
            await group.next()
            group.cancelAll()
        }
        _ = signals.drain()
    }
}
