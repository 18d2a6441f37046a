// Every failure reason, produced by the simulator (or a real network condition on loopback) and
// seen through the real agent: libcurl calls, the token flow, classification, metrics and logs.
import AzureSimulator
import CanaryTestSupport
import HTTPClient
import HTTPServer
import Testing

@testable import Diagnose
@testable import Metrics
@testable import Probe
@testable import Status
@testable import Support

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ReasonTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var key: FailureReason?
        var entra: FailureReason?
        var testDescription: String { name }
    }

    /// Sets up the world for a case and returns the endpoint and config knobs to use.
    static func arrange(_ name: String, in world: World) throws -> (endpoint: String, scope: String?, timeout: String) {
        switch name {
        case "healthy": return (world.addResource("r"), nil, "2s")
        case "invalid_api_key": return (world.addResource("r") { $0.keyInvalid = true }, nil, "2s")
        case "key_auth_disabled": return (world.addResource("r") { $0.localAuthDisabled = true }, nil, "2s")
        case "token_audience_mismatch": return (world.addResource("r"), "https://management.azure.com/.default", "2s")
        case "token_expired": return (world.addResource("r") { $0.clockSkewSeconds = 7200 }, nil, "2s")  // the service's clock is 2 h ahead
        case "token_not_yet_valid": return (world.addResource("r") { $0.clockSkewSeconds = -900 }, nil, "2s")  // 15 min behind
        case "token_rejected": return (world.addResource("r") { $0.expectedAudience = "https://example.invalid" }, nil, "2s")  // the claims look right
        case "wrong_tenant": return (world.addResource("r") { $0.tenantID = Names.otherTenant }, nil, "2s")
        case "permission_denied": return (world.addResource("r", grantRole: false), nil, "2s")
        case "regional_endpoint": return (world.addResource("r") { $0.regionalEndpoint = true }, nil, "2s")
        case "network_denied": return (world.addResource("r") { $0.networkDenied = true }, nil, "2s")
        case "deployment_not_found": return (world.addResource("r") { $0.deploymentMissing = true }, nil, "2s")
        case "not_found": return (world.addResource("r") + "openai/", nil, "2s")  // an extra path segment
        case "throttled": return (world.addResource("r") { $0.throttleRetryAfterSeconds = 120 }, nil, "2s")
        case "server_error": return (world.addResource("r") { $0.serverErrorStatus = 503 }, nil, "2s")
        case "request_rejected":
            // The chat probe against a deployment of an embedding model: 400 OperationNotSupported.
            return (
                world.addResource("r") {
                    $0.models[Names.deployment] = SimulatedDeployment(model: "text-embedding-3-small", version: "1", family: .embeddings)
                }, nil, "2s"
            )
        case "token_acquisition_failed":
            world.simulator.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_215 }
            return (world.addResource("r"), nil, "2s")
        case "timeout (slow)": return (world.addResource("r") { $0.delaySeconds = 5 }, nil, "1s")
        case "timeout (hang)": return (world.addResource("r") { $0.hang = true }, nil, "1s")
        case "connection_failed (closed)": return (world.addResource("r") { $0.closeConnection = true }, nil, "2s")
        case "connection_failed (refused)":
            let socket = try ListeningSocket.bind(host: "127.0.0.1", port: 0)
            let port = socket.address.port
            _ = close(socket.fd)  // nothing listens there now
            return ("http://127.0.0.1:\(port)/", nil, "2s")
        case "dns_failed":
            // A label over 63 bytes: the resolver refuses it locally, so no packet leaves the host.
            return ("http://\(String(repeating: "a", count: 70)).example/", nil, "2s")
        case "tls_failed":
            // https:// to the simulator's plain-HTTP port: the handshake fails.
            world.addResource("r")
            return ("https://r.openai.localhost:\(world.simulator.port)/", nil, "2s")
        default:
            Issue.record("no arrangement for \(name)")
            return ("http://127.0.0.1:1/", nil, "1s")
        }
    }

    static let cases: [Case] = [
        Case(name: "healthy", key: nil, entra: nil),
        Case(name: "invalid_api_key", key: .invalidAPIKey, entra: nil),
        Case(name: "key_auth_disabled", key: .keyAuthDisabled, entra: nil),
        Case(name: "token_rejected", key: nil, entra: .tokenRejected),
        Case(name: "token_audience_mismatch", key: nil, entra: .tokenAudienceMismatch),
        Case(name: "token_expired", key: nil, entra: .tokenExpired),
        Case(name: "token_not_yet_valid", key: nil, entra: .tokenNotYetValid),
        Case(name: "wrong_tenant", key: nil, entra: .wrongTenant),
        Case(name: "permission_denied", key: nil, entra: .permissionDenied),
        Case(name: "regional_endpoint", key: nil, entra: .regionalEndpoint),
        Case(name: "network_denied", key: .networkDenied, entra: .networkDenied),
        Case(name: "deployment_not_found", key: .deploymentNotFound, entra: .deploymentNotFound),
        Case(name: "not_found", key: .notFound, entra: .notFound),
        Case(name: "throttled", key: .throttled, entra: .throttled),
        Case(name: "server_error", key: .serverError, entra: .serverError),
        Case(name: "request_rejected", key: .requestRejected, entra: .requestRejected),
        Case(name: "token_acquisition_failed", key: nil, entra: .tokenAcquisitionFailed),
        Case(name: "timeout (slow)", key: .timeout, entra: .timeout),
        Case(name: "timeout (hang)", key: .timeout, entra: .timeout),
        Case(name: "connection_failed (closed)", key: .connectionFailed, entra: .connectionFailed),
        Case(name: "connection_failed (refused)", key: .connectionFailed, entra: .connectionFailed),
        Case(name: "dns_failed", key: .dnsFailed, entra: .dnsFailed),
        Case(name: "tls_failed", key: .tlsFailed, entra: .tlsFailed),
    ]

    @Test(arguments: cases)
    func aRoundProducesTheReasonInMetricsAndLogs(_ item: Case) async throws {
        let world = try World()
        let (endpoint, scope, timeout) = try Self.arrange(item.name, in: world)
        let agent = world.agent(try world.config(world.configText(resources: [("r", endpoint)], scope: scope, timeout: timeout)))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()

        for (auth, reason) in [(AuthMode.apiKey, item.key), (.entraID, item.entra)] {
            let labels = ["r", auth.rawValue]
            #expect(agent.value(CanaryMetrics.probes, labels) == 1)
            #expect(agent.value(CanaryMetrics.probeSuccess, labels) == (reason == nil ? 1 : 0), "\(auth)")
            for other in FailureReason.possible(for: auth) {
                #expect(agent.count(CanaryMetrics.failures, labels + [other.rawValue]) == (other == reason ? 1 : 0), "\(auth) \(other)")
            }
            if let reason {
                #expect(
                    world.logs.chunks.contains { $0.contains("reason=\(reason.rawValue)") && $0.contains("auth=\(auth.rawValue)") },
                    "no log entry for \(auth) \(reason): \(world.logs.chunks)")
            }
        }
        let diverged = item.key == nil && item.entra != nil
        #expect(agent.value(CanaryMetrics.divergence, ["r"]) == (diverged ? 1 : 0))

        // The status page and status.json say the same.
        let view = StatusView(board: agent.board, now: SystemClock().wallSeconds, version: "test")
        for (auth, reason) in [(AuthMode.apiKey, item.key), (.entraID, item.entra)] {
            let probe = try #require(view.resources.first?.probes.first { $0.auth == auth })
            #expect(probe.reason == reason, "status page, \(auth)")
            if reason == .permissionDenied {
                #expect(probe.possiblyPropagating && probe.fix.contains("propagating"), "a fresh denial may be propagation")
            } else {
                #expect(probe.fix == (probe.failure?.fix ?? ""), "status page fix, \(auth)")
            }
            if let reason { #expect(view.html.contains(">✘ \(reason.rawValue)<")) }
        }
        #expect(view.json.contains(#""divergence":\#(diverged)"#))

        // So does diagnose's step 3 for the Entra ID failures that are about auth.
        let authReasons: [FailureReason] = [
            .tokenRejected, .tokenAudienceMismatch, .tokenExpired, .tokenNotYetValid, .wrongTenant, .permissionDenied, .regionalEndpoint,
        ]
        if let reason = item.entra, authReasons.contains(reason) {
            let diagnoser = Diagnoser(client: HTTPClient(), clock: SystemClock(), timeoutSeconds: 2, azPath: nil)
            let report = try #require(await diagnoser.diagnose(agent.config).first)
            let step = try #require(report.steps.first { $0.number == 3 })
            #expect(step.outcome == .fail)
            #expect(step.evidence.joined().contains("fails: \(reason.rawValue)"), "\(step.evidence)")
            #expect(report.entraWorks == false)
        }
    }

    @Test func roleGrantedLaterIsSeenAsPropagationAndItsDelayRecorded() async throws {
        let clock = ManualClock(wallSeconds: SystemClock().wallSeconds, monotonicSeconds: SystemClock().monotonicSeconds)
        let world = try World(now: { clock.wallSeconds })
        let endpoint = world.addResource("late", grantRole: false)
        world.simulator.grantRole(resource: "late", objectID: Names.object, effectiveAfterSeconds: 120)
        let agent = world.agent(try world.config(world.configText(resources: [("late", endpoint)])), clock: clock)
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        #expect(agent.count(CanaryMetrics.failures, ["late", "entra_id", "permission_denied"]) == 1)
        let denied = StatusView(board: agent.board, now: clock.wallSeconds, version: "t")
        #expect(denied.resources[0].probes.first { $0.auth == .entraID }?.possiblyPropagating == true)
        #expect(denied.html.contains("possibly propagating"))

        clock.advance(by: 130)
        await agent.scheduler.runAllOnce()
        #expect(agent.value(CanaryMetrics.probeSuccess, ["late", "entra_id"]) == 1)
        let recovery = try #require(agent.metrics.registry.value(CanaryMetrics.permissionRecovery.name, ["late"]))
        #expect(abs(recovery - 130) < 2)
        #expect(world.logs.chunks.contains { $0.contains("role took effect after 13") && $0.contains("recovery_s=") })
    }

    @Test func aLongDenialIsNoLongerCalledPropagation() async throws {
        let clock = ManualClock(wallSeconds: SystemClock().wallSeconds, monotonicSeconds: SystemClock().monotonicSeconds)
        let world = try World(now: { clock.wallSeconds })
        let agent = world.agent(try world.config(world.configText(resources: [("never", world.addResource("never", grantRole: false))])), clock: clock)
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        clock.advance(by: 601)
        await agent.scheduler.runAllOnce()
        let view = StatusView(board: agent.board, now: clock.wallSeconds, version: "t")
        let probe = try #require(view.resources[0].probes.first { $0.auth == .entraID })
        #expect(!probe.possiblyPropagating)
        #expect(probe.fix == FailureReason.permissionDenied.fix)
    }

    @Test func theKeyCanaryOnALocalAuthDisabledResourceRaisesAWarning() async throws {
        let world = try World()
        let agent = world.agent(try world.config(world.configText(resources: [("r", world.addResource("r") { $0.localAuthDisabled = true })])))
        defer { agent.shutdown() }
        #expect(agent.metrics.registry.value(CanaryMetrics.configWarnings.name, ["r", "key_auth_disabled"]) == nil, "no series for a check that passes")
        await agent.scheduler.runAllOnce()
        #expect(agent.metrics.registry.value(CanaryMetrics.configWarnings.name, ["r", "key_auth_disabled"]) == 1)
        #expect(StatusView(board: agent.board, now: 0, version: "t").json.contains(#""check":"key_auth_disabled""#))
    }

    @Test func unexpectedStatusFromAnOddServer() async throws {
        let world = try World()
        let teapot = try HTTPServer(host: "127.0.0.1", port: 0) { _ in
            HTTPResponse(status: 418, contentType: "text/plain", body: "I'm a teapot")
        }
        defer { teapot.stop() }
        let agent = world.agent(try world.config(world.configText(resources: [("r", "http://127.0.0.1:\(teapot.boundAddress.port)/")])))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        #expect(agent.count(CanaryMetrics.failures, ["r", "api_key", "unexpected_status"]) == 1)
        #expect(agent.count(CanaryMetrics.failures, ["r", "entra_id", "unexpected_status"]) == 1)
        #expect(agent.value(CanaryMetrics.httpStatus, ["r", "api_key"]) == 418)
    }

    @Test func theAADSTSCodeOfAFailedTokenRequestIsLogged() async throws {
        let world = try World()
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_222 }
        let agent = world.agent(try world.config(world.configText(resources: [("r", world.addResource("r"))])))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        #expect(agent.value(CanaryMetrics.tokenAcquisitions, ["app", "failure"]) == 1)
        #expect(world.logs.chunks.contains { $0.contains("aadsts=7000222") && $0.contains("credential=app") })
        #expect(!world.logs.chunks.joined().contains(Names.secret))
    }

    @Test func throttlingPushesTheResourcesNextRoundBack() async throws {
        let world = try World()
        let agent = world.agent(try world.config(world.configText(resources: [("r", world.addResource("r") { $0.throttleRetryAfterSeconds = 120 })])))
        defer { agent.shutdown() }
        let before = SystemClock().monotonicSeconds
        await agent.scheduler.runAllOnce()
        let next = await agent.scheduler.currentSchedule.entries[0].nextDue
        #expect(next >= before + 120)
    }

    @Test func oneTokenServesEveryResourceOfACredential() async throws {
        let world = try World()
        let resources = (1...4).map { ("r\($0)", world.addResource("r\($0)")) }
        let agent = world.agent(try world.config(world.configText(resources: resources)))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        await agent.scheduler.runAllOnce()
        #expect(world.simulator.tokenRequestCount(clientID: Names.client) == 1)
        #expect(agent.value(CanaryMetrics.tokenAcquisitions, ["app", "success"]) == 1)
        for (name, _) in resources {
            #expect(agent.value(CanaryMetrics.probeSuccess, [name, "entra_id"]) == 1)
            #expect(world.simulator.requestCount(resource: name) == 4)
        }
    }

    @Test func aFailedRefreshDoesNotFailAProbeWhileTheOldTokenIsValid() async throws {
        let world = try World()
        // 200 s tokens are inside the 300 s margin: every use wants a refresh.
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenLifetimeSeconds = 200 }
        let agent = world.agent(try world.config(world.configText(resources: [("r", world.addResource("r"))])), tokenRetryInterval: 0)
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_215 }
        await agent.scheduler.runAllOnce()
        #expect(agent.value(CanaryMetrics.tokenAcquisitions, ["app", "failure"]) == 1)
        #expect(agent.value(CanaryMetrics.probeSuccess, ["r", "entra_id"]) == 1)
        #expect(agent.count(CanaryMetrics.failures, ["r", "entra_id", "token_acquisition_failed"]) == 0)
        #expect(world.logs.chunks.contains { $0.contains("still valid and stays in use") })
    }

    @Test func aTokenIsNeverSentAfterItsExpiry() async throws {
        let world = try World()
        let clock = ManualClock(wallSeconds: SystemClock().wallSeconds, monotonicSeconds: SystemClock().monotonicSeconds)
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenLifetimeSeconds = 200 }
        let agent = world.agent(try world.config(world.configText(resources: [("r", world.addResource("r"))])), clock: clock, tokenRetryInterval: 0)
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        #expect(world.simulator.requestCount(resource: "r") == 2)
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_215 }
        clock.advance(by: 201)  // past exp on the agent's clock
        await agent.scheduler.runAllOnce()
        #expect(world.simulator.requestCount(resource: "r") == 3, "only the key call may reach the resource")
        #expect(agent.count(CanaryMetrics.failures, ["r", "entra_id", "token_acquisition_failed"]) == 1)
        #expect(world.logs.chunks.contains { $0.contains("cached token has expired") })
    }

    @Test func clockSkewIsEstimatedFromTheServicesDateHeader() async throws {
        let world = try World()
        let agent = world.agent(try world.config(world.configText(resources: [("r", world.addResource("r") { $0.clockSkewSeconds = -900 })])))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        let skew = try #require(agent.metrics.registry.value(CanaryMetrics.clockSkew.name, []))
        #expect(abs(skew - 900) <= 2, "\(skew)")
        #expect(world.logs.chunks.contains { $0.contains("reason=token_not_yet_valid") && $0.contains("clock skew") })
    }

    @Test func permissionDeniedAndWrongTenantNameWhoAndWhat() async throws {
        let world = try World()
        let agent = world.agent(
            try world.config(
                world.configText(resources: [
                    ("no-role", world.addResource("no-role", grantRole: false)),
                    ("elsewhere", world.addResource("elsewhere") { $0.tenantID = Names.otherTenant }),
                ])))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()
        let logs = world.logs.chunks
        #expect(
            logs.contains {
                $0.contains("reason=permission_denied")
                    && $0.contains(
                        "principal \(Names.object) lacks the data action Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
            })
        #expect(logs.contains { $0.contains("reason=wrong_tenant") && $0.contains("the token is from tenant \(Names.tenant)") })
    }
}
