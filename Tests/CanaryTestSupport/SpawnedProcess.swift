// Child processes started with posix_spawn and reaped with waitpid by this code alone.
// (Foundation's Process reaps through a SIGCHLD handler that, with many children started and
// stopped at once, was seen to miss exits: waitUntilExit then blocks forever.)
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running program whose standard streams go to files.
public final class SpawnedProcess: Sendable {
    public let processIdentifier: Int32
    private let exit = Mutex<Int32?>(nil)

    /// Starts `executable` (looked up on PATH when it has no slash) with `arguments` and the
    /// whole `environment`; stdin from `input` (or /dev/null), stdout and stderr to files.
    public init(executable: String, arguments: [String], environment: [String: String], input: String?, stdout: String, stderr: String) throws(SpawnError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = argv.withUnsafeBufferPointer { arguments in
            envp.withUnsafeBufferPointer { environment in
                posix_spawnp(
                    &pid, executable, &actions, nil, UnsafeMutablePointer(mutating: arguments.baseAddress!),
                    UnsafeMutablePointer(mutating: environment.baseAddress!))
            }
        }
        guard status == 0 else { throw SpawnError(executable: executable, errno: status) }
        processIdentifier = pid
    }

    /// False once the program has exited (and been reaped here).
    public var isRunning: Bool {
        exit.withLock { exit in
            guard exit == nil else { return false }
            var status: Int32 = 0
            let reaped = waitpid(processIdentifier, &status, WNOHANG)
            if reaped == processIdentifier {
                // WIFEXITED/WEXITSTATUS are macros: decode by hand; a signal gives 128 + its number.
                exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return false
            }
            if reaped < 0, errno == ECHILD {
                exit = -1  // reaped by someone else: gone, status unknown
                return false
            }
            return true
        }
    }

    /// The exit status, once `isRunning` is false.
    public var terminationStatus: Int32 { exit.withLock { $0 } ?? -1 }

    public func terminate() { Glibc.kill(processIdentifier, SIGTERM) }
    public func interrupt() { Glibc.kill(processIdentifier, SIGINT) }
    public func kill() { Glibc.kill(processIdentifier, SIGKILL) }

    /// Waits, blocking, until the program exits; SIGKILL first when `seconds` pass.
    public func waitBlocking(seconds: Double) {
        var waited = 0.0
        while isRunning {
            if waited >= seconds { kill() }
            usleep(10_000)
            waited += 0.01
        }
    }
}

/// A program that could not be started.
public struct SpawnError: Error, CustomStringConvertible {
    public var executable: String
    public var errno: Int32
    public var description: String { "cannot run \(executable): \(String(cString: strerror(errno)))" }
}
