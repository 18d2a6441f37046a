// TLS faults against a real TLS server on loopback: an expired, a self-signed and a wrong-host
// certificate each give tls_failed; a certificate from the CA named in ca_file works.
import Foundation
import HTTPClient
import Metrics
import Probe
import Testing

@Suite(.serialized) struct TLSTests {
    @Test func certificatesAreChecked() async throws {
        let world = try World()
        let certificates = world.directory + "/tls"
        try FileManager.default.createDirectory(atPath: certificates, withIntermediateDirectories: true)
        let made = try await runTool("/bin/bash", [e2eFixtures + "make-tls-certs.sh", certificates])
        #expect(made.status == 0, "\(made.stderr)")
        let cases: [(String, FailureReason?)] = [("good", nil), ("expired", .tlsFailed), ("self-signed", .tlsFailed), ("wrong-host", .tlsFailed)]
        for (certificate, reason) in cases {
            try await check(certificate, reason: reason, certificates: certificates, world: world)
        }
    }

    func check(_ certificate: String, reason: FailureReason?, certificates: String, world: World) async throws {
        let portFile = certificates + "/port-" + certificate
        let server = try Child(
            executable: "/usr/bin/python3",
            [e2eFixtures + "tls-server.py", "\(certificates)/\(certificate).pem", "\(certificates)/\(certificate).key", portFile])
        defer { stopProcess(server.process) }
        let port = try #require(try await portWritten(to: portFile), "tls-server.py did not start: \(server.stderr)")
        let text = """
            listen: "127.0.0.1:0"
            timeout: 5s
            resources:
              - name: tls
                endpoint: https://127.0.0.1:\(port)/
                deployment: d
                api_key_file: resource.key
                ca_file: \(certificates)/ca.pem

            """
        let agent = world.agent(try world.config(text))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        if let reason {
            #expect(agent.count(CanaryMetrics.failures, ["tls", "api_key", reason.rawValue]) == 1, "\(certificate): \(world.logs.value)")
        } else {
            #expect(agent.value(CanaryMetrics.probeSuccess, ["tls", "api_key"]) == 1, "\(world.logs.value)")
            #expect(agent.value(CanaryMetrics.lastDuration, ["tls", "api_key"]) > 0, "the probe is timed")
            // A succeeding probe's phases are not exported; libcurl's TLS timer is read directly.
            let client = HTTPClient()
            defer { client.shutdown() }
            let response = try await client.execute(
                HTTPClientRequest(url: "https://127.0.0.1:\(port)/", timeoutSeconds: 5, caFile: "\(certificates)/ca.pem"))
            #expect(response.timings.tls > 0, "the TLS phase is timed")
        }
    }

    @Test func anUnreadableCAFileIsAConfigError() throws {
        let world = try World()
        #expect {
            _ = try world.config(
                "resources:\n  - name: r\n    endpoint: https://r.openai.azure.com/\n    probe: models\n    api_key_file: resource.key\n    ca_file: "
                    + "missing-ca.pem\n"
            )
        } throws: { error in
            "\(error)".contains("resources[0].ca_file: cannot read") && "\(error)".contains("missing-ca.pem: no such file")
        }
    }
}
