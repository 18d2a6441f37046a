// Faults in time: the host's wall clock stepped forward and back while probes run, and IMDS
// answering 410 (updating) for 80 s. Each with a healthy resource beside the affected one.
import Agent
import AzureSimulator
import CanaryTestSupport
import Endpoint
import Foundation
import HTTPServer
import Metrics
import Support
import Synchronization
import Testing

/// Wall time that an administrator or NTP can step; monotonic time stays real, as on a host.
final class SteppedClock: CanaryClock {
    private let offset = Mutex<Double>(0)
    var wallSeconds: Double { SystemClock().wallSeconds + offset.withLock { $0 } }
    var monotonicSeconds: Double { SystemClock().monotonicSeconds }
    func sleep(untilMonotonic deadline: Double) async throws { try await SystemClock().sleep(untilMonotonic: deadline) }
    func step(by seconds: Double) { offset.withLock { $0 += seconds } }
}

@Suite(.serialized) struct TimeFaultTests {
    /// The agent runs in this process here, since only an injected clock can be stepped without
    /// root (libfaketime empties a Swift program's CommandLine.arguments).
    @Test func theWallClockStepsForwardAndBack() async throws {
        let world = try World()
        let text = world.oneSecondConfig(
            credentials: world.credentialsYAML(),
            resources: """
                  - name: stepped
                    endpoint: \(world.addResource("stepped"))
                    deployment: \(Names.deployment)
                    api_key_file: resource.key
                    credential: app

                """)
        let clock = SteppedClock()
        let agent = world.agent(try world.config(text), clock: clock)
        let running = Task { await agent.run() }
        // Progress of every resource and mode, not fixed sleeps: this agent shares the test
        // process with the suites running beside it, so its rounds come when they can. A schedule on wall time would make no
        // progress for four hours after the step back.
        let series = [["healthy", "api_key"], ["stepped", "api_key"], ["stepped", "entra_id"]]
        func roundsGoOn(_ count: Double) async -> Bool {
            let targets = series.map { agent.value(CanaryMetrics.probes, $0) + count }
            let deadline = SystemClock().monotonicSeconds + 30
            while SystemClock().monotonicSeconds < deadline {
                if zip(series, targets).allSatisfy({ agent.value(CanaryMetrics.probes, $0.0) >= $0.1 }) { return true }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        #expect(await roundsGoOn(2))
        clock.step(by: 7200)  // two hours forward: the cached token now looks expired
        #expect(await roundsGoOn(2), "rounds went on after the wall clock went forward")
        clock.step(by: -14400)  // four hours back: two hours behind the service
        #expect(await roundsGoOn(2), "rounds went on after the wall clock went back")
        running.cancel()
        await running.value
        agent.shutdown()

        let endpoint = StatusEndpoint(source: AgentReference(agent), version: "test")
        let metrics = String(decoding: endpoint.handle(HTTPRequest(method: "GET", path: "/metrics")).content, as: UTF8.self)
        for labels in series {
            let (resource, auth) = (labels[0], labels[1])
            let probes = sampleValue(metrics, #"aoai_canary_probes_total{resource="\#(resource)",auth="\#(auth)"}"#) ?? 0
            let failures = failureCount(metrics, resource: resource, auth: auth)
            #expect(probes >= 6, "\(resource) \(auth) kept its rounds through both steps")
            #expect(failures == 0, "\(resource) \(auth): a step of the wall clock is not a failure:\n\(world.logs.value)")
            #expect(sampleValue(metrics, #"aoai_canary_probe_success{resource="\#(resource)",auth="\#(auth)"}"#) == 1)
        }
        // No round started hours late after the step forward: all the rounds' lag together stays
        // under ten minutes, where one round two hours late would pass it. (Not a bucket of a few
        // seconds: this agent shares the test process with every other suite on two cores; the
        // 1 s bound is held by the fault suite, whose agents have processes of their own.)
        let lag = sampleValue(metrics, "aoai_canary_round_start_lag_seconds_sum") ?? .infinity
        #expect((sampleValue(metrics, "aoai_canary_round_start_lag_seconds_count") ?? 0) > 0 && lag < 600, "rounds started \(lag) s late in all")
        // Token age is monotonic too: two hours forward did not make the token look expired (a
        // needless refresh), and four back will not keep it past its real expiry.
        #expect(sampleValue(metrics, #"aoai_canary_token_acquisitions_total{credential="app",result="success"}"#) == 1)
        #expect(try Promtool.checkMetrics(metrics).output.isEmpty)
    }

    /// IMDS says 410 while the host's identity service updates; Azure documents retrying for at
    /// least 70 s. Here it lasts 80 s: longer than the retries, so probes fail with
    /// token_acquisition_failed for a while, then the next acquisition gets a token and the
    /// Entra ID probes recover, while the healthy resource keeps its rounds.
    @Test func imdsAnswering410For80Seconds() async throws {
        let world = try World()
        let identity = MI.system
        world.simulator.addManagedIdentity(identity)
        let outageEnds = Date().timeIntervalSince1970 + 80
        world.simulator.updateManagedIdentityScenario { $0.goneUntil = outageEnds }
        let credentials = """
            credentials:
              vm:
                type: managed_identity
                source: imds
                endpoint: \(world.simulator.authority)/metadata/identity/oauth2/token

            """
        let text = world.oneSecondConfig(
            credentials: credentials,
            resources: """
                  - name: vm
                    endpoint: \(world.addResource("vm", grantRole: false))
                    deployment: \(Names.deployment)
                    credential: vm

                """)
        world.simulator.grantRole(resource: "vm", objectID: identity.objectID)
        let path = world.directory + "/config.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        defer { stopProcess(child.process) }
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))

        var duringOutage = ""
        var recovered = ""
        while Date().timeIntervalSince1970 < outageEnds + 40 {
            try await Task.sleep(for: .seconds(2))
            let metrics = String(decoding: try await get(url).body, as: UTF8.self)
            if Date().timeIntervalSince1970 < outageEnds - 2 { duringOutage = metrics }
            if Date().timeIntervalSince1970 > outageEnds, sampleValue(metrics, #"aoai_canary_probe_success{resource="vm",auth="entra_id"}"#) == 1 {
                recovered = metrics
                break
            }
        }
        #expect(child.process.isRunning)
        let failedFor = sampleValue(duringOutage, #"aoai_canary_probe_failures_total{resource="vm",auth="entra_id",reason="token_acquisition_failed"}"#) ?? 0
        #expect(failedFor >= 1, "probes during the outage failed for want of a token:\n\(duringOutage)")
        #expect(sampleValue(duringOutage, #"aoai_canary_probe_success{resource="vm",auth="entra_id"}"#) == 0)
        try #require(!recovered.isEmpty, "the Entra ID probe did not recover within 40 s of the outage's end:\n\(child.stderr.suffix(3000))")

        let healthyProbes = sampleValue(recovered, #"aoai_canary_probes_total{resource="healthy",auth="api_key"}"#) ?? 0
        #expect(healthyProbes >= 70, "the healthy resource kept its 1 s rounds through the outage (\(healthyProbes))")
        #expect(sampleValue(recovered, #"aoai_canary_probe_failures_total{resource="healthy",auth="api_key",reason="token_acquisition_failed"}"#) == nil)
        #expect(everyRoundStarted(recovered, within: "1"), "every round started within 1 s of its slot")
        let probes = sampleValue(recovered, #"aoai_canary_probes_total{resource="vm",auth="entra_id"}"#) ?? 0
        let failures = failureCount(recovered, resource: "vm", auth: "entra_id")
        #expect(failures >= 1 && failures < probes, "every probe accounted for: \(failures) failed of \(probes), the rest succeeded")
        #expect(
            sampleValue(recovered, #"aoai_canary_token_refresh_failures_total{credential="vm",reason="imds_unavailable"}"#) ?? 0 >= 1,
            "the refresh failure is named:\n\(recovered.split(separator: "\n").filter { $0.contains("refresh_failures") }.joined(separator: "\n"))")
        #expect(try Promtool.checkMetrics(recovered).output.isEmpty)
    }
}
