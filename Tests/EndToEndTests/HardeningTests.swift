// The second round of hostile input, against the binary: configurations that used to trap,
// reloads that cost calls or could be triggered by any page, files that block.
import AzureSimulator
import CanaryTestSupport
import Foundation
import HTTPClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct HardeningTests {
    /// `timeout: 9223372036854775807ms` passed check-config and trapped on the first call; it is
    /// now refused at start, and a running agent refuses it on reload and goes on.
    @Test func aTimeoutThatUsedToTrapIsRefusedAtStartAndOnReload() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        let good = world.configText(resources: [("r", world.addResource("r"))], interval: "1s")
        let bad = good.replacingOccurrences(of: "timeout: 2s", with: "timeout: 9223372036854775807ms")
        try bad.write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try await runBinary(["run", "--config", path, "--listen", "127.0.0.1:0"])
        #expect(refused.status == 64 && refused.stderr.contains("timeout: must be between 100ms and 5m"), "\(refused.stderr)")

        try good.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        try bad.write(toFile: path, atomically: true, encoding: .utf8)
        kill(child.process.processIdentifier, SIGHUP)
        _ = await child.await(10, in: { child.stderr }) { $0.contains("configuration reload rejected") ? "" : nil }
        #expect(child.stderr.contains("configuration reload rejected"))
        let before = sampleValue(String(decoding: try await get(url).body, as: UTF8.self), #"aoai_canary_probes_total{resource="r",auth="api_key"}"#) ?? 0
        try await Task.sleep(for: .seconds(2))
        let after = sampleValue(String(decoding: try await get(url).body, as: UTF8.self), #"aoai_canary_probes_total{resource="r",auth="api_key"}"#) ?? 0
        #expect(after > before, "the previous configuration keeps probing")
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
    }

    /// Reloads of an unchanged file (from HTTP and SIGHUP) used to cost a token request and a
    /// round each; now the caches and schedules carry over. Reload over HTTP needs the flag, and
    /// refuses pages of other sites.
    @Test func reloadsOfAnUnchangedFileCostNothingAndOnlyTheAgentsOwnPagesMayAskForThem() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("r", world.addResource("r"))], interval: "60s").write(toFile: path, atomically: true, encoding: .utf8)

        let off = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let offURL = try #require(await off.await(30, in: { off.stderr }, metricsURL))
        #expect(try await post(String(offURL.dropLast("/metrics".count)) + "/-/reload").status == 403, "off without --web.enable-lifecycle")
        off.process.terminate()
        _ = await off.wait(seconds: 10)

        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt", "--web.enable-lifecycle"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        let base = String(url.dropLast("/metrics".count))
        _ = await child.await(10, in: { child.stderr }) { $0.contains("r entra_id: probe succeeded") ? "" : nil }
        let tokens = world.simulator.tokenRequestCount(clientID: Names.client)
        let calls = world.simulator.requestCount(resource: "r")
        #expect(tokens >= 1 && calls >= 2)  // both runs made their first round

        for _ in 0..<30 { #expect(try await post(base + "/-/reload").status == 200) }
        for _ in 0..<10 { kill(child.process.processIdentifier, SIGHUP) }
        try await Task.sleep(for: .seconds(2))
        #expect(world.simulator.tokenRequestCount(clientID: Names.client) == tokens, "a reload of an unchanged file requests no token")
        #expect(world.simulator.requestCount(resource: "r") == calls, "and starts no round")

        // A cross-site form post, or a rebound DNS name, is refused.
        let port = try #require(URLComponents(string: url)?.port)
        for headers in [[("Origin", "http://evil.example")], [("Host", "evil.example:\(port)")], [("Origin", "null")]] {
            let response = try await client.execute(HTTPClientRequest(method: "POST", url: base + "/-/reload", headers: headers, body: Array("x=1".utf8)))
            #expect(response.status == 403, "\(headers)")
        }
        let sameOrigin = try await client.execute(HTTPClientRequest(method: "POST", url: base + "/-/reload", headers: [("Origin", base)], body: []))
        #expect(sameOrigin.status == 200)
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
    }

    /// A FIFO as a secret file hung check-config for ever, and a reload with it blocked the
    /// agent so that SIGTERM was ignored.
    @Test func aFIFOIsNoSecretFileAndCannotStallTheAgent() async throws {
        let world = try World()
        let fifo = world.directory + "/secret.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let path = world.directory + "/config.yaml"
        let good = world.configText(resources: [("r", world.addResource("r"))], interval: "1s")
        let blocking = good.replacingOccurrences(of: "client_secret_file: app.secret", with: "client_secret_file: secret.fifo")
        try blocking.write(toFile: path, atomically: true, encoding: .utf8)
        let checked = try await runBinary(["check-config", "--config", path])
        #expect(checked.status == 64 && checked.stderr.contains("not a regular file"), "\(checked.stderr)")

        try good.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt", "--web.enable-lifecycle"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        let base = String(url.dropLast("/metrics".count))
        try blocking.write(toFile: path, atomically: true, encoding: .utf8)
        kill(child.process.processIdentifier, SIGHUP)
        async let first = post(base + "/-/reload")
        async let second = post(base + "/-/reload")
        let answers = try await [first, second]
        #expect(answers.allSatisfy { $0.status == 400 })
        #expect(try await get(base + "/-/healthy").status == 200)
        let start = Date()
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
        #expect(Date().timeIntervalSince(start) < 5)
    }
}

