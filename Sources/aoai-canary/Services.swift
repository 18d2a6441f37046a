// The executable's long-running parts as services of one group: the HTTP endpoint, the simulator,
// and the signals that stop or reload them.
import AzureSimulator
import Dispatch
import HTTPServer
import Support

#if canImport(Glibc)
import Glibc
#endif

/// Returns once the current task is cancelled.
func untilCancelled() async {
    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
}

/// Runs blocking work (a server's stop, which joins its threads) off the cooperative pool.
func offThePool(_ work: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            work()
            continuation.resume()
        }
    }
}

/// An HTTP server, serving from the moment it was made, as a service: `run()` returns when
/// cancelled, after stopping the server.
struct HTTPServerService: Service {
    let server: HTTPServer

    func run() async {
        await untilCancelled()
        await offThePool { server.stop() }
    }
}

/// The simulator as a service, like the HTTP endpoint.
struct SimulatorService: Service {
    let simulator: AzureSimulator

    func run() async {
        await untilCancelled()
        await offThePool { simulator.stop() }
    }
}

/// Turns signals into the group's stop and reload requests: SIGHUP calls `hangup`; SIGINT or
/// SIGTERM calls `stopping` and returns, which ends the group.
struct SignalService: Service {
    let watcher: SignalWatcher
    var hangup: @Sendable () -> Void = {}
    let stopping: @Sendable (Int32) -> Void

    func run() async {
        for await number in watcher.signals {
            guard number == SIGHUP else {
                stopping(number)
                return
            }
            hangup()
        }
    }
}

/// Runs `services` with SIGINT and SIGTERM as their stop (the simulator, the bench target).
func runUntilSignalled(_ services: [any Service]) async {
    let stop = SignalService(watcher: SignalWatcher()) { _ in }
    try? await ServiceGroup(services + [stop]).run()
}
