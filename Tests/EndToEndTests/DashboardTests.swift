// The Grafana dashboard and the alerting rules against real data: the demo scraped by Debian's Prometheus.
import Foundation
import HTTPServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

let dashboardPath = repositoryRoot + "/dashboards/aoai-canary.json"
/// Debian's prometheus package (`make deps`), which also brings promtool.
let prometheusPath = "/usr/bin/prometheus"

/// The dashboard file as JSON.
func loadDashboard() throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: dashboardPath))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Every panel, rows' nested panels included, rows themselves left out.
func dashboardPanels(_ dashboard: [String: Any]) -> [[String: Any]] {
    func flatten(_ panels: [[String: Any]]) -> [[String: Any]] {
        panels.flatMap { panel -> [[String: Any]] in
            let nested = flatten(panel["panels"] as? [[String: Any]] ?? [])
            return (panel["type"] as? String == "row" ? [] : [panel]) + nested
        }
    }
    return flatten(dashboard["panels"] as? [[String: Any]] ?? [])
}

/// A panel query as Prometheus gets it: Grafana's variables replaced by what "All" and a short range give.
func substituteVariables(_ expr: String) -> String {
    var text = expr
    for (name, value) in [
        ("__rate_interval", "1m"), ("__interval", "1m"), ("__range", "5m"), ("resource", ".*"), ("credential", ".*"), ("job", ".*"), ("instance", ".*"),
    ] {
        text = text.replacingOccurrences(of: "${\(name)}", with: value).replacingOccurrences(of: "$\(name)", with: value)
    }
    return text
}

/// Percent-encodes a query parameter value.
func queryEncoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? text
}

/// A Prometheus started for one test on a free loopback port, with its own storage; stopped when released.
final class PrometheusServer: @unchecked Sendable {
    let directory: String
    let base: String
    private let tool: Child

