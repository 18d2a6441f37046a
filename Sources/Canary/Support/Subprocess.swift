// Running a helper program (the Azure CLI) with a timeout, off the cooperative thread pool.
import Dispatch
import Posix
import Synchronization

/// What a finished program left.
package struct SubprocessResult: Sendable {
    package var status: Int32
    package var stdout: String
    package var stderr: String
}

/// Why a program could not be run to completion.
package enum SubprocessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The program was not found or could not be started.
    case launchFailed(path: String, errno: Int32)
    /// It ran longer than the timeout and was killed.
    case timedOut(seconds: Double)
    /// The calling task was cancelled and the program killed.
    case cancelled

    package var description: String {
        switch self {
        case .launchFailed(let path, let code): return "cannot run \(path): \(Errno(code: code))"
        case .timedOut(let seconds): return "did not finish within \(PromDuration.format(.milliseconds((seconds * 1000).clampedInt)))"
        case .cancelled: return "cancelled"
        }
    }
}

/// The child's pid, shared with the cancellation handler so a stop or reload kills it at once.
final class ChildProcess: Sendable {
    private let state = Mutex((pid: Int32(0), cancelled: false))

    /// Records the pid; kills the child right away when cancellation came first.
    func started(_ pid: Int32) {
        let cancelled = state.withLock { state -> Bool in
            state.pid = pid
            return state.cancelled
        }
        if cancelled { System.kill(pid) }
    }

    func cancel() {
        let pid = state.withLock { state -> Int32 in
            state.cancelled = true
            return state.pid
        }
        if pid > 0 { System.kill(pid) }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Forgets the pid once it is reaped, so a cancel cannot hit a reused one.
    func reaped() {
        state.withLock { $0.pid = 0 }
    }
}

package enum Subprocess {
    /// Pipes are made and the child spawned under this lock, so that no concurrent spawn
    /// inherits another's pipe ends (which would keep its reads from ever seeing EOF).
    private static let spawnLock = Mutex(())

    /// Runs `path` (looked up on PATH when it has no slash) with `arguments`, collecting up to
    /// 1 MiB of each output stream; kills it after `timeoutSeconds`, or when the task is cancelled.
    package static func run(_ path: String, _ arguments: [String], timeoutSeconds: Double) async -> Result<SubprocessResult, SubprocessError> {
        let child = ChildProcess()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(returning: runBlocking(path, arguments, timeoutSeconds: timeoutSeconds, child: child))
                }
            }
        } onCancel: {
            child.cancel()
        }
    }

    private static func runBlocking(_ path: String, _ arguments: [String], timeoutSeconds: Double, child: ChildProcess) -> Result<
        SubprocessResult, SubprocessError
    > {
        spawnLock.withLock { _ in spawn(path, arguments, child: child) }.flatMap { pipes in
            collect(pipes, timeoutSeconds: timeoutSeconds, child: child)
        }
    }

    private static func spawn(_ path: String, _ arguments: [String], child: ChildProcess) -> Result<(pid: Int32, out: Int32, err: Int32), SubprocessError> {
        // Close-on-exec, for programs spawned elsewhere in the process.
        let outPipe: (read: Int32, write: Int32)
        let errPipe: (read: Int32, write: Int32)
        do throws(Errno) {
            outPipe = try System.makePipe()
        } catch {
            return .failure(.launchFailed(path: path, errno: error.code))
        }
        do throws(Errno) {
            errPipe = try System.makePipe()
        } catch {
            System.close(outPipe.read)
            System.close(outPipe.write)
            return .failure(.launchFailed(path: path, errno: error.code))
        }
        let spawned = Result { () throws(Errno) in
            try System.spawn(path, arguments, standardOutput: outPipe.write, standardError: errPipe.write)
        }
        System.close(outPipe.write)
        System.close(errPipe.write)
        switch spawned {
        case .success(let pid):
            child.started(pid)
            return .success((pid, outPipe.read, errPipe.read))
        case .failure(let error):
            System.close(outPipe.read)
            System.close(errPipe.read)
            return .failure(.launchFailed(path: path, errno: error.code))
        }
    }

    private static func collect(_ pipes: (pid: Int32, out: Int32, err: Int32), timeoutSeconds: Double, child: ChildProcess) -> Result<
        SubprocessResult, SubprocessError
    > {
        let pid = pipes.pid

        var outputs: [[UInt8]] = [[], []]
        var open = [pipes.out, pipes.err]
        let deadline = SystemClock().monotonicSeconds + timeoutSeconds
        var timedOut = false
        while open.contains(where: { $0 >= 0 }) {
            let remaining = deadline - SystemClock().monotonicSeconds
            if remaining <= 0 {
                timedOut = true
                break
            }
            // Killed on cancellation; a grandchild may still hold the pipes, so stop reading too.
            if child.isCancelled { break }
            guard let ready = try? System.pollReadable(open, milliseconds: Int32(min(remaining, 1) * 1000) + 1) else { break }
            for index in open.indices where ready[index] {
                var buffer = [UInt8](repeating: 0, count: 65536)
                let count = (try? System.read(open[index], into: &buffer)) ?? 0
                if count > 0 {
                    if outputs[index].count < 1 << 20 { outputs[index] += buffer[0..<count] }
                } else {
                    System.close(open[index])
                    open[index] = -1
                }
            }
        }
        for fd in open where fd >= 0 { System.close(fd) }
        if timedOut { System.kill(pid) }
        let exitStatus = System.waitForExit(pid)
        child.reaped()
        if timedOut { return .failure(.timedOut(seconds: timeoutSeconds)) }
        if child.isCancelled { return .failure(.cancelled) }
        return .success(
            SubprocessResult(
                status: exitStatus,
                stdout: String(decoding: outputs[0], as: UTF8.self),
                stderr: String(decoding: outputs[1], as: UTF8.self)))
    }
}
