// Running promtool on exposition text, for the test targets.
import Foundation

/// Runs `promtool check metrics` on text.
public enum Promtool {
    public static func checkMetrics(_ text: String) throws -> (status: Int32, output: String) {
        let directory = NSTemporaryDirectory() + "promtool-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try text.write(toFile: directory + "/metrics", atomically: true, encoding: .utf8)
        let process = try SpawnedProcess(
            executable: "/usr/bin/promtool", arguments: ["check", "metrics"], environment: ProcessInfo.processInfo.environment,
            input: directory + "/metrics", stdout: directory + "/stdout", stderr: directory + "/stderr")
        process.waitBlocking(seconds: 60)
        let output = ["stdout", "stderr"].map { (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)) ?? "" }.joined()
        return (process.terminationStatus, output)
    }
}
