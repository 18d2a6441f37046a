// The upper rooms without a server or a binary: the endpoint's routes called as functions (as
// hummingbird's testing module drives a router), and the supervisor's reload decisions run in
// this process against files in a temporary folder. Seconds, not the end-to-end suite's minutes.
import CanaryTestSupport
import Foundation
import HTTPServer
import JSON
import Synchronization
import Testing

@testable import Agent
@testable import Config
@testable import Endpoint
@testable import Log
@testable import Metrics
@testable import Schedule
@testable import Status
@testable import Support

@Suite struct RouteTests {
    /// A source with a board of `resources` resources and the schedule's pulse.
    struct Source: StatusSource {
        let registry: MetricsRegistry
        let board: StatusBoard
        let health: ScheduleHealth
        func snapshot() -> StatusSnapshot { StatusSnapshot(registry: registry, board: board, schedule: health) }
    }

    static func endpoint(resources: Int = 1, clock: ManualClock = ManualClock(), reload: StatusEndpoint.Reload? = nil) throws -> (
        StatusEndpoint, ScheduleHealth
    ) {
        let lines = (0..<resources).map { "  - {name: r\($0), endpoint: \"http://127.0.0.1:9/\", deployment: d, api_key_env: KEY}" }
        let text = "resources:" + (lines.isEmpty ? " []" : "\n" + lines.joined(separator: "\n")) + "\n"
        let config = try ConfigLoader.decode(text, file: "inline.yaml", environment: ConfigEnvironment(variables: ["KEY": "k"], configDirectory: "/tmp"))
        let metrics = CanaryMetrics(build: BuildInfo(version: "t", revision: "t", swiftVersion: "t"))
        for resource in config.resources { metrics.prepare(resource: resource.name, modes: [.apiKey], credential: nil) }
        let health = ScheduleHealth()
        health.pass(now: clock.monotonicSeconds, nextDue: nil, heartbeatInterval: 10)
        let source = Source(registry: metrics.registry, board: StatusBoard(config: config), health: health)
        return (StatusEndpoint(source: source, version: "test", clock: clock, reload: reload), health)
    }

    static func get(_ path: String, method: String = "GET", headers: [(name: String, value: String)] = []) -> HTTPRequest {
        var request = HTTPRequest(method: method, path: path, headers: headers)
        request.remoteAddress = "127.0.0.1"
        return request
    }

    static func text(_ response: HTTPResponse) -> String { String(decoding: response.content, as: UTF8.self) }

