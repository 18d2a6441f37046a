// The daemon as systemd runs it: reload by SIGHUP and POST, sd_notify (READY, STATUS, WATCHDOG,
// STOPPING) on a notify socket the test owns, socket activation, and a prompt stop mid-round.
import CanaryTestSupport
import Foundation
import HTTPClient
import Testing

@testable import Agent
@testable import Config
@testable import Endpoint
@testable import HTTPServer
@testable import Log
@testable import Metrics

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init() throws {
        path = NSTemporaryDirectory() + "notify-" + UUID().uuidString.prefix(8) + ".sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() where index < buffer.count - 1 { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw CocoaError(.fileWriteUnknown) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Messages received within `seconds`, until `until` is satisfied.
    func receive(for seconds: Double, until done: ([String]) -> Bool) -> [String] {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline, !done(messages) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
        }
        return messages
    }
}

func post(_ url: String) async throws -> HTTPClientResponse {
    try await client.execute(HTTPClientRequest(method: "POST", url: url, body: [], timeoutSeconds: 10))
}

@Suite(.serialized) struct ServiceTests {
    @Test func reloadKeepsCountersDropsRemovedResourcesAndRefusesBadConfigs() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        let (keep, drop, add) = (world.addResource("keep"), world.addResource("drop"), world.addResource("add"))
        try world.configText(resources: [("keep", keep), ("drop", drop)], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt", "--web.enable-lifecycle"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        let base = String(url.dropLast("/metrics".count))
        func metrics() async throws -> String { String(decoding: try await get(url).body, as: UTF8.self) }
        func probes(_ text: String, _ resource: String) -> Double {
            sampleValue(text, #"aoai_canary_probes_total{resource="\#(resource)",auth="api_key"}"#) ?? -1
        }
        func waitFor(_ condition: (String) -> Bool) async throws -> String {
            var text = ""
            let deadline = Date().addingTimeInterval(15)
            repeat {
                text = try await metrics()
                if condition(text) { return text }
                try await Task.sleep(for: .milliseconds(200))
            } while Date() < deadline
            return text
        }

        let before = try await waitFor { probes($0, "keep") >= 2 && probes($0, "drop") >= 1 }
        #expect(sampleValue(before, "aoai_canary_config_last_reload_successful") == 1)

        // A good change by SIGHUP: "drop" goes, "add" comes, "keep" keeps counting.
        try world.configText(resources: [("keep", keep), ("add", add)], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        kill(child.process.processIdentifier, SIGHUP)
        let after = try await waitFor { probes($0, "add") >= 1 }
        #expect(probes(after, "add") >= 1)
        #expect(probes(after, "keep") >= probes(before, "keep"), "counters of remaining resources carry on")
        #expect(!after.contains(#"resource="drop""#), "series of removed resources are dropped")
        #expect(sampleValue(after, "aoai_canary_config_last_reload_successful") == 1)
        #expect(
            (sampleValue(after, "aoai_canary_config_last_reload_success_timestamp_seconds") ?? 0)
                >= (sampleValue(before, "aoai_canary_config_last_reload_success_timestamp_seconds") ?? .infinity))
        #expect(try Promtool.checkMetrics(after).output.isEmpty)

        // A bad change: refused, logged, counted, and the old configuration keeps probing.
        try "resources:\n  - name: broken\n    endpoint: not-a-url\n".write(toFile: path, atomically: true, encoding: .utf8)
        kill(child.process.processIdentifier, SIGHUP)
        let refused = try await waitFor { sampleValue($0, "aoai_canary_config_last_reload_successful") == 0 }
        #expect(sampleValue(refused, "aoai_canary_config_last_reload_successful") == 0)
        let stillRunning = try await waitFor { probes($0, "keep") > probes(refused, "keep") }
        #expect(probes(stillRunning, "keep") > probes(refused, "keep"))
        #expect(child.stderr.contains("configuration reload rejected"))

        // POST /-/reload from this host: the bad file is refused with its errors, a good one applies.
        let rejected = try await post(base + "/-/reload")
        #expect(rejected.status == 400)
        #expect(String(decoding: rejected.body, as: UTF8.self).contains("config.yaml:3:15: resources[0].endpoint"))
        try world.configText(resources: [("keep", keep)], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let accepted = try await post(base + "/-/reload")
        #expect(accepted.status == 200 && String(decoding: accepted.body, as: UTF8.self) == "reloaded: 1 resources\n")
        #expect(try await get(base + "/-/reload").status == 405)
        let final = try await metrics()
        #expect(sampleValue(final, "aoai_canary_config_last_reload_successful") == 1)
        #expect(!final.contains(#"resource="add""#))

        child.process.terminate()
        #expect(await child.wait(seconds: 5) == 0)
    }

    @Test func reloadOverHTTPIsRefusedFromOtherHosts() async throws {
        let world = try World()
        let config = try world.config(world.configText(resources: []))
        let agent = world.agent(config)
        defer { agent.shutdown() }
        let endpoint = StatusEndpoint(source: AgentReference(agent), version: "t") { $0(.success(0)) }
        var request = HTTPRequest(method: "POST", path: "/-/reload", query: [], headers: [("Host", "127.0.0.1:9725")], body: [], bodyTruncated: false)
        request.remoteAddress = "10.1.2.3"
        #expect(await answer(endpoint.handle(request)).status == 403)
        request.remoteAddress = "127.0.0.1"
        #expect(await answer(endpoint.handle(request)).status == 200)
        request.remoteAddress = "::1"
        #expect(await answer(endpoint.handle(request)).status == 200)
    }

    @Test func itTellsTheServiceManagerReadyStatusWatchdogAndStopping() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("r", world.addResource("r"))], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let notify = try NotifySocket()
        let child = try Child(
            ["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"],
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "600000"])
        let running = notify.receive(for: 10) { messages in
            messages.contains { $0.contains("READY=1") } && messages.filter { $0 == "WATCHDOG=1" }.count >= 3
                && messages.contains("STATUS=1 of 1 resources healthy")
        }
        #expect(running.contains { $0.hasPrefix("READY=1") }, "\(running)")
        #expect(running.filter { $0 == "WATCHDOG=1" }.count >= 3, "watchdog pings from the scheduler loop: \(running)")
        #expect(running.contains("STATUS=1 of 1 resources healthy"), "\(running)")
        child.process.terminate()
        let stopping = notify.receive(for: 5) { $0.contains("STOPPING=1") }
        #expect(stopping.contains("STOPPING=1"))
        #expect(await child.wait(seconds: 5) == 0)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate"), "needs systemd-socket-activate"))
    func socketActivationServesOnThePassedSocket() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("r", world.addResource("r"))], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let probe = try ListeningSocket.bind(host: "127.0.0.1", port: 0)
        let port = probe.address.port
        close(probe.fd)
        // The config's listen (127.0.0.1:0) is ignored: the passed socket wins.
        let activator = try Child(
            executable: "/usr/bin/systemd-socket-activate", ["-l", "127.0.0.1:\(port)", binaryPath, "run", "--config", path, "--log-format", "logfmt"])
        defer { stopProcess(activator.process) }
        var status = 0
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            status = (try? await get("http://127.0.0.1:\(port)/-/healthy"))?.status ?? 0
            if status == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == 200)
        let text = String(decoding: try await get("http://127.0.0.1:\(port)/metrics").body, as: UTF8.self)
        #expect(text.contains("aoai_canary_build_info"))
    }

    @Test func sigtermMidRoundStopsWithinSeconds() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("hung", world.addResource("hung") { $0.hang = true })], timeout: "30s").write(
            toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        _ = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        try await Task.sleep(for: .milliseconds(500))  // the round is in flight, hanging
        let start = Date()
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func overlappingReloadsLeaveOneScheduleAndCancelledRoundsAreNoFailures() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        let pair = world.addResource("pair")
        let hung = world.addResource("hung") { $0.hang = true }
        try world.configText(resources: [("pair", pair), ("hung", hung)], timeout: "5s", interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let logger = EventLogger(format: .logfmt, level: .debug) { world.logs.append($0) }
        let supervisor = Supervisor(
            config: try ConfigLoader.load(path: path, variables: [:]), path: path, variables: [:], logger: logger,
            build: BuildInfo(version: "t", revision: "t", swiftVersion: "6"))
        let running = Task { await supervisor.run() }
        let registry = supervisor.reference.current.metrics.registry
        func value(_ descriptor: some MetricFamily, _ labels: [String]) -> Double { registry.value(descriptor.name, labels) ?? -1 }
        let deadline = Date().addingTimeInterval(10)
        while value(CanaryMetrics.probes, ["pair", "entra_id"]) < 1, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }

        // The pair loses its credential; three reloads arrive at once while "hung" is mid-round.
        try world.configText(resources: [("pair", pair), ("hung", hung)], timeout: "5s", interval: "1s")
            .replacingOccurrences(of: "    credential: app\n", with: "", options: [], range: nil)
            .write(toFile: path, atomically: true, encoding: .utf8)
        async let first = supervisor.reload()
        async let second = supervisor.reload()
        async let third = supervisor.reload()
        let results = await [first, second, third]
        #expect(results.allSatisfy { if case .success(2) = $0 { return true } else { return false } })

        let text = registry.render()
        #expect(!text.contains(#"resource="pair",auth="entra_id""#), "the removed auth mode's series are gone")
        #expect(registry.value(CanaryMetrics.failures.name, ["hung", "api_key", "connection_failed"]) == nil, "a cancelled round is no failure")
        #expect(value(CanaryMetrics.probes, ["hung", "api_key"]) == 0)

        // One schedule runs: the pair's key probes come at about one a second, not three. Three
        // schedules would make about 15 in 5 s; a loaded machine may make fewer than 5 with one
        // (a CI run made 1 in 3 s), so only the upper bound is tight.
        let before = value(CanaryMetrics.probes, ["pair", "api_key"])
        try await Task.sleep(for: .seconds(5))
        let made = value(CanaryMetrics.probes, ["pair", "api_key"]) - before
        #expect(made >= 1 && made <= 7, "\(made) probes in 5 s at a 1 s interval")
        running.cancel()
        await running.value
        let late = await supervisor.reload()
        #expect((try? late.get()) == 2, "a reload after stop changes nothing")
    }
}

/// The final answer of a response the endpoint may give later (a reload's).
func answer(_ response: HTTPResponse) async -> HTTPResponse {
    guard let deferred = response.deferred else { return response }
    return await withCheckedContinuation { continuation in deferred.start { continuation.resume(returning: $0) } }
}
