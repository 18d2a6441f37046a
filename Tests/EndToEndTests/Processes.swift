// Child processes for the end-to-end tests: the binary and the tools (promtool, Prometheus), with
// their output in files read back while they run.
import CanaryTestSupport
import Foundation
import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose output goes to files, read back while it runs. (Files rather than
/// pipes with readability handlers: those race with libdispatch on Linux when the handle closes.)
final class Child: @unchecked Sendable {
    let process: SpawnedProcess
    private let outputDirectory: String

    /// Runs `executable` (aoai-canary unless told otherwise) with `arguments`.
    /// `input` is a file for standard input, `directory` the working directory.
    init(executable: String = binaryPath, _ arguments: [String], environment: [String: String] = [:], input: String? = nil, directory: String? = nil) throws {
        outputDirectory = NSTemporaryDirectory() + "aoai-canary-child-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "JOURNAL_STREAM")
        for (key, value) in environment { env[key] = value }
        // A working directory other than ours goes through env -C (posix_spawn has no portable chdir).
        let (program, programArguments) = directory.map { ("/usr/bin/env", ["-C", $0, executable] + arguments) } ?? (executable, arguments)
        process = try SpawnedProcess(
            executable: program, arguments: programArguments, environment: env, input: input,
            stdout: outputDirectory + "/stdout", stderr: outputDirectory + "/stderr")
    }

    deinit {
        stopProcess(process)
        try? FileManager.default.removeItem(atPath: outputDirectory)
    }

    var stdout: String { (try? String(contentsOfFile: outputDirectory + "/stdout", encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: outputDirectory + "/stderr", encoding: .utf8)) ?? "" }

    /// Waits for the exit (at most `seconds`), returning the status; nil on a hang.
    func wait(seconds: Double = 20) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline {
                stopProcess(process)
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Polls `text` until `match` finds something, for at most `seconds`.
    func await(_ seconds: Double, in text: @escaping () -> String, _ match: (String) -> String?) async -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let found = match(text()) { return found }
            if !process.isRunning { return match(text()) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}

/// Stops a child with SIGTERM, and with SIGKILL if it is still there after `seconds`; returns once it is gone.
func stopProcess(_ process: SpawnedProcess, seconds: Double = 5) {
    guard process.isRunning else { return }
    process.terminate()
    process.waitBlocking(seconds: seconds)
}

/// Runs a tool to completion (at most a minute).
func runTool(_ executable: String, _ arguments: [String]) async throws -> (status: Int32?, stdout: String, stderr: String) {
    let tool = try Child(executable: executable, arguments)
    let status = await tool.wait(seconds: 60)
    return (status, tool.stdout, tool.stderr)
}

/// A free loopback port: bound, read back and let go for a child process to take.
func freeLoopbackPort() throws -> Int {
    let socket = try ListeningSocket.bind("127.0.0.1:0")
    defer { close(socket.fd) }
    return socket.address.port
}