    @Test func thePagesAndTheirStatuses() throws {
        let (endpoint, _) = try Self.endpoint()
        let metrics = endpoint.handle(Self.get("/metrics"))
        #expect(
            metrics.status == 200 && Self.text(metrics).contains("aoai_canary_probe_success{resource=\"r0\",auth=\"api_key\"}"),
            "\(Self.text(metrics).prefix(300))")
        #expect(endpoint.handle(Self.get("/-/healthy")).status == 200)
        #expect(endpoint.handle(Self.get("/-/ready")).status == 200)
        let page = endpoint.handle(Self.get("/"))
        #expect(page.status == 200 && page.headers.contains { $0.name == "Content-Type" && $0.value.hasPrefix("text/html") })
        let json = try #require(JSONValue.parse(endpoint.handle(Self.get("/status.json")).content))
        #expect(json["resources"]?.arrayValue?.first?["name"]?.stringValue == "r0")
        #expect(endpoint.handle(Self.get("/nowhere")).status == 404)
        let post = endpoint.handle(Self.get("/metrics", method: "POST"))
        #expect(post.status == 405 && post.headers.contains { $0.name == "Allow" && $0.value == "GET, HEAD" })
    }

    @Test func notReadyWithNothingToProbeAndUnhealthyWhenTheScheduleStalls() throws {
        let clock = ManualClock()
        let (empty, _) = try Self.endpoint(resources: 0, clock: clock)
        let ready = empty.handle(Self.get("/-/ready"))
        #expect(ready.status == 503 && Self.text(ready).contains(StatusView.noResourcesNotice))
        #expect(empty.handle(Self.get("/-/healthy")).status == 200, "alive: it runs, with nothing to watch")
        // In the first moment after start the schedule has not passed yet; the reason that lasts
        // until the admin acts is still the one given (the binary test once saw the other).
        let (starting, startingHealth) = try Self.endpoint(resources: 0, clock: clock)
        startingHealth.stopped()
        let early = starting.handle(Self.get("/-/ready"))
        #expect(early.status == 503 && Self.text(early).contains(StatusView.noResourcesNotice), "\(Self.text(early))")

        let (endpoint, health) = try Self.endpoint(clock: clock)
        clock.advance(by: 41)
        let stalled = endpoint.handle(Self.get("/-/healthy"))
        #expect(stalled.status == 503 && Self.text(stalled).contains("has not run for 41 s"), "\(Self.text(stalled))")
        #expect(endpoint.handle(Self.get("/-/ready")).status == 503)
        health.pass(now: clock.monotonicSeconds, nextDue: clock.monotonicSeconds - 31, heartbeatInterval: 10)
        #expect(Self.text(endpoint.handle(Self.get("/-/ready"))).contains("a probe round due 31 s ago has not started"))
        health.stopped()
        #expect(Self.text(endpoint.handle(Self.get("/-/healthy"))).contains("not running"))
    }

    /// The reload door: off without the flag, this host only, no other site's page, and the
    /// outcome given later without a thread waiting.
    @Test func reloadIsRefusedOrAnsweredLater() throws {
        let (off, _) = try Self.endpoint()
        #expect(off.handle(Self.get("/-/reload", method: "POST")).status == 403)

        let pending = Mutex<[@Sendable (Result<Int, ConfigErrors>) -> Void]>([])
        let (endpoint, _) = try Self.endpoint { answer in pending.withLock { $0.append(answer) } }
        #expect(endpoint.handle(Self.get("/-/reload")).status == 405)
        var remote = Self.get("/-/reload", method: "POST")
        remote.remoteAddress = "192.0.2.1"
        #expect(endpoint.handle(remote).status == 403)
        let foreign = endpoint.handle(Self.get("/-/reload", method: "POST", headers: [("Host", "127.0.0.1:9464"), ("Origin", "https://evil.example")]))
        #expect(foreign.status == 403 && Self.text(foreign).contains("Origin https://evil.example"))

        let replies = Mutex<[HTTPResponse]>([])
        for _ in 0..<StatusEndpoint.maxReloadsWaiting {
            let response = endpoint.handle(Self.get("/-/reload", method: "POST", headers: [("Host", "127.0.0.1:9464")]))
            let deferred = try #require(response.deferred, "a reload is answered later")
            deferred.start { reply in replies.withLock { $0.append(reply) } }
        }
        let full = endpoint.handle(Self.get("/-/reload", method: "POST", headers: [("Host", "localhost")]))
        #expect(full.status == 503 && full.headers.contains { $0.name == "Retry-After" })
        let answers = pending.withLock { $0 }
        #expect(answers.count == StatusEndpoint.maxReloadsWaiting)
        answers[0](.success(3))
        answers[1](.failure(ConfigErrors(issues: [ConfigIssue(file: "c.yaml", line: 2, column: 3, keyPath: "resources", message: "must be a list")])))
        let got = replies.withLock { $0 }
        #expect(got.count == 2 && got[0].status == 200 && Self.text(got[0]) == "reloaded: 3 resources\n")
        #expect(got[1].status == 400 && Self.text(got[1]).contains("c.yaml:2:3"), "\(Self.text(got[1]))")
        // An answered reload frees its place.
        #expect(endpoint.handle(Self.get("/-/reload", method: "POST", headers: [("Host", "localhost")])).deferred != nil)
    }
}

@Suite struct SupervisorTests {
    static func config(_ names: [String]) -> String {
        "resources:"
            + (names.isEmpty
                ? " []\n"
                : "\n" + names.map { "  - {name: \($0), endpoint: \"http://127.0.0.1:9/\", deployment: d, api_key_env: KEY, interval: 1h}\n" }.joined())
    }

