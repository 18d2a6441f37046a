// `--web.config.file`: the binary serves its endpoint over TLS with client certificates and basic
// auth, checked with real curl and scraped by a real Prometheus.
import Foundation
import Testing

/// bcrypt hashes (cost 10) of the scrapers' test passwords, as htpasswd and Python's crypt make them.
let prometheusPassword = "scrape-secret"
let prometheusHash = "$2b$10$QAo7yuDT4OEp1/GOsrvy1uOowfUTQcfEXLNf1Gjj4liT0a.2BBYEK"
let grafanaPassword = "grafana-secret"
let grafanaHash = "$2y$10$Qk9vYmFyQmF6UXV4Q29yZuSlj5hCEtRctPDi3pTJOGVQxI/2ATgy6"

/// A folder with the test CA, a server certificate for 127.0.0.1, client certificates, a web
/// configuration and an agent configuration whose one resource is never reachable.
struct SecuredEndpoint {
    let directory: String

    static func make(clientAuth: String = "RequireAndVerifyClientCert") async throws -> SecuredEndpoint {
        let directory = NSTemporaryDirectory() + "aoai-canary-web-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try await runTool("/bin/bash", [e2eFixtures + "make-tls-certs.sh", directory])
        #expect(made.status == 0, "\(made.stderr)")
        // Relative names: they resolve against the web configuration's folder.
        try """
        tls_server_config:
          cert_file: good.pem
          key_file: good.key
          client_ca_file: ca.pem
          client_auth_type: \(clientAuth)
        basic_auth_users:
          prometheus: \(prometheusHash)
          grafana: '\(grafanaHash)'

        """.write(toFile: directory + "/web.yml", atomically: true, encoding: .utf8)
        try "resources:\n  - name: r\n    endpoint: http://127.0.0.1:1/\n    probe: models\n    api_key_env: RESOURCE_KEY\n"
            .write(toFile: directory + "/config.yaml", atomically: true, encoding: .utf8)
        return SecuredEndpoint(directory: directory)
    }

    /// The agent, started on a free port; returns it with its https base URL.
    func start() async throws -> (Child, String) {
        let agent = try Child(
            [
                "run", "--config", directory + "/config.yaml", "--web.config.file", directory + "/web.yml",
                "--listen", "127.0.0.1:0", "--log-format", "logfmt",
            ], environment: ["RESOURCE_KEY": "resource-key-value"])
        let found = await agent.await(30, in: { agent.stderr }, metricsURL)
        let url = try #require(found, "no metrics URL in: \(agent.stderr)")
        #expect(url.hasPrefix("https://127.0.0.1:"))
        return (agent, String(url.dropLast("/metrics".count)))
    }

    /// curl's status code for `path` with `arguments`; 0 when no HTTP answer came (TLS refused).
    func curl(_ url: String, _ arguments: [String]) async throws -> Int {
        let result = try await runTool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + arguments + [url])
        return Int(result.stdout) ?? -1
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite(.serialized) struct WebSecurityTests {
    @Test func curlNeedsTheRightCertificateAndPassword() async throws {
        let endpoint = try await SecuredEndpoint.make()
        defer { endpoint.remove() }
        let (agent, base) = try await endpoint.start()
        defer { stopProcess(agent.process) }
        let d = endpoint.directory
        let trusted = ["--cacert", "\(d)/ca.pem"]
        let client = ["--cert", "\(d)/client.pem", "--key", "\(d)/client.key"]
        let cases: [(String, [String], Int)] = [
            ("certificate and password", trusted + client + ["-u", "prometheus:\(prometheusPassword)"], 200),
            ("the same again (accepted from the cache)", trusted + client + ["-u", "prometheus:\(prometheusPassword)"], 200),
            ("a $2y$ hash", trusted + client + ["-u", "grafana:\(grafanaPassword)"], 200),
            ("no password", trusted + client, 401),
            ("a wrong password", trusted + client + ["-u", "prometheus:wrong"], 401),
            ("an unknown user", trusted + client + ["-u", "nobody:\(prometheusPassword)"], 401),
            ("another user's password", trusted + client + ["-u", "grafana:\(prometheusPassword)"], 401),
            ("no client certificate", trusted + ["-u", "prometheus:\(prometheusPassword)"], 403),
            (
                "a self-signed client certificate",
                trusted + ["--cert", "\(d)/self-signed.pem", "--key", "\(d)/self-signed.key", "-u", "prometheus:\(prometheusPassword)"], 403
            ),
            (
                "an expired client certificate",
                trusted + ["--cert", "\(d)/client-expired.pem", "--key", "\(d)/client-expired.key", "-u", "prometheus:\(prometheusPassword)"], 403
            ),
            (
                "a certificate only for servers",
                trusted + ["--cert", "\(d)/server-only.pem", "--key", "\(d)/server-only.key", "-u", "prometheus:\(prometheusPassword)"], 403
            ),
            ("a client that does not trust the server's CA", client + ["-u", "prometheus:\(prometheusPassword)"], 0),
            ("TLS 1.1 (min_version defaults to TLS12)", trusted + client + ["--tls-max", "1.1"], 0),
        ]
        for (name, arguments, expected) in cases {
            #expect(try await endpoint.curl(base + "/metrics", arguments) == expected, "\(name)")
        }
        #expect(try await endpoint.curl(base.replacingOccurrences(of: "https://", with: "http://") + "/metrics", []) == 0, "plain HTTP is not served")
        #expect(try await endpoint.curl(base + "/-/healthy", trusted + client) == 401, "every path is behind the door")
        #expect(try await endpoint.curl(base + "/-/healthy", trusted + client + ["-u", "prometheus:\(prometheusPassword)"]) == 200)
        let challenge = try await runTool("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null"] + trusted + client + [base + "/metrics"])
        #expect(challenge.stdout.lowercased().contains("www-authenticate: basic"))
        #expect(agent.process.isRunning)
        for secret in [prometheusPassword, grafanaPassword, "resource-key-value"] {
            #expect(!agent.stderr.contains(secret) && !agent.stdout.contains(secret), "a secret in the agent's output")
        }
    }

