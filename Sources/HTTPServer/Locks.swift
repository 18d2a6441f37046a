// Small synchronisation primitives the C-facing classes need.
import Synchronization

/// A lock for code that runs on C threads (libmicrohttpd's): a `Mutex` without a value, for
/// classes whose state is not all in one place.
final class Lock: Sendable {
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
