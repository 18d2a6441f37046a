// The shipped rules and Alertmanager configuration, end to end: the agent scraped by Debian's
// Prometheus with the rules, alerts sent to Debian's Alertmanager with dashboards/alertmanager.yml,
// notifications received by a webhook in the test.
import AzureSimulator
import CanaryTestSupport
import Foundation
import HTTPServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

let alertmanagerConfigPath = repositoryRoot + "/dashboards/alertmanager.yml"
/// Debian's prometheus-alertmanager package (`make deps`), which also brings amtool.
let alertmanagerPath = "/usr/bin/prometheus-alertmanager"
let amtoolPath = "/usr/bin/amtool"

/// The rule file with every duration divided by 20 (a 5m `for` becomes 15s, a 15m window 45s),
/// so that a test sees minutes of alerting in seconds. The ratios between the rules stay as
/// shipped; only the agent's 30 s between token attempts stays real, and 45 s windows still hold
/// one.
func scaledRules(_ text: String) -> String {
    var scaled = text
    for pattern in [#"for: (\d+)m"#, #"\[(\d+)m\]"#] {  // `for:` and `keep_firing_for:`
        let regex = try! NSRegularExpression(pattern: pattern)
        for match in regex.matches(in: scaled, range: NSRange(scaled.startIndex..., in: scaled)).reversed() {
            let whole = Range(match.range, in: scaled)!
            let minutes = Int(scaled[Range(match.range(at: 1), in: scaled)!])!
            let seconds = minutes * 3
            scaled.replaceSubrange(whole, with: pattern.hasPrefix("for") ? "for: \(seconds)s" : "[\(seconds)s]")
        }
    }
    return scaled
}

/// One webhook notification as Alertmanager posts it.
struct Notification: Sendable {
    var receiverPath: String
    var status: String
    var groupLabels: [String: String]
    var alerts: [(name: String, status: String, labels: [String: String])]
}

@Suite(.serialized) struct AlertmanagerTests {
    @Test func amtoolAcceptsTheShippedConfiguration() async throws {
        guard FileManager.default.isExecutableFile(atPath: amtoolPath) else {
            print("skipped: \(amtoolPath) is missing (Debian's prometheus-alertmanager; make deps installs it)")
            return
        }
        let result = try await runTool(amtoolPath, ["check-config", alertmanagerConfigPath])
        #expect(result.status == 0, "amtool check-config:\n\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("3 inhibit rules"), "\(result.stdout)")
    }