    @Test func prometheusScrapesOverTLSWithBasicAuth() async throws {
        let endpoint = try await SecuredEndpoint.make()
        defer { endpoint.remove() }
        let (agent, base) = try await endpoint.start()
        defer { stopProcess(agent.process) }
        let d = endpoint.directory
        let target = String(base.dropFirst("https://".count))
        // The job as a user writes it, and a second job with a wrong password that must stay down.
        func security(password: String) -> String {
            """
                scheme: https
                tls_config:
                  ca_file: \(d)/ca.pem
                  cert_file: \(d)/client.pem
                  key_file: \(d)/client.key
                basic_auth:
                  username: prometheus
                  password: \(password)
            """
        }
        let job =
            security(password: prometheusPassword) + """

                  - job_name: wrong-password
                    scrape_interval: 3s
                    static_configs:
                      - targets: ["\(target)"]

                """ + security(password: "wrong")
        // Every scrape checks a bcrypt hash: on a loaded 2-core machine that can take longer than
        // a second, so the scrapes get 3 s each.
        let prometheus = try PrometheusServer(scraping: target, rules: nil, job: job, scrapeInterval: "3s")
        defer { prometheus.stop() }
        var up: [String: String] = [:]
        var series = 0
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline, prometheus.isRunning {
            try await Task.sleep(for: .milliseconds(500))
            guard let samples = try? await prometheus.query("up").samples else { continue }
            for sample in samples {
                let labels = sample["metric"] as? [String: String] ?? [:]
                up[labels["job"] ?? ""] = (sample["value"] as? [Any])?.last as? String
            }
            series = (try? await prometheus.query(#"aoai_canary_build_info{job="aoai-canary"}"#).samples.count) ?? 0
            if up["aoai-canary"] == "1", up["wrong-password"] == "0", series == 1 { break }
        }
        #expect(up["aoai-canary"] == "1", "the scrape over TLS with basic auth failed:\n\(prometheus.log)")
        #expect(up["wrong-password"] == "0", "a wrong password was let in")
        #expect(series == 1, "the agent's metrics did not arrive")
    }

    @Test func aBadWebConfigurationStopsTheStartWithItsLine() async throws {
        let endpoint = try await SecuredEndpoint.make()
        defer { endpoint.remove() }
        let bad = endpoint.directory + "/bad.yml"
        let text = "tls_server_config:\n  cert_file: good.pem\n  key_file: client.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\nbasic_auth_users:\n"
        try (text + "  prometheus: plaintext-password\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let check = try await runBinary(
            ["check-config", "--config", endpoint.directory + "/config.yaml", "--web.config.file", bad], environment: ["RESOURCE_KEY": "k"])
        #expect(check.status == 64)
        #expect(check.stderr.contains("\(bad):3:13: tls_server_config.key_file: the private key does not belong to the certificate"), "\(check.stderr)")
        #expect(check.stderr.contains("\(bad):4:18: tls_server_config.cipher_suites: not supported by aoai-canary"), "\(check.stderr)")
        #expect(check.stderr.contains("\(bad):6:15: basic_auth_users.prometheus: expected a bcrypt hash"), "\(check.stderr)")
        #expect(!check.stderr.contains("plaintext-password"), "a pasted password is not repeated")
        let run = try await runBinary(
            ["run", "--config", endpoint.directory + "/config.yaml", "--web.config.file", bad, "--listen", "127.0.0.1:0", "--log-format", "logfmt"],
            environment: ["RESOURCE_KEY": "k"])
        #expect(run.status == 64)
        #expect(run.stderr.contains("invalid web configuration, not starting"))
        let good = try await runBinary(
            ["check-config", "--config", endpoint.directory + "/config.yaml", "--web.config.file", endpoint.directory + "/web.yml"],
            environment: ["RESOURCE_KEY": "k"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("web.yml: OK (TLS, 2 basic-auth users)"))
    }
}