@Suite(.serialized) struct DemoCleanupTests {
    /// The demo left its folder, with the demo secrets in it, behind on Ctrl-C and SIGTERM.
    @Test(arguments: [SIGINT, SIGTERM])
    func theDemoTakesItsFolderWithItWhenStopped(signal: Int32) async throws {
        let child = try Child(["demo", "--listen", "127.0.0.1:0"])
        let folder = try #require(
            await child.await(20, in: { child.stdout }) { text -> String? in
                guard let range = text.range(of: #"/tmp/aoai-canary-demo\.[A-Za-z0-9]+"#, options: .regularExpression) else { return nil }
                return String(text[range])
            })
        #expect(FileManager.default.fileExists(atPath: folder + "/app.secret"))
        kill(child.process.processIdentifier, signal)
        #expect(await child.wait(seconds: 10) == 0)
        #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) is still there")
    }
}

@Suite(.serialized) struct StalledScraperTests {
    /// The resident size of a process, in MB.
    static func residentMB(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }

    /// At 3,000 resources (about 10 MB of /metrics), 60 connections that asked for /metrics and
    /// never read took RSS from 95 MB to 502 MB and kept 420 MB after they closed; 128 kept fresh
    /// clients waiting 5–10 s. Now scrapes share one rendering, at most 40 are in flight, and
    /// the memory goes when they do.
    @Test func stalledReadersNeitherMultiplyMemoryNorShutOthersOut() async throws {
        let world = try World()
        var resources: [(name: String, endpoint: String)] = []
        for index in 0..<3000 {
            let name = "r\(index)"
            world.simulator.addResource(SimulatedResource(name: name, tenantID: Names.tenant, apiKey: Names.key, deployments: [Names.deployment]))
            resources.append((name, world.simulator.endpoint(for: name)))
        }
        let path = world.directory + "/config.yaml"
        // A day's interval: the rounds spread over it, so the test measures scrapes, not probes.
        try world.configText(resources: resources, interval: "1d").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        let port = try #require(URLComponents(string: url)?.port)
        let pid = child.process.processIdentifier
        // A debug build renders 20 MB slowly on a loaded machine: this first scrape may take a while.
        let size = try await client.execute(HTTPClientRequest(url: url, timeoutSeconds: 120, maxBodyBytes: 64 << 20)).body.count
        #expect(size > 1_500_000, "/metrics is \(size) bytes")
        try await Task.sleep(for: .seconds(2))
        let idle = Self.residentMB(pid)

        var stalled: [RawConnection] = []
        for index in 0..<64 {
            guard let connection = RawConnection(from: "127.0.0.\(10 + index % 4)", to: port) else { continue }
            var small: Int32 = 4096
            setsockopt(connection.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            connection.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(connection)
        }
        #expect(stalled.count == 64)
        var peak = idle
        for _ in 0..<10 {
            try await Task.sleep(for: .milliseconds(200))
            peak = max(peak, Self.residentMB(pid))
        }
        let start = Date()
        let fresh = try await client.execute(HTTPClientRequest(url: url, timeoutSeconds: 5, maxBodyBytes: 32 << 20))
        let waited = Date().timeIntervalSince(start)
        #expect([200, 503].contains(fresh.status) && waited < 2, "a fresh client waited \(waited) s for \(fresh.status)")
        peak = max(peak, Self.residentMB(pid))
        stalled.removeAll()
        // The server notices the closed connections as it polls them (within its 10 s idle
        // timeout at worst, on a loaded machine): wait for that, up to 20 s.
        var after = Self.residentMB(pid)
        for _ in 0..<40 where after - idle >= 20 {
            try await Task.sleep(for: .milliseconds(500))
            after = Self.residentMB(pid)
        }
        print("stalled readers: idle \(idle) MB, peak \(peak) MB, after \(after) MB, /metrics \(size) bytes")
        #expect(peak - idle < 100, "peak \(peak) MB against \(idle) MB idle")
        #expect(after - idle < 20, "\(after) MB after the stalled readers closed, \(idle) MB idle")
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
    }
}
