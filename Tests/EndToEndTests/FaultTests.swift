// Faults on one resource while another stays healthy: the right reason, the agent keeps running,
// the healthy resource's rounds stay on time, and every probe is accounted for.
import CanaryTestSupport
import Foundation
import HTTPServer
import Probe
import Testing

@Suite(.serialized) struct FaultTests {
    struct Fault: Sendable, CustomTestStringConvertible {
        var name: String
        var reason: FailureReason
        var testDescription: String { name }
    }

    static let faults: [Fault] = [
        Fault(name: "hanging after accept", reason: .timeout),
        Fault(name: "closed without an answer", reason: .connectionFailed),
        Fault(name: "slow answer", reason: .timeout),
        Fault(name: "a 50 MB body", reason: .unexpectedStatus),
        Fault(name: "invalid JSON", reason: .unexpectedStatus),
        Fault(name: "a 200 with an HTML body", reason: .unexpectedStatus),
        Fault(name: "token endpoint hangs", reason: .tokenAcquisitionFailed),
        Fault(name: "token endpoint returns garbage", reason: .tokenAcquisitionFailed),
        Fault(name: "token endpoint 503", reason: .tokenAcquisitionFailed),
        Fault(name: "token endpoint expires_in 0", reason: .tokenAcquisitionFailed),
        Fault(name: "token endpoint expires_in negative", reason: .tokenAcquisitionFailed),
        Fault(name: "connection refused", reason: .connectionFailed),
        Fault(name: "DNS failure", reason: .dnsFailed),
        Fault(name: "reset mid-headers", reason: .connectionFailed),
        Fault(name: "reset mid-body", reason: .connectionFailed),
        Fault(name: "a body that trickles one byte a second", reason: .timeout),
    ]

    /// Where the faulty resource and its token endpoint are.
    struct Arrangement {
        var endpoint: String
        var authority: String? = nil
        var server: HTTPServer? = nil
        /// A raw socket server (raw-fault-server.py) to stop afterwards.
        var helper: Child? = nil
    }

    /// raw-fault-server.py in `mode`, and its endpoint once it listens.
    static func rawServer(_ mode: String, _ world: World) async throws -> Arrangement {
        let portFile = world.directory + "/raw-port"
        let helper = try Child(executable: "/usr/bin/python3", [e2eFixtures + "raw-fault-server.py", mode, portFile])
        let port = try #require(try await portWritten(to: portFile), "raw-fault-server.py did not start: \(helper.stderr)")
        return Arrangement(endpoint: "http://127.0.0.1:\(port)/", helper: helper)
    }

