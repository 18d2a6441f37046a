// A resource behind API Management (issue 21): the gateway's own answers, each seen through the
// real agent with its reason and a fix that points at the gateway, and the service's answers
// through the gateway still read as the service's.
import AzureSimulator
import CanaryTestSupport
import Foundation
import Testing

@testable import Metrics
@testable import Probe
@testable import Status
@testable import Support

@Suite(.serialized) struct GatewayTests {
    static let gatewayKey = "e2e-gateway-subscription-key"
    static let gatewayObject = "eeeeeeee-0000-4000-8000-000000000005"

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var key: FailureReason?
        var entra: FailureReason?
        /// The fix of the Entra ID canary's failure (or the key's) mentions this.
        var fixMentions: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "healthy"),
        Case(name: "missing subscription key", key: .gatewayKeyRejected, entra: .gatewayKeyRejected, fixMentions: "subscription_key_file"),
        Case(name: "invalid subscription key", key: .gatewayKeyRejected, entra: .gatewayKeyRejected, fixMentions: "subscription_key_file"),
        Case(name: "validate-jwt, another audience", key: nil, entra: .gatewayTokenRejected, fixMentions: "policy"),
        Case(name: "validate-jwt, its own message", key: nil, entra: .gatewayTokenRejected, fixMentions: "policy"),
        Case(name: "rate limit", key: .gatewayThrottled, entra: .gatewayThrottled, fixMentions: "Not an auth failure"),
        Case(name: "call quota", key: .gatewayThrottled, entra: .gatewayThrottled),
        Case(name: "token limit", key: .gatewayThrottled, entra: .gatewayThrottled),
        Case(name: "ip-filter", key: .networkDenied, entra: .networkDenied, fixMentions: "ip-filter"),
        Case(name: "wrong API suffix", key: .notFound, entra: .notFound, fixMentions: "URL suffix"),
        Case(name: "gateway identity lacks the role", key: .gatewayBackendAuthFailed, entra: .gatewayBackendAuthFailed, fixMentions: "managed identity"),
        Case(name: "gateway identity gets no token", key: .serverError, entra: .serverError),
        Case(name: "service answers through the gateway", key: .deploymentNotFound, entra: .deploymentNotFound),
        Case(name: "passthrough, no data role", key: nil, entra: .permissionDenied),
    ]

    /// The gateway for a case, in front of resource "r", and the config's endpoint and gateway block.
    static func arrange(_ name: String, in world: World) -> (endpoint: String, gateway: String) {
        let passthrough = name == "passthrough, no data role"
        // Passing through, the canary's own token reaches the service, which names its principal.
        world.addResource("r", grantRole: !passthrough) { if name == "service answers through the gateway" { $0.deploymentMissing = true } }
        var gateway = SimulatedGateway(
            name: "apim", apiSuffix: "openai-prod", backend: "r", subscriptionKeys: [gatewayKey], identityObjectID: gatewayObject,
            identityClientID: "ffffffff-0000-4000-8000-000000000006")
        var block = "    gateway:\n      subscription_key_file: gateway.key\n"
        var suffix = "openai-prod"
        switch name {
        // The key canary sends the service's key alone, the Entra ID canary its token alone.
        case "missing subscription key": block = "    gateway: {}\n    api_key_file: resource.key\n"
        case "invalid subscription key": gateway.subscriptionKeys = ["another-key"]
        case "validate-jwt, another audience": (gateway.validateJWT, gateway.jwtAudience) = (true, "api://apim")
        case "validate-jwt, its own message":
            (gateway.validateJWT, gateway.jwtAudience, gateway.jwtFailureMessage) = (true, "api://apim", "Unauthorized. Access token is missing or invalid.")
        case "rate limit": gateway.rateLimitRetrySeconds = 30
        case "call quota": gateway.quotaRenewalSeconds = 90_061
        case "token limit": gateway.tokenLimitRetrySeconds = 20
        case "ip-filter": gateway.ipFiltered = true
        case "wrong API suffix": suffix = "openai-staging"
        case "gateway identity gets no token": gateway.identityFailing = true
        case "passthrough, no data role":
            gateway.backendAuth = .passthrough
            block += "    api_key_file: resource.key\n"
        default: break
        }
        world.simulator.addGateway(gateway)
        if name != "gateway identity lacks the role" { world.simulator.grantRole(resource: "r", objectID: gatewayObject) }
        return ("\(world.simulator.authority)/gateways/apim/\(suffix)/", block)
    }

    @Test(arguments: cases)
    func theGatewaysAnswerGetsItsReasonAndAFixThatPointsAtIt(_ item: Case) async throws {
        let world = try World()
        try (Self.gatewayKey + "\n").write(toFile: world.directory + "/gateway.key", atomically: true, encoding: .utf8)
        let (endpoint, block) = Self.arrange(item.name, in: world)
        // The key canary sends only the subscription key: the gateway calls the service as itself.
        let text = world.configText(resources: [("r", endpoint)]).replacingOccurrences(of: "    api_key_file: resource.key\n", with: block)
        let agent = world.agent(try world.config(text))
        defer { agent.shutdown() }
        await agent.scheduler.runAllOnce()

        let view = StatusView(board: agent.board, now: SystemClock().wallSeconds, version: "test")
        for (auth, reason) in [(AuthMode.apiKey, item.key), (.entraID, item.entra)] {
            let labels = ["r", auth.rawValue]
            #expect(agent.value(CanaryMetrics.probeSuccess, labels) == (reason == nil ? 1 : 0), "\(auth): \(world.logs.chunks.suffix(3))")
            if let reason {
                #expect(agent.count(CanaryMetrics.failures, labels + [reason.rawValue]) == 1, "\(auth) \(reason): \(world.logs.chunks.suffix(3))")
            }
            let probe = try #require(view.resources.first?.probes.first { $0.auth == auth })
            #expect(probe.reason == reason, "\(auth)")
            if let fixMentions = item.fixMentions, reason != nil {
                #expect(probe.fix.contains(fixMentions), "\(auth): \(probe.fix)")
            }
        }
        // The divergence signal keeps its meaning: the key passes and the token fails, wherever.
        let diverged = item.key == nil && item.entra.map { !$0.provesNothingAboutAuth } == true
        #expect(agent.value(CanaryMetrics.divergence, ["r"]) == (diverged ? 1 : 0))
        // The subscription key is a secret like the others: never in the log or on the page.
        #expect(!world.logs.chunks.joined().contains(Self.gatewayKey))
        #expect(!view.html.contains(Self.gatewayKey) && !view.json.contains(Self.gatewayKey))
    }
}