    /// The issue's case: one expired client secret behind three resources whose keys work. Every
    /// resource's Entra ID canary fails (token_acquisition_failed), and the credential has no
    /// token. The pager gets one notification group, the credential's; the three resources'
    /// critical alerts fire in Prometheus but Alertmanager inhibits them. A new secret and a reload
    /// resolve the group.
    @Test func oneExpiredSecretBehindThreeResourcesIsOnePage() async throws {
        guard FileManager.default.isExecutableFile(atPath: alertmanagerPath) else {
            print("skipped: \(alertmanagerPath) is missing (Debian's prometheus-alertmanager; make deps installs it)")
            return
        }
        let started = Date()
        let world = try World()
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_222 }
        // A fourth resource is throttled on both canaries: while the token is gone its Entra ID
        // canary fails with token_acquisition_failed, and after the fix only with throttled. The
        // failures counted before the fix must not page it afterwards (issue 19).
        let resources =
            ["east", "west", "north"].map { (name: $0, endpoint: world.addResource($0)) }
            + [(name: "throttled", endpoint: world.addResource("throttled") { $0.throttleRetryAfterSeconds = 1 })]
        let configPath = world.directory + "/config.yaml"
        try world.configText(resources: resources, interval: "1s").write(toFile: configPath, atomically: true, encoding: .utf8)
        let agent = try Child(["run", "--config", configPath, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        defer { stopProcess(agent.process) }
        let metrics = try #require(await agent.await(30, in: { agent.stderr }, metricsURL), "agent did not start: \(agent.stderr)")
        let target = String(metrics.dropFirst("http://".count).dropLast("/metrics".count))

        // The webhook receiver: every notification, in order.
        let received = Locked<[Notification]>([])
        let webhook = try HTTPServer(host: "127.0.0.1", port: 0) { request in
            if let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] {
                let alerts = (json["alerts"] as? [[String: Any]] ?? []).map { alert -> (String, String, [String: String]) in
                    let labels = alert["labels"] as? [String: String] ?? [:]
                    return (labels["alertname"] ?? "", alert["status"] as? String ?? "", labels)
                }
                received.withLock {
                    $0.append(
                        Notification(
                            receiverPath: request.path, status: json["status"] as? String ?? "",
                            groupLabels: json["groupLabels"] as? [String: String] ?? [:], alerts: alerts))
                }
            }
            return HTTPResponse(status: 200)
        }
        defer { webhook.stop() }

        // Alertmanager with the shipped configuration; only its timers are shortened and its
        // receivers pointed at the webhook.
        let amPort = try freeLoopbackPort()
        let amDirectory = world.directory + "/alertmanager"
        try FileManager.default.createDirectory(atPath: amDirectory + "/data", withIntermediateDirectories: true)
        let amConfig = try String(contentsOfFile: alertmanagerConfigPath, encoding: .utf8)
            .replacingOccurrences(of: "group_wait: 30s", with: "group_wait: 1s")
            .replacingOccurrences(of: "group_interval: 5m", with: "group_interval: 1s")
            .replacingOccurrences(of: "http://127.0.0.1:5001/", with: "http://127.0.0.1:\(webhook.boundAddress.port)/")
        try amConfig.write(toFile: amDirectory + "/alertmanager.yml", atomically: true, encoding: .utf8)
        let alertmanager = try Child(
            executable: alertmanagerPath,
            [
                "--config.file=\(amDirectory)/alertmanager.yml", "--storage.path=\(amDirectory)/data",
                "--web.listen-address=127.0.0.1:\(amPort)", "--cluster.listen-address=", "--log.level=warn",
            ])
        defer { stopProcess(alertmanager.process) }

        let rulesCopy = world.directory + "/aoai-canary.rules.yml"
        try scaledRules(try String(contentsOfFile: rulesPath, encoding: .utf8)).write(toFile: rulesCopy, atomically: true, encoding: .utf8)
        let prometheus = try PrometheusServer(
            scraping: target, rules: rulesCopy,
            topLevel: """
                alerting:
                  alertmanagers:
                    - static_configs:
                        - targets: ["127.0.0.1:\(amPort)"]
                """, arguments: ["--rules.alert.resend-delay=1s"])
        defer { prometheus.stop() }

        // The alerts firing in Prometheus; the throttled resource's own warning is not among them.
        func firing() async throws -> [[String: String]] {
            let alerts = ((try await prometheus.api("/api/v1/alerts")).data as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
            return alerts.filter { $0["state"] as? String == "firing" }.compactMap { $0["labels"] as? [String: String] }
                .filter { $0["alertname"] != "AoaiCanaryProbeDisrupted" }
        }
        func log() -> String {
            let notes = received.withLock { $0 }.map {
                "\($0.receiverPath) \($0.status) \($0.groupLabels) \($0.alerts.map { "\($0.name)/\($0.status)/\($0.labels["resource"] ?? "-")" })"
            }
            let notifications = notes.joined(separator: "\n")
            return
                "notifications:\n\(notifications)\nprometheus:\n\(prometheus.log)\nalertmanager:\n\(alertmanager.stderr)\nagent:\n\(agent.stderr.suffix(3000))"
        }

        // Broken: wait until the three resources' critical alerts fire in Prometheus, then give
        // Alertmanager two more group intervals.
        var active: [[String: String]] = []
        repeat {
            try await Task.sleep(for: .seconds(1))
            active = try await firing()
        } while active.filter({ $0["alertname"] == "AoaiCanaryEntraIdDivergence" }).count < 3 && Date().timeIntervalSince(started) < 90
        let divergences = active.filter { $0["alertname"] == "AoaiCanaryEntraIdDivergence" }
        #expect(Set(divergences.compactMap { $0["resource"] }) == ["east", "west", "north"], "\(active)\n\(log())")
        #expect(divergences.allSatisfy { $0["credential"] == "app" && $0["severity"] == "critical" }, "\(divergences)")
        #expect(active.contains { $0["alertname"] == "AoaiCanaryTokenUnavailable" && $0["credential"] == "app" }, "\(active)\n\(log())")
        #expect(!active.contains { $0["alertname"] == "AoaiCanaryEntraIdRegressed" }, "\(active)")
        // The credential's page reaches the webhook (group_wait 1 s), and two more seconds pass in
        // which a per-resource page would have come too.
        let paged = Date()
        while !received.withLock({ $0.contains { $0.receiverPath.hasSuffix("/critical") && $0.alerts.contains { $0.name == "AoaiCanaryTokenUnavailable" } } }),
            Date().timeIntervalSince(paged) < 20
        {
            try await Task.sleep(for: .milliseconds(250))
        }
        try await Task.sleep(for: .seconds(2))

        let whileBroken = received.withLock { $0 }
        let pages = whileBroken.filter { $0.receiverPath.hasSuffix("/critical") && $0.status == "firing" }
        let pagedGroups = Set(pages.map { $0.groupLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") })
        #expect(pagedGroups.count == 1, "one critical notification group: \(pagedGroups)\n\(log())")
        #expect(pages.first?.groupLabels["credential"] == "app" && pages.first?.groupLabels["resource"] == nil, "\(log())")
        #expect(pages.allSatisfy { $0.alerts.allSatisfy { !$0.name.hasPrefix("AoaiCanaryEntraId") } }, "no resource pages:\n\(log())")
        #expect(pages.contains { $0.alerts.contains { $0.name == "AoaiCanaryTokenUnavailable" } }, "\(log())")

        // Alertmanager holds the three per-resource alerts, inhibited.
        let amAlerts = try JSONSerialization.jsonObject(with: Data(try await get("http://127.0.0.1:\(amPort)/api/v2/alerts").body)) as? [[String: Any]] ?? []
        let inhibited = amAlerts.filter { ($0["labels"] as? [String: String])?["alertname"] == "AoaiCanaryEntraIdDivergence" }
        #expect(inhibited.count == 3, "\(amAlerts)")
        for alert in inhibited {
            let status = alert["status"] as? [String: Any] ?? [:]
            #expect(status["state"] as? String == "suppressed" && !(status["inhibitedBy"] as? [String] ?? []).isEmpty, "\(alert)")
        }

        // Fixed: a new secret in the app registration and in the agent's file, then a reload.
        world.simulator.updateApplication(clientID: Names.client) {
            $0.tokenError = nil
            $0.clientSecret = "the-new-secret-5e6f"
        }
        try "the-new-secret-5e6f\n".write(toFile: world.directory + "/app.secret", atomically: true, encoding: .utf8)
        kill(agent.process.processIdentifier, SIGHUP)
        var resolved = false
        let fixedAt = Date()
        repeat {
            try await Task.sleep(for: .seconds(1))
            resolved = received.withLock { $0 }.contains {
                $0.receiverPath.hasSuffix("/critical") && $0.status == "resolved" && $0.groupLabels["credential"] == "app" && $0.groupLabels["resource"] == nil
            }
            if resolved { resolved = try await firing().isEmpty }
            // The token alerts keep firing 15 s (keep_firing_for, scaled) after the token is back; the
            // rest is group intervals and, on a loaded machine, slow rounds.
        } while !resolved && Date().timeIntervalSince(fixedAt) < 60
        #expect(resolved, "the credential's page resolves once the secret is fixed:\n\(log())")
        let stillFiring = try await firing()
        #expect(stillFiring.isEmpty, "\(stillFiring)")

        // Recovered: for as long as the failures from before the fix stay in the rules' window
        // (15 minutes, scaled to 45 s) and an alert's `for` on top, nothing new is notified but
        // resolutions, and the throttled resource's disruption warning.
        let recoveredAt = received.withLock { $0.count }
        try await Task.sleep(for: .seconds(60))
        let afterRecovery = received.withLock { Array($0.dropFirst(recoveredAt)) }
        let newAlerts = afterRecovery.flatMap { $0.alerts }.filter { $0.status == "firing" && $0.name != "AoaiCanaryProbeDisrupted" }
        #expect(newAlerts.isEmpty, "notified after the recovery: \(newAlerts.map { "\($0.name)/\($0.labels["resource"] ?? "-")" })\n\(log())")
        let firingAfterRecovery = try await firing()
        #expect(firingAfterRecovery.isEmpty, "\(firingAfterRecovery)")
        let all = received.withLock { $0 }
        #expect(all.allSatisfy { $0.alerts.allSatisfy { !$0.name.hasPrefix("AoaiCanaryEntraId") } }, "no resource was ever notified:\n\(log())")
    }
}
