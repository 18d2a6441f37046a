// The built binary, run as a user runs it: exit codes, help, check-config, run, scrape, promtool, demo.
import AzureSimulator
import CanaryTestSupport
import Config
import Foundation
import HTTPClient
import Probe
import Testing

/// The aoai-canary executable next to the test bundle (`swift build` puts both in .build/debug).
let binaryPath: String = {
    if let path = ProcessInfo.processInfo.environment["AOAI_CANARY_BINARY"] { return path }
    let bundle = Bundle.main.bundlePath  // .build/<config>/
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    if !FileManager.default.fileExists(atPath: directory + "/aoai-canary") { directory = bundle }
    return directory + "/aoai-canary"
}()

/// Runs the binary to completion.
func runBinary(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32?, stdout: String, stderr: String) {
    let child = try Child(arguments, environment: environment)
    let status = await child.wait()
    return (status, child.stdout, child.stderr)
}

/// The metrics URL a running agent printed in its start-up log line or banner.
func metricsURL(in text: String) -> String? {
    guard let range = text.range(of: #"https?://[^ \n"]+/metrics"#, options: .regularExpression) else { return nil }
    return String(text[range])
}

let client = HTTPClient()

/// The value of one series in exposition text.
func sampleValue(_ text: String, _ series: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
}

/// The failed probes of one resource and auth mode in exposition text, over every reason.
func failureCount(_ text: String, resource: String, auth: String) -> Double {
    FailureReason.allCases.compactMap {
        sampleValue(text, #"aoai_canary_probe_failures_total{resource="\#(resource)",auth="\#(auth)",reason="\#($0.rawValue)"}"#)
    }.reduce(0, +)
}

/// True when rounds were started and every one of them within `bound` seconds (a bucket of
/// aoai_canary_round_start_lag_seconds, such as "1") of its slot.
func everyRoundStarted(_ text: String, within bound: String) -> Bool {
    let count = sampleValue(text, "aoai_canary_round_start_lag_seconds_count") ?? 0
    return count > 0 && sampleValue(text, #"aoai_canary_round_start_lag_seconds_bucket{le="\#(bound)"}"#) == count
}

/// Waits (at most `seconds`) for a helper server to write the port it listens on to `path`.
func portWritten(to path: String, seconds: Double = 10) async throws -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    while (try? String(contentsOfFile: path, encoding: .utf8))?.isEmpty ?? true, Date() < deadline {
        try await Task.sleep(for: .milliseconds(50))
    }
    return try? String(contentsOfFile: path, encoding: .utf8)
}

func get(_ url: String) async throws -> HTTPClientResponse {
    try await client.execute(HTTPClientRequest(url: url, timeoutSeconds: 5, maxBodyBytes: 4 << 20))
}

@Suite(.serialized) struct BinaryTests {
    @Test func versionAndHelpExitZero() async throws {
        let version = try await runBinary(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("aoai-canary 0.1.0"))
        #expect(try await runBinary(["version"]).status == 0)
        let help = try await runBinary(["--help"])
        #expect(help.status == 0)
        for command in ["run", "check-config", "simulate", "demo", "version"] {
            #expect(help.stdout.contains("  \(command) "))
            let sub = try await runBinary([command, "--help"])
            #expect(sub.status == 0, "\(command) --help")
            #expect(sub.stdout.contains("USAGE: aoai-canary \(command)"))
        }
    }

    @Test(arguments: [
        (["frobnicate"], "unknown subcommand 'frobnicate'"),
        (["--frobnicate"], "unknown option '--frobnicate'"),
        (["run", "--bogus"], "unknown option '--bogus'"),
        (["run", "--config"], "missing value for '--config <path>'"),
        (["run", "--log-format", "xml"], "invalid value 'xml' for '--log-format'"),
        (["check-config", "extra"], "unexpected argument 'extra'"),
        (["run", "--config", "a.yaml", "--config.file", "b.yaml"], "option '--config.file' given twice"),
        (["run", "--log.level", "loud"], "invalid value 'loud' for '--log.level'"),
        (["run", "--shard", "0/3"], "invalid value '0/3' for '--shard': expected INDEX/COUNT with 1 <= INDEX <= COUNT <= 1000, as in 1/3"),
        (["check-config", "--web.listen-address", ":9725"], "unknown option '--web.listen-address'"),
        (["run", "--web.telemetry-path", "metrics"], "invalid value 'metrics' for '--web.telemetry-path': expected an absolute path such as /metrics"),
        (["run", "--web.telemetry-path", "/-/ready"], "invalid value '/-/ready' for '--web.telemetry-path': /-/ready is the endpoint's own page"),
    ])
    func usageErrorsExit64(arguments: [String], message: String) async throws {
        let result = try await runBinary(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("Error: \(message)"), "\(result.stderr)")
    }

    /// config/: the annotated file the package installs, and one example per credential type and
    /// per probe kind, each accepted by check-config as a user would run it.
    @Test func everyExampleConfigurationPassesCheckConfig() async throws {
        let folder = repositoryRoot + "/config"
        let examples = try FileManager.default.contentsOfDirectory(atPath: folder + "/examples").filter { $0.hasSuffix(".yaml") }.sorted()
        for kind in CredentialKind.allCases {
            #expect(examples.contains("credential-\(kind.rawValue.replacingOccurrences(of: "_", with: "-")).yaml"), "no example for \(kind.rawValue)")
        }
        for probe in ProbeKind.allCases {
            #expect(examples.contains("probe-\(probe.rawValue.replacingOccurrences(of: "_", with: "-")).yaml"), "no example for probe \(probe.rawValue)")
        }
        let token = FileManager.default.temporaryDirectory.appendingPathComponent("example-federated-token-\(UUID().uuidString)").path
        try "x.y.z".write(toFile: token, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: token) }
        let environment = [
            "AOAI_KEY": "k", "APP_SECRET": "s", "APIM_KEY": "g", "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000000",
            "AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111", "AZURE_FEDERATED_TOKEN_FILE": token,
        ]
        for path in [folder + "/config.yaml"] + examples.map({ folder + "/examples/" + $0 }) {
            let result = try await runBinary(["check-config", "--config", path], environment: environment)
            #expect(result.status == 0 && result.stdout.hasPrefix(path + ": OK"), "\(path):\n\(result.stdout)\(result.stderr)")
        }
        // Each example's first line names the variables it needs, and exactly those: it passes
        // with only them set, and fails without any one of them.
        for example in examples {
            let path = folder + "/examples/" + example
            let firstLine = try String(contentsOfFile: path, encoding: .utf8).prefix { $0 != "\n" }
            let declared =
                firstLine.firstMatch(of: /^# Needs in the environment: ([A-Z_, ]+) \(/).map {
                    $0.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                } ?? []
            let only = environment.filter { declared.contains($0.key) }
            #expect(only.count == declared.count, "\(example) names a variable the test does not know: \(declared)")
            let passed = try await runBinary(["check-config", "--config", path], environment: only)
            #expect(passed.status == 0, "\(example) needs more than its first line says (\(declared)):\n\(passed.stderr)")
            for name in declared {
                let without = try await runBinary(["check-config", "--config", path], environment: only.filter { $0.key != name })
                #expect(without.status == 64 && without.stderr.contains(name), "\(example) does not need \(name), which its first line names")
            }
        }
    }

    @Test func checkConfigPrintsEveryErrorWithLineAndColumnAndExits64() async throws {
        let fixtures = String(#filePath.dropLast("EndToEndTests/BinaryTests.swift".count)) + "CanaryTests/Fixtures/config/"
        let bad = try await runBinary(["check-config", "--config", fixtures + "bad-values.yaml"])
        #expect(bad.status == 64)
        let lines = bad.stderr.split(separator: "\n")
        #expect(lines.count == 18)  // every error of the file, as ConfigTests lists them
        #expect(lines.allSatisfy { $0.hasPrefix(fixtures + "bad-values.yaml:") })
        let good = try await runBinary(["check-config", "--config", fixtures + "good.yaml"], environment: ["APP_ENV_SECRET": "s"])
        #expect(good.status == 0)
        let missing = try await runBinary(["check-config", "--config", "/nonexistent/config.yaml"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("/nonexistent/config.yaml:1:1: cannot read the configuration: no such file"))
    }

    @Test func runServesMetricsThatPromtoolAcceptsAndStopsOnSIGTERM() async throws {
        let world = try World()
        let healthy = world.addResource("healthy")
        let noRole = world.addResource("no-role", grantRole: false)
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("healthy", healthy), ("no-role", noRole)], interval: "4s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let found = await child.await(30, in: { child.stderr }, metricsURL)
        let url = try #require(found, "no metrics URL in: \(child.stderr)")
        let base = String(url.dropLast("/metrics".count))

        // Wait for both resources' first rounds (spread over the 4 s interval: the second starts
        // 2 s in; the log line shows when).
        _ = await child.await(15, in: { child.stderr }) { $0.contains("no-role entra_id: probe failed") ? "" : nil }
        let response = try await get(url)
        #expect(response.status == 200)
        #expect(response.headers.filter { $0.name.lowercased() == "content-type" }.map(\.value) == ["text/plain; version=0.0.4; charset=utf-8"])
        var text = String(decoding: response.body, as: UTF8.self)
        #expect(text.contains(#"aoai_canary_auth_divergence{resource="no-role"} 1"#))
        // A failure counter appears with its reason's first failure, at 0 in the first scrape that
        // shows it, and counts from the next (so increase() sees that first failure).
        let permissionDenied = #"aoai_canary_probe_failures_total{resource="no-role",auth="entra_id",reason="permission_denied"}"#
        #expect(sampleValue(text, permissionDenied) != nil, "the counter appears with its first failure")
        let counted = Date().addingTimeInterval(10)
        while (sampleValue(text, permissionDenied) ?? 0) < 1, Date() < counted {
            try await Task.sleep(for: .milliseconds(1100))  // past the shared rendering's second
            text = String(decoding: try await get(url).body, as: UTF8.self)
        }
        #expect((sampleValue(text, permissionDenied) ?? 0) >= 1)
        #expect(!text.contains(#"aoai_canary_probe_failures_total{resource="healthy""#), "no counter for a reason that never happened")
        #expect(text.contains(#"aoai_canary_probe_success{resource="healthy",auth="entra_id"} 1"#))
        #expect(text.contains("aoai_canary_build_info{"))
        #expect(text.contains("process_resident_memory_bytes "))
        let promtool = try Promtool.checkMetrics(text)
        #expect(promtool.status == 0 && promtool.output.isEmpty, "promtool: \(promtool.output)")
        #expect(!text.contains(Names.secret) && !text.contains(Names.key))

        #expect(try await get(base + "/-/healthy").status == 200)
        #expect(try await get(base + "/-/ready").status == 200)
        let index = try await get(base + "/")
        #expect(index.status == 200 && String(decoding: index.body, as: UTF8.self).contains(#"href="/metrics""#))
        #expect(try await get(base + "/nope").status == 404)

        child.process.terminate()  // SIGTERM
        let status = await child.wait(seconds: 5)
        #expect(status == 0)
        let logs = child.stderr
        #expect(logs.contains("reason=permission_denied"))
        #expect(!logs.contains(Names.secret) && !logs.contains(Names.key))
    }

    /// The flag spellings of Prometheus exporters, as an admin used to them writes ARGS.
    @Test func runTakesTheExporterFlagSpellings() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("healthy", world.addResource("healthy"))], interval: "4s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child([
            "run", "--config.file=\(path)", "--web.listen-address", "127.0.0.1:0", "--log.format", "json", "--log.level", "debug",
            "--web.enable-lifecycle",
        ])
        let found = await child.await(30, in: { child.stderr }, metricsURL)
        let url = try #require(found, "no metrics URL in: \(child.stderr)")
        let reload = try await post(String(url.dropLast("/metrics".count)) + "/-/reload")
        #expect(reload.status == 200, "--web.enable-lifecycle turns on POST /-/reload")
        child.process.terminate()
        #expect(await child.wait(seconds: 5) == 0)
        let lines = child.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(!lines.isEmpty && lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "--log.format json:\n\(child.stderr)")
        // --log.level error keeps the info lines (the start banner, probe outcomes) out.
        let quiet = try Child(["run", "--config.file", path, "--web.listen-address", "127.0.0.1:0", "--log.format", "logfmt", "--log.level", "error"])
        try await Task.sleep(for: .seconds(1.5))
        quiet.process.terminate()
        #expect(await quiet.wait(seconds: 5) == 0)
        #expect(!quiet.stderr.contains("level=info"), "--log.level error:\n\(quiet.stderr)")
        let checked = try await runBinary(["check-config", "--config.file", path])
        #expect(checked.status == 0 && checked.stdout.hasPrefix(path + ": OK"), "\(checked.stderr)")
    }

    /// The README's smallest real configuration passes check-config, its secrets in files.
    @Test func theReadmesSmallestConfigurationIsValid() async throws {
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let yaml = try #require(readme.firstMatch(of: /The smallest real configuration.*?```yaml\n(.*?)```/.dotMatchesNewlines())?.1, "no configuration")
        let world = try World()
        for name in ["app.secret", "prod-eastus.key"] {
            try "s\n".write(toFile: world.directory + "/" + name, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: world.directory + "/" + name)
        }
        let path = world.directory + "/config.yaml"
        try String(yaml).replacingOccurrences(of: "/etc/aoai-canary/secrets", with: world.directory).write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runBinary(["check-config", "--config", path])
        #expect(result.status == 0 && result.stdout.contains("OK (1 credentials, 1 resources)"), "\(result.stdout)\(result.stderr)")
    }

    /// The README's demo table is the demo's own list, word for word as `demo` prints it.
    @Test func theReadmesDemoTableIsTheDemo() throws {
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let table = try #require(readme.firstMatch(of: /\| demo resource \| what it shows \|\n\|---\|---\|\n((?:\|[^\n]*\n)*)/)?.1, "no demo table")
        let rows = table.split(separator: "\n").map(String.init)
        let expected =
            DemoWorld.resources.map { "| `\($0.name)` | \($0.shows) |" } + DemoWorld.discoveredResources.map { "| `\($0)` | \(DemoWorld.discoveredShows) |" }
        #expect(rows == expected, "README.md's demo table should read:\n\(expected.joined(separator: "\n"))")
    }

    /// `--log.level warn`, the exporter toolkit's word: warnings are written, info lines are not.
    @Test func logLevelTakesWarn() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try "listen: \"127.0.0.1:0\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config.file", path, "--log.format", "logfmt", "--log.level", "warn"])
        let warned = await child.await(30, in: { child.stderr }) { $0.contains("level=warning msg=\"The configuration names no resources") ? "" : nil }
        child.process.terminate()
        #expect(await child.wait(seconds: 5) == 0)
        #expect(warned != nil, "\(child.stderr)")
        #expect(!child.stderr.contains("level=info"), "--log.level warn keeps the info lines out:\n\(child.stderr)")
    }

    /// `--web.listen-address` given twice listens on both addresses (IPv4 and IPv6 loopback here),
    /// and `--web.telemetry-path` moves the metrics, and the status page's link with them.
    @Test func repeatedListenAddressesAndTheTelemetryPath() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("healthy", world.addResource("healthy"))], interval: "4s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child([
            "run", "--config", path, "--web.listen-address", "127.0.0.1:0", "--web.listen-address=[::1]:0", "--web.telemetry-path", "/probe-metrics",
            "--log.format", "logfmt",
        ])
        let started = await child.await(30, in: { child.stderr }) { text in
            text.firstMatch(of: /metrics on (http:\/\/127\.0\.0\.1:\d+)\/probe-metrics and (http:\/\/\[::1\]:\d+)\/probe-metrics/).map { "\($0.1) \($0.2)" }
        }
        let bases = try #require(started, "not on both addresses: \(child.stderr)").split(separator: " ").map(String.init)
        for base in bases {
            let metrics = try await get(base + "/probe-metrics")
            #expect(metrics.status == 200 && String(decoding: metrics.body, as: UTF8.self).contains("aoai_canary_build_info"), "\(base)")
            #expect(try await get(base + "/metrics").status == 404, "the metrics moved from /metrics")
            #expect(try await get(base + "/-/healthy").status == 200, "the other pages stay")
            let page = String(decoding: try await get(base + "/").body, as: UTF8.self)
            #expect(page.contains("<a href=\"/probe-metrics\">metrics</a>"), "the page links to the metrics where they are")
        }
        child.process.terminate()
        #expect(await child.wait(seconds: 5) == 0)
    }

    /// Eight resources in a file, for the shard tests.
    static func shardedFile(_ world: World) throws -> (path: String, names: [String]) {
        let names = (1...8).map { "r\($0)" }
        let path = world.directory + "/config.yaml"
        try world.configText(resources: names.map { ($0, world.addResource($0)) }, interval: "60s").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, names)
    }

    /// The resources an agent run with `--shard shard` probed, and its log.
    static func probed(_ path: String, _ names: [String], shard: String, environment: [String: String] = [:]) async throws -> (Set<String>, String) {
        let child = try Child(
            ["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt", "--shard", shard], environment: environment)
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL), "\(child.stderr)")
        let text = String(decoding: try await get(url).body, as: UTF8.self)
        child.process.terminate()
        _ = await child.wait(seconds: 5)
        return (Set(names.filter { text.contains("aoai_canary_probes_total{resource=\"\($0)\",auth=\"api_key\"}") }), child.stderr)
    }

    /// `--shard`: two agents on one file probe disjoint halves that cover it.
    @Test func twoShardsProbeDisjointPartsThatCoverTheFile() async throws {
        let world = try World()
        let (path, names) = try Self.shardedFile(world)
        var probed: [Set<String>] = []
        for shard in ["1/2", "2/2"] {
            let (part, log) = try await Self.probed(path, names, shard: shard)
            #expect(log.contains("(shard \(shard) of 8 listed)"), "\(log)")
            probed.append(part)
        }
        #expect(probed[0].isDisjoint(with: probed[1]) && probed[0].union(probed[1]) == Set(names), "\(probed)")
        #expect(!probed[0].isEmpty && !probed[1].isEmpty)
    }

    /// `--shard ordinal/COUNT` in a StatefulSet: the pod's ordinal (POD_INDEX from the downward
    /// API, else the -N of its host name) picks its part, and the parts still cover the file once.
    /// A pod that cannot tell its ordinal stops with a usage error instead of probing everything.
    @Test func podsOfAStatefulSetTakeTheirShardFromTheirOrdinal() async throws {
        let world = try World()
        let (path, names) = try Self.shardedFile(world)
        var probed: [Set<String>] = []
        for environment in [["HOSTNAME": "aoai-canary-0"], ["HOSTNAME": "some-host", "POD_INDEX": "1"]] {
            probed.append(try await Self.probed(path, names, shard: "ordinal/2", environment: environment).0)
        }
        #expect(probed[0].isDisjoint(with: probed[1]) && probed[0].union(probed[1]) == Set(names), "\(probed)")
        for (environment, message) in [
            (["HOSTNAME": "laptop"], "cannot tell this pod's ordinal: POD_INDEX is not set"),
            (["HOSTNAME": "aoai-canary-2"], "this pod's ordinal is 2 (from the host name aoai-canary-2), beyond --shard ordinal/2"),
        ] {
            let result = try await runBinary(["run", "--config", path, "--shard", "ordinal/2"], environment: environment)
            #expect(result.status == 64 && result.stderr.contains(message), "\(result.stderr)")
        }
        let badCount = try await runBinary(["run", "--config", path, "--shard", "ordinal/x"], environment: ["POD_INDEX": "0"])
        #expect(badCount.status == 64 && badCount.stderr.contains("the COUNT of ordinal/COUNT must be a number from 1 to 1000"), "\(badCount.stderr)")
    }

    /// A fresh install's configuration names no resources: the agent runs, but says so in its
    /// log, on its status page and through /-/ready, instead of one info line.
    @Test func anEmptyConfigurationWarnsAndIsNotReady() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try "listen: \"127.0.0.1:0\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--log-format", "logfmt"])
        let found = await child.await(30, in: { child.stderr }, metricsURL)
        let base = String(try #require(found, "no metrics URL in: \(child.stderr)").dropLast("/metrics".count))
        let warned = await child.await(30, in: { child.stderr }) {
            $0.contains("level=warning msg=\"The configuration names no resources, so nothing is probed") ? "" : nil
        }
        #expect(warned != nil, "\(child.stderr)")
        let ready = try await get(base + "/-/ready")
        #expect(ready.status == 503 && String(decoding: ready.body, as: UTF8.self).contains("names no resources"))
        // Alive, though not ready, once the schedule has passed (the warning is logged before).
        var healthy = try await get(base + "/-/healthy").status
        for _ in 0..<100 where healthy != 200 {
            try await Task.sleep(for: .milliseconds(100))
            healthy = try await get(base + "/-/healthy").status
        }
        #expect(healthy == 200, "alive, though not ready")
        let page = String(decoding: try await get(base + "/").body, as: UTF8.self)
        #expect(page.contains("role=\"alert\">⚠ The configuration names no resources"), "\(page)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await get(base + "/status.json").body)) as? [String: Any])
        #expect(json["ready"] as? Bool == false && (json["notice"] as? String)?.contains("names no resources") == true, "\(json)")
        child.process.terminate()
        #expect(await child.wait(seconds: 5) == 0)
    }

    @Test func runRefusesAnInvalidConfig() async throws {
        let world = try World()
        let path = world.directory + "/broken.yaml"
        try "listen: nowhere\ninterval: soon\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runBinary(["run", "--config", path, "--log-format", "logfmt"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("\(path):1:9: listen: invalid listen address"))
        #expect(result.stderr.contains("\(path):2:11: interval: invalid duration"))
    }

    /// The demo reads its directory: the secret that expires in 9 days, and the workload
    /// identity whose namespace no federated credential trusts, named with what differs.
    @Test func demoShowsTheDirectorysFindings() async throws {
        let child = try Child(["demo", "--listen", "127.0.0.1:0"])
        let url = try #require(await child.await(30, in: { child.stdout }, metricsURL), "\(child.stdout)\n\(child.stderr)")
        var text = ""
        for _ in 0..<100 {
            text = String(decoding: try await get(url).body, as: UTF8.self)
            if sampleValue(text, #"aoai_canary_federated_credential_match{credential="aks"}"#) != nil,
                sampleValue(text, #"aoai_canary_credential_in_directory{credential="app"}"#) != nil
            {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(sampleValue(text, #"aoai_canary_federated_credential_match{credential="aks"}"#) == 0, "\(text)")
        #expect(sampleValue(text, #"aoai_canary_credential_in_directory{credential="app"}"#) == 1)
        let expiry = try #require(
            sampleValue(text, #"aoai_canary_credential_expiry_timestamp_seconds{credential="app",kind="client_secret",source="directory"}"#))
        let days = (expiry - Date().timeIntervalSince1970) / 86400
        #expect(days > 8.9 && days <= 9, "\(days) days")
        let log = child.stdout + child.stderr
        #expect(
            log.contains(
                "subject is system:serviceaccount:prod:aoai-canary; the federated credential aks-default expects system:serviceaccount:default:aoai-canary"),
            "\(log)")
        // The README's diagnose example is what diagnose prints for the demo (dates aside).
        let command = try #require(child.stdout.firstMatch(of: /diagnose: +(\S+) diagnose --config (\S+)\n/), "\(child.stdout)")
        let diagnosis = try await runBinary(
            ["diagnose", "--config", String(command.2), "--resource", "workload-identity"], environment: ["PATH": "/usr/bin:/bin"])
        func undated(_ text: Substring) -> String { String(text).replacing(/\d{4}-\d\d-\d\dT[0-9:.]+Z/, with: "DATE") }
        let printed = Set(diagnosis.stdout.split(separator: "\n").map(undated))
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let example = try #require(readme.firstMatch(of: /```\n(  \[FAIL\] 6\. .*?)```/.dotMatchesNewlines())?.1, "no step 6 example in README.md")
        for line in example.split(separator: "\n") {
            #expect(printed.contains(undated(line)), "README.md's diagnose example shows what diagnose does not print: \(line)\n\(diagnosis.stdout)")
        }
        child.process.interrupt()
        #expect(await child.wait(seconds: 5) == 0)
    }

    @Test func demoShowsTheQuestionsCaseWithinTwoIntervals() async throws {
        let child = try Child(["demo", "--listen", "127.0.0.1:0"])
        let found = await child.await(30, in: { child.stdout }, metricsURL)
        let url = try #require(found, "no metrics URL in: \(child.stdout)\n\(child.stderr)")
        // The banner names the status page, and a diagnose command to copy with this binary's path.
        let base = String(url.dropLast("metrics".count))
        #expect(child.stdout.contains("  status page:    \(base)\n"), "\(child.stdout)")
        let absoluteBinary = URL(fileURLWithPath: binaryPath).resolvingSymlinksInPath().path
        let diagnose = try #require(child.stdout.firstMatch(of: /diagnose: +(\S+) diagnose --config (\S+)\n/), "\(child.stdout)")
        #expect(String(diagnose.1) == absoluteBinary && FileManager.default.fileExists(atPath: String(diagnose.2)), "\(child.stdout)")
        var text = ""
        let deadline = Date().addingTimeInterval(10)  // two 5 s intervals
        while Date() < deadline {
            text = String(decoding: try await get(url).body, as: UTF8.self)
            // Discovery's first pass swaps the agent at once, cancelling rounds in flight: wait for them all.
            if text.contains(#"aoai_canary_auth_divergence{resource="no-data-role"} 1"#),
                text.contains(#"aoai_canary_probe_success{resource="local-auth-disabled",auth="entra_id"} 1"#),
                text.contains(#"aoai_canary_probe_success{resource="healthy",auth="entra_id"} 1"#),
                text.contains(#"aoai_canary_auth_divergence{resource="wrong-audience"} 1"#),
                text.contains(#"aoai_canary_data_action_granted{resource="no-data-role""#)  // Resource Manager read, for the docs' sample
            {
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(text.contains(#"aoai_canary_auth_divergence{resource="no-data-role"} 1"#))
        #expect((sampleValue(text, #"aoai_canary_probe_failures_total{resource="no-data-role",auth="entra_id",reason="permission_denied"}"#) ?? 0) >= 1)
        #expect(text.contains(#"aoai_canary_probe_success{resource="healthy",auth="api_key"} 1"#))
        #expect(text.contains(#"aoai_canary_probe_success{resource="healthy",auth="entra_id"} 1"#))
        #expect(text.contains(#"aoai_canary_auth_divergence{resource="healthy"} 0"#))
        #expect(text.contains(#"aoai_canary_auth_divergence{resource="wrong-audience"} 1"#))
        #expect(text.contains(#"aoai_canary_probe_success{resource="local-auth-disabled",auth="api_key"} 0"#))
        let promtool = try Promtool.checkMetrics(text)
        #expect(promtool.status == 0 && promtool.output.isEmpty, "promtool: \(promtool.output)")
        // The series budget: a healthy resource with both canaries and the control plane exports
        // the 14 series the README lists, and at most 25 (issue 20).
        let healthy = text.split(separator: "\n").filter { $0.contains(#"resource="healthy""#) }.map { String($0.prefix { $0 != "{" }) }
        #expect(healthy.count <= 25 && healthy.count == 14, "\(healthy.count) series: \(healthy)")
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: "## Series per resource\n"), "no series section in README.md")
        let budget = readme[section.upperBound...].prefix { $0 != "#" }
        for name in Set(healthy) { #expect(budget.contains("`\(name)`"), "README.md's series list lacks \(name)") }
        // docs/metrics.md's sample is this scrape, cut: each HELP and TYPE line as served, each
        // series of a family and label set the demo serves (values, the build's revision and the
        // demo's times among them, change from run to run).
        func shape(_ line: Substring) -> String {
            if line.hasPrefix("#") { return String(line) }
            let name = line.prefix { $0 != "{" && $0 != " " }
            let labels = line.matches(of: /([a-z_]+)="(?:[^"\\]|\\.)*"/).map { String($0.1) }
            return name + "{" + labels.joined(separator: ",") + "}"
        }
        let served = Set(text.split(separator: "\n").map(shape))
        let documentation = try String(contentsOfFile: repositoryRoot + "/docs/metrics.md", encoding: .utf8)
        let sampleBlock = /## What `\/metrics` looks like.*?```\n(.*?)```/.dotMatchesNewlines()
        let sample = try #require(documentation.firstMatch(of: sampleBlock)?.1, "no sample in docs/metrics.md")
        for line in sample.split(separator: "\n") {
            #expect(served.contains(shape(line)), "docs/metrics.md shows what the demo does not serve: \(line)")
        }
        child.process.interrupt()  // Ctrl-C
        #expect(await child.wait(seconds: 5) == 0)
    }
}