    static func supervisor(_ names: [String]) throws -> (Supervisor, String, TextBuffer) {
        let directory = NSTemporaryDirectory() + "aoai-canary-supervisor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/config.yaml"
        try config(names).write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: path, variables: ["KEY": "k"])
        let log = TextBuffer()
        let supervisor = Supervisor(
            config: config, path: path, variables: ["KEY": "k"], logger: capturingLogger(log),
            build: BuildInfo(version: "t", revision: "t", swiftVersion: "t"))
        return (supervisor, path, log)
    }

    /// A file that does not load is refused and the running configuration stays; one that loads
    /// replaces the agent around the same schedule.
    @Test func aBadFileIsRefusedAndAGoodOneSwapsTheAgent() async throws {
        let (supervisor, path, log) = try Self.supervisor(["a"])
        let running = Task { await supervisor.run() }
        defer { running.cancel() }
        let first = supervisor.reference.current

        try "resources:\n  - {name: a, endpoint: \"not a url\", deployment: d, api_key_env: KEY}\n".write(toFile: path, atomically: true, encoding: .utf8)
        guard case .failure(let errors) = await supervisor.reload() else {
            Issue.record("a broken file was applied")
            return
        }
        #expect(errors.issues.first?.file == path && errors.issues.first?.line == 2 && errors.issues.first?.keyPath == "resources[0].endpoint", "\(errors)")
        #expect(supervisor.reference.current === first, "the running agent stays")
        #expect(first.metrics.registry.value(CanaryMetrics.reloadSuccessful, []) == 0)
        #expect(log.value.contains("configuration reload rejected, the previous configuration keeps running"))

        try Self.config(["a", "b"]).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await supervisor.reload() == .success(2))
        let second = supervisor.reference.current
        #expect(second !== first && second.scheduler === first.scheduler, "a new agent around the one schedule")
        #expect(second.change.addedResources == ["b"] && second.change.isUnchanged(resource: "a"), "\(second.change.summary)")
        #expect(second.metrics.registry.value(CanaryMetrics.reloadSuccessful, []) == 1)
        #expect(log.value.contains("configuration reloaded: 2 resources"))
    }

    /// Reloads that arrive while a file is read share its outcome: one read, one new agent.
    @Test func reloadsThatArriveTogetherShareOneOutcome() async throws {
        let (supervisor, path, _) = try Self.supervisor(["a"])
        try Self.config(["a", "b", "c"]).write(toFile: path, atomically: true, encoding: .utf8)
        let outcomes = Mutex<[Result<Int, ConfigErrors>]>([])
        for _ in 0..<5 { supervisor.requestReload { outcome in outcomes.withLock { $0.append(outcome) } } }
        let running = Task { await supervisor.run() }
        defer { running.cancel() }
        // A bound on waiting, not a timing: the suite shares two cores with every other test.
        let deadline = Date().addingTimeInterval(60)
        while outcomes.withLock({ $0.count }) < 5, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(outcomes.withLock { $0 } == Array(repeating: .success(3), count: 5))
        #expect(supervisor.reference.current.change.addedResources.sorted() == ["b", "c"], "applied once, against the first configuration")
    }

    /// `run --config.watch`: a ConfigMap as the kubelet updates it (a new folder, then the
    /// `..data` symlink swapped over the old one) is applied without a signal; a bad one is
    /// refused and reported, and the next good one applied; a secret file rewritten reloads too.
    @Test func aConfigMapSwappedUnderItsMountIsApplied() async throws {
        let directory = NSTemporaryDirectory() + "aoai-canary-watch-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory + "/..2026_12_07_01", withIntermediateDirectories: true)
        let keyFile = directory + "/api.key"
        try "k1\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        func file(_ names: [String]) -> String {
            "resources:\n"
                + names.map { "  - {name: \($0), endpoint: \"http://127.0.0.1:9/\", deployment: d, api_key_file: \(keyFile), interval: 1h}\n" }.joined()
        }
        try file(["a"]).write(toFile: directory + "/..2026_12_07_01/config.yaml", atomically: true, encoding: .utf8)
        try fileManager.createSymbolicLink(atPath: directory + "/..data", withDestinationPath: "..2026_12_07_01")
        try fileManager.createSymbolicLink(atPath: directory + "/config.yaml", withDestinationPath: "..data/config.yaml")
        let path = directory + "/config.yaml"
        let log = TextBuffer()
        let supervisor = Supervisor(
            config: try ConfigLoader.load(path: path, variables: [:]), path: path, variables: [:], logger: capturingLogger(log),
            build: BuildInfo(version: "t", revision: "t", swiftVersion: "t"))
        supervisor.watchFiles(every: 0.1)
        let running = Task { await supervisor.run() }
        defer { running.cancel() }
        func eventually(_ check: () -> Bool) async throws -> Bool {
            // A bound on waiting, not a timing: the suite shares two cores with every other test.
            let deadline = Date().addingTimeInterval(30)
            while !check(), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            return check()
        }
        /// The kubelet's update: the data in a new folder, then `..data` renamed over.
        func swap(to folder: String, _ text: String) throws {
            try fileManager.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
            try text.write(toFile: directory + "/" + folder + "/config.yaml", atomically: true, encoding: .utf8)
            try fileManager.createSymbolicLink(atPath: directory + "/..data_tmp", withDestinationPath: folder)
            #expect(rename(directory + "/..data_tmp", directory + "/..data") == 0)
        }

        try swap(to: "..2026_12_07_02", file(["a", "b"]))
        #expect(try await eventually { supervisor.reference.current.config.resources.map(\.name) == ["a", "b"] }, "\(log.value)")
        #expect(log.value.contains("the configuration file or a file it names changed: reloading"))

        try swap(to: "..2026_12_07_03", "resources: [\n")
        #expect(try await eventually { log.value.contains("configuration reload rejected") }, "\(log.value)")
        #expect(supervisor.reference.current.config.resources.map(\.name) == ["a", "b"], "the running configuration stays")

        try swap(to: "..2026_12_07_04", file(["c"]))
        #expect(try await eventually { supervisor.reference.current.config.resources.map(\.name) == ["c"] }, "\(log.value)")

        // A secret file the configuration names, rewritten: the key in use follows it.
        try "k2\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        #expect(try await eventually { supervisor.reference.current.config.resources.first?.apiKey?.exposedValue == "k2" }, "\(log.value)")
    }

    /// A stopped supervisor answers at once and changes nothing.
    @Test func aReloadAfterTheStopChangesNothing() async throws {
        let (supervisor, path, _) = try Self.supervisor(["a"])
        let running = Task { await supervisor.run() }
        try await Task.sleep(for: .milliseconds(50))
        running.cancel()
        await running.value
        try Self.config(["a", "b"]).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await supervisor.reload() == .success(1))
        #expect(supervisor.reference.current.config.resources.map(\.name) == ["a"])
    }
}
