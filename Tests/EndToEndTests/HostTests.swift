// The first hour's set-up: make deps names the Swift it needs, and make test's check that the
// suites left the host as they found it can fail.
import Foundation
import Testing

@Suite struct HostTests {
    /// Runs `arguments` from the repository's root to completion (at most 60 s).
    private func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try Child(executable: "/usr/bin/env", arguments, environment: environment, directory: repositoryRoot)
        let status = try #require(await child.wait(seconds: 60), "\(arguments) hung")
        return (status, child.stdout, child.stderr)
    }

    @Test func theHostCheckNamesAChangeAndPassesTheStatusOn() async throws {
        let directory = NSTemporaryDirectory() + "aoai-canary-host-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let watched = ["AOAI_CANARY_HOST_PATHS": directory]

        let quiet = try await run(["Tests/Host/unchanged.sh", "true"], environment: watched)
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet)")
        let failing = try await run(["Tests/Host/unchanged.sh", "sh", "-c", "exit 3"], environment: watched)
        #expect(failing.status == 3, "the command's own status is kept: \(failing)")

        let changed = try await run(["Tests/Host/unchanged.sh", "touch", directory + "/left-behind"], environment: watched)
        #expect(changed.status == 1, "\(changed)")
        #expect(changed.stderr.contains("+\(directory)/left-behind f 644"), "the difference is named: \(changed.stderr)")
        #expect(changed.stderr.contains("the tests changed this host"), "\(changed.stderr)")
    }

    /// Debian 12 packages no Swift 6: make deps says which it found and where to get one.
    @Test func makeDepsNamesTheSwiftItNeeds() async throws {
        let directory = NSTemporaryDirectory() + "aoai-canary-swift-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Run through sh: a script just written and executed at once can meet ETXTBSY, when a
        // child spawned by a test beside this one still holds the descriptor it was written through.
        let script = directory + "/swift"
        try "echo 'Swift version 5.10.1 (swift-5.10.1-RELEASE)'\n".write(toFile: script, atomically: true, encoding: .utf8)
        let old = "/bin/sh " + script

        for (swift, found) in [(old, "is 5.10."), (directory + "/absent", "is not found.")] {
            let outcome = try await run(["make", "--no-print-directory", "deps", "SWIFT=\(swift)"])
            #expect(outcome.status != 0, "\(outcome)")
            #expect(outcome.stdout.contains("aoai-canary needs Swift 6.0 or newer; '\(swift)' \(found)"), "\(outcome)")
            #expect(outcome.stdout.contains("https://www.swift.org/install/linux/"), "\(outcome)")
        }
    }
}
