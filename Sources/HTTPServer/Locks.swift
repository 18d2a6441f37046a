// Small synchronisation primitives the C-facing classes need.
import Synchronization

/// A lock for code that runs on C threads; a thin wrapper over `Mutex`.
final class PthreadLock: Sendable {
    private let mutex = Mutex(())
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}

/// A boolean flag read from C threads.
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func store(_ newValue: Bool) { value.store(newValue, ordering: .sequentiallyConsistent) }
    func load() -> Bool { value.load(ordering: .sequentiallyConsistent) }
}
