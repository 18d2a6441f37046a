// No secret, key or token in anything the agent writes: logs in every format, metrics, the status
// page and status.json, diagnose, token, and error messages.
import Foundation
import Testing

@Suite(.serialized) struct SecretHygieneTests {
    /// Everything that must never be printed, as found in the world's files.
    func forbidden(_ world: World) throws -> [String] {
        let key = try String(contentsOfFile: certificateFixtures + "app.key", encoding: .utf8)
        // Every base64 line of the private key, and the access tokens' common prefix.
        let keyLines = key.split(separator: "\n").filter { !$0.hasPrefix("-----") && $0.count > 40 }.map(String.init)
        return [Names.secret, Names.key, "eyJ"] + keyLines
    }

    func scan(_ name: String, _ text: String, _ forbidden: [String]) {
        for value in forbidden where text.contains(value) {
            Issue.record("\(name) contains a secret (\(value.prefix(6))…)")
        }
    }

    @Test(arguments: ["logfmt", "json"])
    func nothingTheAgentWritesHoldsASecret(format: String) async throws {
        let world = try World()
        let sim = world.simulator
        try sim.addCertificate(clientID: Names.client, certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: certificateFixtures + "app.pem"))))
        let resources = [
            ("healthy", world.addResource("healthy")),
            ("no-role", world.addResource("no-role", grantRole: false)),
            ("elsewhere", world.addResource("elsewhere") { $0.tenantID = Names.otherTenant }),
            ("bad-key", world.addResource("bad-key") { $0.keyInvalid = true }),
            ("skewed", world.addResource("skewed") { $0.clockSkewSeconds = 7200 }),
        ]
        let path = world.directory + "/config.yaml"
        var text = world.configText(resources: resources, interval: "1s")
        text = text.replacingOccurrences(of: "credentials:\n", with: """
        credentials:
          cert:
            type: client_certificate
            tenant_id: \(Names.tenant)
            client_id: \(Names.client)
            certificate_file: \(certificateFixtures)app.pem
            private_key_file: \(certificateFixtures)app.key
            authority: \(sim.authority)

        """)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let forbidden = try forbidden(world)

        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", format])
        let url = try #require(await child.await(10, in: { child.stderr }, metricsURL))
        let base = String(url.dropLast("/metrics".count))
        _ = await child.await(10, in: { child.stderr }) { $0.contains("skewed entra_id") ? "" : nil }
        // A token failure too: the app's secret "expires".
        sim.updateApplication(clientID: Names.client) { $0.tokenError = 7000222; $0.tokenLifetimeSeconds = 1 }
        try await Task.sleep(for: .milliseconds(1500))
        let pages = [
            "/metrics": String(decoding: try await get(url).body, as: UTF8.self),
            "/": String(decoding: try await get(base + "/").body, as: UTF8.self),
            "/status.json": String(decoding: try await get(base + "/status.json").body, as: UTF8.self),
        ]
        // An invalid file whose secret comes from the environment.
        try "resources:\n  - name: x\n    endpoint: https://x.openai.azure.com/\n    api_key_env: ALSO_SECRET\n".write(toFile: path + ".bad", atomically: true, encoding: .utf8)
        child.process.terminate()
        _ = await child.wait(seconds: 5)
        scan("logs (\(format))", child.stderr + child.stdout, forbidden)
        #expect(child.stderr.contains("permission_denied") && child.stderr.contains("wrong_tenant") && child.stderr.contains("invalid_api_key"))
        for (name, page) in pages { scan(name, page, forbidden) }

        for arguments in [["diagnose", "--config", path], ["diagnose", "--config", path, "--format", "json"],
                          ["token", "--config", path, "--credential", "app"], ["token", "--config", path, "--credential", "cert"],
                          ["check-config", "--config", path]] {
            let result = try await runBinary(arguments, environment: ["PATH": "/usr/bin:/bin"])
            scan(arguments.joined(separator: " "), result.stdout + result.stderr, forbidden)
        }
        let invalid = try await runBinary(["check-config", "--config", path + ".bad"], environment: ["ALSO_SECRET": Names.key])
        #expect(invalid.status == 64 && invalid.stderr.contains("deployment"))
        scan("check-config with a secret in the environment", invalid.stdout + invalid.stderr, forbidden)
    }
}
