// journald for real: the agent writes native entries, journalctl reads them back with their fields.
import CanaryTestSupport
import Foundation
import Journal
import Testing

/// True when this process may start journald (root, and the binary exists).
let canRunJournald: Bool =
    getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd-journald")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/journalctl")

/// True when something answers on journald's datagram socket (a stale socket file refuses).
func journaldListening(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        for (index, byte) in path.utf8.enumerated() where index < buffer.count - 1 { buffer[index] = byte }
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
    }
}

/// Starts systemd-journald unless one is listening (machines without systemd as PID 1).
func ensureJournald() throws {
    let socket = "/run/systemd/journal/socket"
    if journaldListening(socket) { return }
    try? FileManager.default.removeItem(atPath: socket)
    try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
    // Left running for later tests and runs, as systemd would keep it.
    _ = try SpawnedProcess(
        executable: "/lib/systemd/systemd-journald", arguments: [], environment: ProcessInfo.processInfo.environment,
        input: nil, stdout: "/dev/null", stderr: "/dev/null")
    for _ in 0..<100 where !journaldListening(socket) {
        Thread.sleep(forTimeInterval: 0.05)
    }
}

/// `journalctl -o json` entries matching `filters`, as JSON objects.
func journalEntries(_ filters: [String]) async throws -> [[String: Any]] {
    let result = try await runTool("/usr/bin/journalctl", ["-o", "json", "--no-pager", "--all"] + filters)
    return result.stdout.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

@Suite(.serialized) struct JournalTests {
    @Test(.enabled(if: canRunJournald, "needs root and systemd-journald"))
    func entriesCarryStructuredFieldsAndPriorities() async throws {
        try ensureJournald()
        let world = try World()
        let noRole = world.addResource("journal-no-role", grantRole: false)
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("journal-no-role", noRole)], interval: "2s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "journal"])
        let pid = String(child.process.processIdentifier)

        var entries: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            entries = try await journalEntries(["SYSLOG_IDENTIFIER=aoai-canary", "_PID=\(pid)"])
            if entries.contains(where: { $0["REASON"] as? String == "permission_denied" }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Let a second round (2 s later) fail the same way, to show it is not logged again.
        let before = world.simulator.requestCount(resource: "journal-no-role")
        for _ in 0..<100 where world.simulator.requestCount(resource: "journal-no-role") < before + 2 {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(world.simulator.requestCount(resource: "journal-no-role") >= before + 2)
        child.process.terminate()
        #expect(await child.wait(seconds: 5) == 0)
        entries = try await journalEntries(["SYSLOG_IDENTIFIER=aoai-canary", "_PID=\(pid)"])

        let failure = try #require(entries.first { $0["REASON"] as? String == "permission_denied" }, "entries: \(entries.count)")
        #expect(failure["RESOURCE"] as? String == "journal-no-role")
        #expect(failure["AUTH"] as? String == "entra_id")
        #expect(failure["HTTP_STATUS"] as? String == "401")
        #expect(failure["CREDENTIAL"] as? String == "app")
        #expect(failure["PRIORITY"] as? String == "3")
        #expect((failure["TOKEN_EXPIRES_IN_S"] as? String).flatMap(Int.init) ?? 0 > 3000)
        #expect((failure["MESSAGE"] as? String)?.contains("permission_denied") == true)

        let token = try #require(entries.first { ($0["MESSAGE"] as? String)?.contains("token acquired") == true })
        #expect(token["PRIORITY"] as? String == "6")
        #expect(token["CREDENTIAL"] as? String == "app")
        let keySuccess = try #require(entries.first { $0["AUTH"] as? String == "api_key" })
        #expect(keySuccess["PRIORITY"] as? String == "6")
        #expect(keySuccess["REASON"] == nil)
        // One entry per change: the second round's identical failure is not logged again.
        #expect(entries.filter { $0["REASON"] as? String == "permission_denied" }.count == 1)
        let everything = entries.map { "\($0)" }.joined()
        #expect(!everything.contains(Names.secret) && !everything.contains(Names.key))
    }

    @Test func stderrIsTheJournalOnlyWhenJournalStreamNamesIt() throws {
        var info = stat()
        #expect(fstat(2, &info) == 0)
        let saved = ProcessInfo.processInfo.environment["JOURNAL_STREAM"]
        defer {
            if let saved { setenv("JOURNAL_STREAM", saved, 1) } else { unsetenv("JOURNAL_STREAM") }
        }
        setenv("JOURNAL_STREAM", "\(info.st_dev):\(info.st_ino)", 1)
        #expect(Journal.stderrIsJournal)
        setenv("JOURNAL_STREAM", "\(info.st_dev):\(info.st_ino &+ 1)", 1)
        #expect(!Journal.stderrIsJournal)
        unsetenv("JOURNAL_STREAM")
        #expect(!Journal.stderrIsJournal)
    }
}