    /// The faulty resource's endpoint, its token endpoint, and a server to stop afterwards.
    static func arrange(_ fault: Fault, _ world: World) async throws -> Arrangement {
        func server(_ response: HTTPResponse) throws -> Arrangement {
            let server = try HTTPServer(host: "127.0.0.1", port: 0) { _ in response }
            return Arrangement(endpoint: "http://127.0.0.1:\(server.boundAddress.port)/", server: server)
        }
        switch fault.name {
        case "hanging after accept": return Arrangement(endpoint: world.addResource("faulty") { $0.hang = true })
        case "closed without an answer": return Arrangement(endpoint: world.addResource("faulty") { $0.closeConnection = true })
        case "slow answer": return Arrangement(endpoint: world.addResource("faulty") { $0.delaySeconds = 5 })
        case "a 50 MB body":
            return try server(
                HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(repeating: UInt8(ascii: "x"), count: 50 << 20)))
        case "invalid JSON": return try server(HTTPResponse(status: 200, contentType: "application/json", body: #"{"choices": [ "#))
        case "a 200 with an HTML body": return try server(HTTPResponse(status: 200, contentType: "text/html", body: "<html>proxy login</html>"))
        case "token endpoint hangs":
            world.simulator.updateApplication(clientID: Names.client) { $0.tokenEndpointHang = true }
            return Arrangement(endpoint: world.addResource("faulty"))
        case "token endpoint returns garbage":
            let garbage = try HTTPServer(host: "127.0.0.1", port: 0) { _ in HTTPResponse(status: 200, contentType: "text/plain", body: "not a token") }
            return Arrangement(endpoint: world.addResource("faulty"), authority: "http://127.0.0.1:\(garbage.boundAddress.port)", server: garbage)
        case "token endpoint 503":
            world.simulator.updateApplication(clientID: Names.client) { $0.tokenEndpointStatus = 503 }
            return Arrangement(endpoint: world.addResource("faulty"))
        case "token endpoint expires_in 0":
            world.simulator.updateApplication(clientID: Names.client) { $0.tokenLifetimeSeconds = 0 }
            return Arrangement(endpoint: world.addResource("faulty"))
        case "token endpoint expires_in negative":
            world.simulator.updateApplication(clientID: Names.client) { $0.tokenLifetimeSeconds = -300 }
            return Arrangement(endpoint: world.addResource("faulty"))
        case "connection refused":
            let socket = try ListeningSocket.bind(host: "127.0.0.1", port: 0)
            let port = socket.address.port
            _ = close(socket.fd)  // nothing listens there now
            return Arrangement(endpoint: "http://127.0.0.1:\(port)/")
        case "DNS failure":
            // A label over 63 bytes: the resolver refuses it locally, so no packet leaves the host.
            return Arrangement(endpoint: "http://\(String(repeating: "a", count: 70)).example/")
        case "reset mid-headers": return try await rawServer("reset-headers", world)
        case "reset mid-body": return try await rawServer("reset-body", world)
        case "a body that trickles one byte a second": return try await rawServer("trickle", world)
        default:
            Issue.record("no arrangement")
            return Arrangement(endpoint: "http://127.0.0.1:1/")
        }
    }

    @Test(arguments: faults)
    func aFaultStaysOnItsResource(_ fault: Fault) async throws {
        let world = try World()
        let arrangement = try await Self.arrange(fault, world)
        defer {
            arrangement.server?.stop()
            if let helper = arrangement.helper { stopProcess(helper.process) }
        }
        let endpoint = arrangement.endpoint
        let authority = arrangement.authority ?? world.simulator.authority
        let text = world.oneSecondConfig(
            credentials: world.credentialsYAML(authority: authority),
            resources: """
                  - name: faulty
                    endpoint: \(endpoint)
                    deployment: \(Names.deployment)
                    credential: app

                """)
        // The agent runs as its own process, as in production: the timeliness it shows is its own,
        // not that of this test process's thread pool, which other suites share.
        let path = world.directory + "/config.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        try await Task.sleep(for: .milliseconds(4200))
        // Two scrapes: a failure counter that appeared is served at 0 by the first, and counts in
        // the second (a rendering is shared for a second).
        _ = try await get(url)
        try await Task.sleep(for: .milliseconds(1100))
        let metrics = String(decoding: try await get(url).body, as: UTF8.self)
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0, "the agent kept running and stops cleanly")

        let healthyProbes = sampleValue(metrics, #"aoai_canary_probes_total{resource="healthy",auth="api_key"}"#) ?? 0
        #expect(healthyProbes >= 4, "the healthy resource kept its 1 s rounds")
        #expect(sampleValue(metrics, #"aoai_canary_probe_success{resource="healthy",auth="api_key"}"#) == 1)
        #expect(everyRoundStarted(metrics, within: "1"), "every round started within 1 s of its slot")

        let faultyProbes = sampleValue(metrics, #"aoai_canary_probes_total{resource="faulty",auth="entra_id"}"#) ?? 0
        let reasonCount = sampleValue(metrics, #"aoai_canary_probe_failures_total{resource="faulty",auth="entra_id",reason="\#(fault.reason.rawValue)"}"#) ?? 0
        #expect(faultyProbes >= 1 && reasonCount >= 1, "\(fault.reason) counted:\n\(child.stderr)")
        let allFailures = failureCount(metrics, resource: "faulty", auth: "entra_id")
        #expect(allFailures == faultyProbes, "every probe accounted for: \(allFailures) failures of \(faultyProbes) probes")
        #expect(try Promtool.checkMetrics(metrics).output.isEmpty)
    }
}