    /// `job` is extra YAML for the scrape job (scheme, tls_config, basic_auth), indented by 4;
    /// `topLevel` more top-level sections (alerting), `arguments` more flags.
    /// `scrapeInterval` is also the scrape timeout: a slow target (bcrypt on every scrape) under
    /// a loaded machine needs more than a second.
    init(scraping target: String, rules: String?, job: String = "", topLevel: String = "", arguments: [String] = [], scrapeInterval: String = "1s") throws {
        directory = NSTemporaryDirectory() + "aoai-canary-prometheus-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try """
        global:
          scrape_interval: \(scrapeInterval)
          scrape_timeout: \(scrapeInterval)
          evaluation_interval: 1s
        rule_files:
        \(rules.map { "  - \($0)" } ?? "  []")
        scrape_configs:
          - job_name: aoai-canary
            scrape_interval: \(scrapeInterval)
            static_configs:
              - targets: ["\(target)"]
        \(job)
        \(topLevel)

        """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let port = try freeLoopbackPort()
        base = "http://127.0.0.1:\(port)"
        tool = try Child(
            executable: prometheusPath,
            [
                "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                "--web.listen-address=127.0.0.1:\(port)", "--web.enable-lifecycle", "--log.level=warn",
            ] + arguments)
    }

    deinit { stop() }

    func stop() {
        stopProcess(tool.process)
        try? FileManager.default.removeItem(atPath: directory)
    }

    var log: String { tool.stderr }
    var isRunning: Bool { tool.process.isRunning }

    /// GETs an API path and returns its `data`, or the error Prometheus gave.
    func api(_ pathAndQuery: String) async throws -> (data: Any?, error: String?) {
        let response = try await get(base + pathAndQuery)
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard response.status == 200, json?["status"] as? String == "success" else {
            return (nil, "HTTP \(response.status): \(json?["errorType"] ?? "") \(json?["error"] ?? String(decoding: response.body, as: UTF8.self))")
        }
        return (json?["data"], nil)
    }

    /// An instant query: the result's samples, or the error.
    func query(_ expr: String) async throws -> (samples: [[String: Any]], error: String?) {
        let answer = try await api("/api/v1/query?query=" + queryEncoded(expr))
        if let error = answer.error { return ([], error) }
        let data = answer.data as? [String: Any]
        if let vector = data?["result"] as? [[String: Any]] { return (vector, nil) }
        return (data?["result"] == nil ? [] : [["value": data?["result"] as Any]], nil)  // a scalar
    }
}

/// What one evaluation of the dashboard's queries found.
struct PanelReport {
    var errors: [String] = []
    var empty: [(title: String, metrics: Set<String>)] = []
}

@Suite(.serialized) struct DashboardTests {
    @Test func theDashboardImportsWithThePrometheusInputAndItsVariables() throws {
        let dashboard = try loadDashboard()
        #expect(dashboard["uid"] as? String == "aoai-canary")
        #expect(dashboard["title"] as? String == "aoai-canary")
        #expect(dashboard["schemaVersion"] as? Int == 39)
        let inputs = dashboard["__inputs"] as? [[String: Any]] ?? []
        #expect(
            inputs.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["type"] as? String == "datasource" && $0["pluginId"] as? String == "prometheus" })

        let panels = dashboardPanels(dashboard)
        #expect(panels.count >= 7)
        let ids = (dashboard["panels"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
        #expect(Set(ids).count == ids.count, "duplicate panel ids")
        var exprs: [String] = []
        for panel in panels {
            let title = panel["title"] as? String ?? "?"
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "panel \(title)")
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "panel \(title) has no query")
            for target in targets {
                #expect((target["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "a query of \(title)")
                let expr = target["expr"] as? String ?? ""
                #expect(!expr.isEmpty, "a query of \(title) has no expr")
                exprs.append(expr)
            }
        }
        for expr in exprs {
            let selectors = expr.matches(of: /(aoai_canary_[a-z_]+|ALERTS)\{[^}]*\}/).map { String($0.output.0) }
            #expect(
                !selectors.isEmpty && selectors.allSatisfy { $0.contains(#"job=~"$job",instance=~"$instance""#) },
                "a query ignores the job and instance variables: \(expr)")
        }
        #expect(
            panels.contains {
                $0["type"] as? String == "state-timeline" && (($0["targets"] as? [[String: Any]])?.first?["expr"] as? String)?.contains("ALERTS{") == true
            },
            "no panel shows the alerts' state over time")
        for metric in [
            "aoai_canary_probe_success", "aoai_canary_auth_divergence", "aoai_canary_probe_failures_total",
            "aoai_canary_probe_http_duration_seconds", "aoai_canary_token_expiry_timestamp_seconds",
            "aoai_canary_credential_expiry_timestamp_seconds", "aoai_canary_token_refresh_failures_total",
        ] {
            #expect(exprs.contains { $0.contains(metric + "{") || $0.contains(metric + "[") || $0.hasSuffix(metric) }, "no panel shows \(metric)")
        }

        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        // Several canary hosts (one per network location) feed one Prometheus: job and instance
        // come first, and the others list what the chosen hosts have.
        let names = variables.compactMap { $0["name"] as? String }
        #expect(names == ["DS_PROMETHEUS", "job", "instance", "resource", "credential"], "\(names)")
        for (name, definition) in [
            ("job", "label_values(aoai_canary_build_info, job)"),
            ("instance", #"label_values(aoai_canary_build_info{job=~"$job"}, instance)"#),
            ("resource", #"label_values(aoai_canary_probe_success{job=~"$job",instance=~"$instance"}, resource)"#),
            ("credential", #"label_values(aoai_canary_token_expiry_timestamp_seconds{job=~"$job",instance=~"$instance"}, credential)"#),
        ] {
            let variable = try #require(variables.first { $0["name"] as? String == name }, "no variable \(name)")
            #expect(variable["type"] as? String == "query")
            #expect(variable["definition"] as? String == definition)
            #expect((variable["query"] as? [String: Any])?["query"] as? String == definition)
            #expect(variable["multi"] as? Bool == true && variable["includeAll"] as? Bool == true, "\(name): multi and include all")
            #expect((variable["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}")
        }
    }

    /// The demo scraped every second by Debian's Prometheus with the rule file loaded; then every
    /// panel's queries must evaluate, and every panel show data, except one whose metric the demo
    /// does not export (it has no series in the demo's scrape, only HELP and TYPE: the credential
    /// expiry, since the demo's credentials set no secret_expires).
    @Test func everyPanelShowsTheDemosDataThroughPrometheus() async throws {
        let started = Date()
        let demo = try Child(["demo", "--listen", "127.0.0.1:0"])
        defer { stopProcess(demo.process) }
        let found = await demo.await(30, in: { demo.stdout }, metricsURL)
        let metrics = try #require(found, "no metrics URL in: \(demo.stdout)\n\(demo.stderr)")
        let target = String(metrics.dropFirst("http://".count).dropLast("/metrics".count))

        let prometheus = try PrometheusServer(scraping: target, rules: rulesPath)
        defer { prometheus.stop() }
        var ready = false
        while !ready, prometheus.isRunning, Date().timeIntervalSince(started) < 15 {
            ready = (try? await get(prometheus.base + "/-/ready"))?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(200)) }
        }
        try #require(ready, "Prometheus did not get ready:\n\(prometheus.log)")

        let dashboard = try loadDashboard()
        let panels = dashboardPanels(dashboard)
        let expectedRules = alertNames(inRules: try String(contentsOfFile: rulesPath, encoding: .utf8))

        // Poll until every panel has data and the alerts have settled (both divergences pending,
        // and the start-up's "not probing" gone: its window holds one probe once every resource has
        // had a round), or 40 s have passed; then judge the last round.
        var report = PanelReport()
        var alerts: [[String: Any]] = []
        var scrape = ""
        repeat {
            try await Task.sleep(for: .seconds(1))
            scrape = String(decoding: try await get(metrics).body, as: UTF8.self)
            report = PanelReport()
            for panel in panels {
                let title = panel["title"] as? String ?? "?"
                var hasData = false
                var metricNames = Set<String>()
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    let expr = substituteVariables(target["expr"] as? String ?? "")
                    if expr.contains("$") {
                        report.errors.append("\(title): a variable is left in \(expr)")
                        continue
                    }
                    for match in expr.matches(of: /aoai_canary_[a-z_]+/) { metricNames.insert(String(match.output)) }
                    let result = try await prometheus.query(expr)
                    if let error = result.error { report.errors.append("\(title): \(expr): \(error)") }
                    hasData = hasData || !result.samples.isEmpty
                }
                if !hasData { report.empty.append((title, metricNames)) }
            }
            alerts = ((try await prometheus.api("/api/v1/alerts")).data as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
        } while (!report.empty.allSatisfy { notExported($0.metrics, in: scrape) } || !alertsSettled(alerts)) && Date().timeIntervalSince(started) < 40

        #expect(report.errors.isEmpty, "query errors:\n\(report.errors.joined(separator: "\n"))")
        for panel in report.empty {
            // Excused only when a metric it reads is one the agent declares (HELP) but the demo has no series of.
            let excused = notExported(panel.metrics, in: scrape)
            #expect(excused, "panel \"\(panel.title)\" shows no data (metrics \(panel.metrics.sorted()))")
        }
        #expect(report.empty.count <= 1, "panels without data: \(report.empty.map(\.title))")

        // The variables' queries list the demo's resources and credentials.
        for (label, metric, value) in [
            ("resource", "aoai_canary_probe_success", "no-data-role"),
            ("credential", "aoai_canary_token_expiry_timestamp_seconds", "app-wrong-scope"),
        ] {
            let answer = try await prometheus.api("/api/v1/label/\(label)/values?match%5B%5D=\(queryEncoded(metric))")
            #expect(answer.error == nil, "label_values(\(metric), \(label)): \(answer.error ?? "")")
            #expect((answer.data as? [String] ?? []).contains(value), "label_values(\(metric), \(label)) = \(answer.data ?? "nothing")")
        }

        // The rule file loaded, and every rule evaluates without error on the agent's real output.
        let groups = ((try await prometheus.api("/api/v1/rules")).data as? [String: Any])?["groups"] as? [[String: Any]] ?? []
        let group = try #require(groups.first { $0["name"] as? String == "aoai-canary" }, "rule group aoai-canary not loaded:\n\(prometheus.log)")
        let rules = group["rules"] as? [[String: Any]] ?? []
        #expect(rules.compactMap { $0["name"] as? String } == expectedRules)
        for rule in rules {
            let name = rule["name"] as? String ?? "?"
            #expect(rule["health"] as? String == "ok", "\(name): \(rule["health"] ?? "") \(rule["lastError"] ?? "")")
            #expect(["warning", "critical"].contains((rule["labels"] as? [String: String])?["severity"] ?? ""), "\(name): severity")
            let annotations = rule["annotations"] as? [String: String] ?? [:]
            #expect(!(annotations["summary"] ?? "").isEmpty && !(annotations["description"] ?? "").isEmpty, "\(name): summary and description")
        }

        // The question's case is on its way to firing with its reason; nothing about the healthy
        // resource, and the key canary refused by design raises nothing.
        let summary = alerts.map { "\($0["labels"] ?? "") \($0["state"] ?? "")" }.joined(separator: "\n")
        #expect(questionsCasePending(alerts), "alerts:\n\(summary)")
        #expect(hasAlert(alerts, "AoaiCanaryEntraIdDivergence", ["resource": "wrong-audience"], reason: "token_audience_mismatch"), "alerts:\n\(summary)")
        #expect(!alerts.contains { ($0["labels"] as? [String: String])?["resource"] == "healthy" }, "alerts:\n\(summary)")
        #expect(!hasAlert(alerts, "AoaiCanaryKeyFailing", ["resource": "local-auth-disabled"]), "alerts:\n\(summary)")
        #expect(!alerts.contains { ($0["labels"] as? [String: String])?["alertname"]?.hasPrefix("AoaiCanaryTarget") == true }, "alerts:\n\(summary)")
        #expect(!hasAlert(alerts, "AoaiCanaryNotProbing", [:]), "alerts:\n\(summary)")
    }
}

/// True when one of `metrics` is declared in the scrape (HELP) but has no series there.
func notExported(_ metrics: Set<String>, in scrape: String) -> Bool {
    metrics.contains { scrape.contains("# HELP \($0) ") && !scrape.contains("\n\($0){") && !scrape.contains("\n\($0) ") }
}

/// An active (pending or firing) alert with these labels, whose summary names `reason` when one is given
/// (the reason is an annotation, never a label: a label would reset the alert when the reason changes).
func hasAlert(_ alerts: [[String: Any]], _ name: String, _ labels: [String: String], reason: String? = nil) -> Bool {
    alerts.contains { alert in
        let actual = alert["labels"] as? [String: String] ?? [:]
        let summary = (alert["annotations"] as? [String: String])?["summary"] ?? ""
        return actual["alertname"] == name && labels.allSatisfy { actual[$0.key] == $0.value }
            && actual["reason"] == nil && reason.map { summary.contains("(\($0))") } != false
    }
}

/// The question's case, no-data-role's divergence, with its reason.
func questionsCasePending(_ alerts: [[String: Any]]) -> Bool {
    hasAlert(alerts, "AoaiCanaryEntraIdDivergence", ["resource": "no-data-role", "credential": "app", "severity": "critical"], reason: "permission_denied")
}

/// What the demo's alerts look like once every resource has had two rounds under Prometheus.
func alertsSettled(_ alerts: [[String: Any]]) -> Bool {
    questionsCasePending(alerts)
        && hasAlert(alerts, "AoaiCanaryEntraIdDivergence", ["resource": "wrong-audience"], reason: "token_audience_mismatch")
        && !hasAlert(alerts, "AoaiCanaryNotProbing", [:])
}
