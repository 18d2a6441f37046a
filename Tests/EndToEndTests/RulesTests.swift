// The alerting rules under promtool: the rule file checks clean, and its unit tests pass and cover every rule.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The repository's root: this file is Tests/EndToEndTests/RulesTests.swift in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let rulesPath = repositoryRoot + "/dashboards/aoai-canary.rules.yml"
let rulesTestPath = repositoryRoot + "/dashboards/tests/aoai-canary.rules.test.yml"
let promtoolPath = "/usr/bin/promtool"

/// A process other than aoai-canary (promtool, Prometheus) whose output goes to files, as `Child`'s
/// does; stopped, at the latest, when it is released.
final class ToolProcess: @unchecked Sendable {
    let process = Process()
    private let outputDirectory: String

    init(_ executable: String, _ arguments: [String]) throws {
        outputDirectory = NSTemporaryDirectory() + "aoai-canary-tool-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: outputDirectory + "/stdout", contents: nil)
        _ = FileManager.default.createFile(atPath: outputDirectory + "/stderr", contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outputDirectory + "/stdout")
        process.standardError = FileHandle(forWritingAtPath: outputDirectory + "/stderr")
        try process.run()
    }

    deinit {
        stopProcess(process)
        try? FileManager.default.removeItem(atPath: outputDirectory)
    }

    var stdout: String { (try? String(contentsOfFile: outputDirectory + "/stdout", encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: outputDirectory + "/stderr", encoding: .utf8)) ?? "" }

    /// Waits for the exit (at most `seconds`), returning the status; nil on a hang (then stops it).
    func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline { stopProcess(process); return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

/// Stops a child with SIGTERM, and with SIGKILL if it is still there after `seconds`; returns once it is gone.
func stopProcess(_ process: Process, seconds: Double = 5) {
    guard process.isRunning else { return }
    process.terminate()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Runs a tool to completion (at most a minute).
func runTool(_ executable: String, _ arguments: [String]) async throws -> (status: Int32?, stdout: String, stderr: String) {
    let tool = try ToolProcess(executable, arguments)
    let status = await tool.wait(seconds: 60)
    return (status, tool.stdout, tool.stderr)
}

/// The alert names the rule file defines, in order.
func alertNames(inRules text: String) -> [String] {
    text.split(separator: "\n").compactMap { line in
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
    }
}

@Suite struct RulesTests {
    @Test func promtoolCheckRulesAcceptsTheRuleFileWithoutAWord() async throws {
        let result = try await runTool(promtoolPath, ["check", "rules", rulesPath])
        #expect(result.status == 0, "promtool check rules:\n\(result.stdout)\(result.stderr)")
        #expect(result.stderr.isEmpty, "promtool check rules wrote to stderr:\n\(result.stderr)")
        let count = alertNames(inRules: try String(contentsOfFile: rulesPath, encoding: .utf8)).count
        #expect(result.stdout.contains("SUCCESS: \(count) rules found"), "\(result.stdout)")
    }

    @Test func promtoolUnitTestsOfTheRulesPass() async throws {
        let result = try await runTool(promtoolPath, ["test", "rules", rulesTestPath])
        #expect(result.status == 0, "promtool test rules:\n\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("SUCCESS"), "promtool test rules:\n\(result.stdout)\(result.stderr)")
    }

    /// Each rule has a case that fires it, with its labels and annotations (`exp_alerts`), and a
    /// case in which it stays quiet (a flow entry `{eval_time: ..., alertname: ...}` without them).
    @Test func everyRuleHasATestThatFiresItAndOneThatKeepsItQuiet() throws {
        let names = alertNames(inRules: try String(contentsOfFile: rulesPath, encoding: .utf8))
        #expect(names.count >= 12)
        #expect(names.allSatisfy { $0.hasPrefix("AoaiCanary") })
        #expect(Set(names).count == names.count, "duplicate alert names: \(names)")

        let lines = try String(contentsOfFile: rulesTestPath, encoding: .utf8).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var fired = Set<String>()
        var quiet = Set<String>()
        for (index, line) in lines.enumerated() {
            if line.hasPrefix("- {eval_time:"), let range = line.range(of: #"alertname: (\w+)"#, options: .regularExpression) {
                quiet.insert(String(line[range].dropFirst("alertname: ".count)))
            } else if line.hasPrefix("alertname: "), index + 1 < lines.count, lines[index + 1] == "exp_alerts:" {
                fired.insert(String(line.dropFirst("alertname: ".count)))
            }
        }
        for name in names {
            #expect(fired.contains(name), "no test fires \(name)")
            #expect(quiet.contains(name), "no test shows \(name) quiet")
        }
        #expect(fired.union(quiet).subtracting(names).isEmpty, "tests of unknown alerts: \(fired.union(quiet).subtracting(names))")
    }
}
