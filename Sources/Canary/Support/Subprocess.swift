// Running a helper program (the Azure CLI) with a timeout, off the cooperative thread pool.
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
        case .launchFailed(let path, let code): return "cannot run \(path): \(String(cString: strerror(code)))"
        case .timedOut(let seconds): return "did not finish within \(PromDuration.format(.milliseconds((seconds * 1000).clampedInt)))"
        case .cancelled: return "cancelled"
        }
    }
}

/// The child's pid, shared with the cancellation handler so a stop or reload kills it at once.
final class ChildProcess: Sendable {
    private let state = Mutex((pid: pid_t(0), cancelled: false))

    /// Records the pid; kills the child right away when cancellation came first.
    func started(_ pid: pid_t) {
        let cancelled = state.withLock { state -> Bool in
            state.pid = pid
            return state.cancelled
        }
        if cancelled { kill(pid, SIGKILL) }
    }

    func cancel() {
        let pid = state.withLock { state -> pid_t in
            state.cancelled = true
            return state.pid
        }
        if pid > 0 { kill(pid, SIGKILL) }
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

    private static func runBlocking(_ path: String, _ arguments: [String], timeoutSeconds: Double, child: ChildProcess) -> Result<SubprocessResult, SubprocessError> {
        spawnLock.withLock { _ in spawn(path, arguments, child: child) }.flatMap { pipes in
            collect(pipes, timeoutSeconds: timeoutSeconds, child: child)
        }
    }

    private static func spawn(_ path: String, _ arguments: [String], child: ChildProcess) -> Result<(pid: pid_t, out: Int32, err: Int32), SubprocessError> {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { return .failure(.launchFailed(path: path, errno: errno)) }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return .failure(.launchFailed(path: path, errno: errno))
        }
        // Close-on-exec too, for programs spawned elsewhere in the process.
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = argv.withUnsafeBufferPointer { buffer in
            posix_spawnp(&pid, path, &actions, nil, UnsafeMutablePointer(mutating: buffer.baseAddress!), environ)
        }
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            return .failure(.launchFailed(path: path, errno: spawned))
        }
        child.started(pid)
        return .success((pid, outPipe[0], errPipe[0]))
    }

    private static func collect(_ pipes: (pid: pid_t, out: Int32, err: Int32), timeoutSeconds: Double, child: ChildProcess) -> Result<SubprocessResult, SubprocessError> {
        let pid = pipes.pid

        var outputs: [[UInt8]] = [[], []]
        var open = [pipes.out, pipes.err]
        let deadline = SystemClock().monotonicSeconds + timeoutSeconds
        var timedOut = false
        while open.contains(where: { $0 >= 0 }) {
            let remaining = deadline - SystemClock().monotonicSeconds
            if remaining <= 0 { timedOut = true; break }
            // Killed on cancellation; a grandchild may still hold the pipes, so stop reading too.
            if child.isCancelled { break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(remaining, 1) * 1000) + 1)
            if ready < 0 && errno != EINTR { break }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 65536)
                let count = read(fds[index].fd, &buffer, buffer.count)
                if count > 0 {
                    if outputs[index].count < 1 << 20 { outputs[index] += buffer[0..<count] }
                } else {
                    close(fds[index].fd)
                    open[index] = -1
                }
            }
        }
        for fd in open where fd >= 0 { close(fd) }
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        child.reaped()
        if timedOut { return .failure(.timedOut(seconds: timeoutSeconds)) }
        if child.isCancelled { return .failure(.cancelled) }
        // WIFEXITED/WEXITSTATUS are macros: decode the wait status by hand.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return .success(SubprocessResult(
            status: exitStatus,
            stdout: String(decoding: outputs[0], as: UTF8.self),
            stderr: String(decoding: outputs[1], as: UTF8.self)))
    }
}
