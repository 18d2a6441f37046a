// Waiting for SIGINT or SIGTERM as an async call, through Dispatch signal sources.
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Delivers termination signals as values of an async stream. The sources are only touched in
/// init and deinit, hence @unchecked.
final class SignalWatcher: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]
    let signals: AsyncStream<Int32>

    init(_ numbers: [Int32] = [SIGINT, SIGTERM]) {
        var continuation: AsyncStream<Int32>.Continuation!
        signals = AsyncStream { continuation = $0 }
        let sink = continuation!
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { sink.yield(number) }
            source.resume()
            return source
        }
    }

    /// Returns the first signal that arrives; returns nil when the task is cancelled first.
    func next() async -> Int32? {
        for await number in signals { return number }
        return nil
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
