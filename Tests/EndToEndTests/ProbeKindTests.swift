// Every probe kind on both API surfaces, against deployments of every model family: the real
// agent, its libcurl calls and the simulator's model rules, over loopback.
import AzureSimulator
import CanaryTestSupport
import HTTPClient
import Testing

@testable import Diagnose
@testable import Metrics
@testable import Probe
@testable import Status
@testable import Support

@Suite struct ProbeKindTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var probe: String
        var apiVersion: String?
        var deployment: String
        /// nil: both canaries succeed.
        var reason: FailureReason?
        var testDescription: String { "\(probe) \(apiVersion ?? "default") \(deployment)" }
    }

    static let cases: [Case] = [
        Case(probe: "chat_completions", apiVersion: nil, deployment: "gpt-4o-mini"),
        Case(probe: "chat_completions", apiVersion: "2024-06-01", deployment: "gpt-4o-mini"),
        Case(probe: "chat_completions", apiVersion: "2024-09-01-preview", deployment: "gpt-4o-mini"),
        Case(probe: "chat_completions", apiVersion: "2025-04-01-preview", deployment: "gpt-4o-mini"),
        Case(probe: "chat_completions", apiVersion: "v1", deployment: "gpt-4o-mini"),
        // Reasoning models refuse max_tokens: the probe must not send it where they are served.
        Case(probe: "chat_completions", apiVersion: "2024-12-01-preview", deployment: "o4-mini"),
        Case(probe: "chat_completions", apiVersion: "2025-04-01-preview", deployment: "o4-mini"),
        Case(probe: "chat_completions", apiVersion: "v1", deployment: "gpt-5"),
        Case(probe: "embeddings", apiVersion: nil, deployment: "text-embedding-3-small"),
        Case(probe: "embeddings", apiVersion: "v1", deployment: "text-embedding-3-small"),
        Case(probe: "responses", apiVersion: nil, deployment: "gpt-4o-mini"),
        Case(probe: "responses", apiVersion: "2025-04-01-preview", deployment: "o4-mini"),
        Case(probe: "models", apiVersion: "v1", deployment: "gpt-4o-mini"),
        // What Azure refuses whatever the body: the probe says so and why, as request_rejected.
        Case(probe: "chat_completions", apiVersion: nil, deployment: "o4-mini", reason: .requestRejected),
        Case(probe: "chat_completions", apiVersion: "v1", deployment: "text-embedding-3-small", reason: .requestRejected),
        Case(probe: "embeddings", apiVersion: "v1", deployment: "gpt-4o-mini", reason: .requestRejected),
        Case(probe: "responses", apiVersion: nil, deployment: "text-embedding-3-small", reason: .requestRejected),
    ]

    @Test(arguments: cases)
    func bothCanariesGetTheExpectedOutcome(_ item: Case) async throws {
        let world = try World()
        let endpoint = world.addResource("r") { $0.deployments = ["gpt-4o-mini", "gpt-5", "o4-mini", "text-embedding-3-small"] }
        var text = """
            listen: "127.0.0.1:0"
            interval: 60s
            timeout: 2s

            """ + world.credentialsYAML() + """
                resources:
                  - name: r
                    endpoint: \(endpoint)
                    deployment: \(item.deployment)
                    probe: \(item.probe)
                    api_key_file: resource.key
                    credential: app

                """
        if let version = item.apiVersion { text += "    api_version: \(version)\n" }
        let agent = world.agent(try world.config(text))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()

        for auth in AuthMode.allCases {
            let labels = ["r", auth.rawValue]
            #expect(agent.value(CanaryMetrics.probes, labels) == 1)
            #expect(agent.value(CanaryMetrics.probeSuccess, labels) == (item.reason == nil ? 1 : 0), "\(auth): \(world.logs.chunks)")
            if let reason = item.reason {
                #expect(agent.count(CanaryMetrics.failures, labels + [reason.rawValue]) == 1, "\(auth): \(world.logs.chunks)")
            }
        }
        // Both calls passed authentication: a rejected request is no divergence.
        #expect(agent.value(CanaryMetrics.divergence, ["r"]) == 0)
        if item.reason == .requestRejected {
            let view = StatusView(board: agent.board, now: SystemClock().wallSeconds, version: "test")
            let probe = try #require(view.resources.first?.probes.first)
            #expect(probe.fix.contains("api_version") || probe.fix.contains("probe: "), "\(probe.fix)")
            let diagnoser = Diagnoser(client: HTTPClient(), clock: SystemClock(), timeoutSeconds: 2, azPath: nil)
            let report = try #require(await diagnoser.diagnose(agent.config).first)
            let step = try #require(report.steps.first { $0.number == 3 })
            #expect(step.outcome == .pass && step.evidence.joined().contains("the probe needs changing"), "\(step.evidence)")
        }
    }

    @Test func aKeyThatWorksWithARejectedTokenCallIsNoDivergenceButAFailingTokenIs() async throws {
        let metrics = CanaryMetrics(build: BuildInfo(version: "test", revision: "test", swiftVersion: "6"))
        let rejected = ProbeVerdict.failure(.requestRejected, Evidence(httpStatus: 400))
        #expect(metrics.recordDivergence(resource: "r", key: rejected, entra: .failure(.permissionDenied, Evidence(httpStatus: 401))))
        #expect(!metrics.recordDivergence(resource: "r", key: rejected, entra: rejected))
        #expect(!metrics.recordDivergence(resource: "r", key: .success, entra: rejected))
        #expect(metrics.recordDivergence(resource: "r", key: .success, entra: .failure(.throttled, Evidence(httpStatus: 429))))
    }
}
