// The simulated API Management gateway (issue 21): each of its own answers as published, and the
// backend call with its managed identity; and the service's front door and api-version answers.
import AzureSimulator
import HTTPClient
import Testing

@Suite struct GatewayTests {
    static let key = "sim-gateway-subscription-key"
    static let identity = "0a0b0c0d-0000-4000-8000-00000000000e"

    /// A world with a gateway "apim" (API suffix "openai") in front of its resource.
    func makeWorld(_ change: (inout SimulatedGateway) -> Void = { _ in }, grantIdentity: Bool = true) throws -> World {
        let world = try World()
        var gateway = SimulatedGateway(
            name: "apim", apiSuffix: "openai-prod", backend: World.resource, subscriptionKeys: [Self.key], identityObjectID: Self.identity,
            identityClientID: "0a0b0c0d-0000-4000-8000-00000000000f")
        change(&gateway)
        world.simulator.addGateway(gateway)
        if grantIdentity { world.simulator.grantRole(resource: World.resource, objectID: Self.identity) }
        return world
    }

    func chat(_ world: World, headers: [(name: String, value: String)], suffix: String = "openai-prod") async throws -> HTTPClientResponse {
        try await client.execute(
            HTTPClientRequest(
                method: "POST",
                url: "\(world.simulator.authority)/gateways/apim/\(suffix)/openai/deployments/\(World.deployment)/chat/completions?api-version=2024-10-21",
                headers: [("Content-Type", "application/json")] + headers, body: Array(#"{"messages":[{"role":"user","content":"ping"}]}"#.utf8)))
    }

    /// A gateway answer: its status and body, and none of the service's request ids.
    func expectGateway(_ response: HTTPClientResponse, _ status: Int, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.text == #"{"statusCode":\#(status),"message":"\#(message)"}"#, sourceLocation: sourceLocation)
        #expect(response.headerCount("apim-request-id") == 0 && response.headerCount("x-request-id") == 0, sourceLocation: sourceLocation)
    }

    @Test func aSubscriptionKeyIsNeededAndTheIdentityCallsTheBackend() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let missing = try await chat(world, headers: [])
        expectGateway(missing, 401, "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.")
        #expect(missing.headers.contains { $0.name == "WWW-Authenticate" && $0.value.hasPrefix("AzureApiManagementKey realm=") })
        expectGateway(
            try await chat(world, headers: [("Ocp-Apim-Subscription-Key", "wrong")]), 401,
            "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.")
        // With the key, the gateway's identity calls the service: the service's answer and ids come back.
        let passed = try await chat(world, headers: [("Ocp-Apim-Subscription-Key", Self.key)])
        #expect(passed.status == 200, "\(passed.text)")
        #expect(passed.headerCount("apim-request-id") == 1 && passed.headerCount("x-request-id") == 1)
        // The service never sees the caller's credentials, only the identity's token.
        let wrongKeyForService = try await chat(world, headers: [("Ocp-Apim-Subscription-Key", Self.key), ("api-key", "not-the-service-key")])
        #expect(wrongKeyForService.status == 200)
    }

    @Test func theIdentityWithoutItsRoleIsNamedByTheService() async throws {
        let world = try makeWorld(grantIdentity: false)
        defer { world.simulator.stop() }
        let refused = try await chat(world, headers: [("Ocp-Apim-Subscription-Key", Self.key)])
        #expect(refused.status == 401)
        #expect(refused.text.contains(#""code":"PermissionDenied""#) && refused.text.contains("`\(Self.identity)`"), "\(refused.text)")
        #expect(refused.headerCount("apim-request-id") == 1, "the service's own answer, passed through")

        let failing = try makeWorld({ $0.identityFailing = true })
        defer { failing.simulator.stop() }
        expectGateway(try await chat(failing, headers: [("Ocp-Apim-Subscription-Key", Self.key)]), 500, "Internal server error")
    }

    @Test func validateJWTChecksTokensAndSaysSoInItsWords() async throws {
        let world = try makeWorld {
            $0.validateJWT = true
            $0.jwtAudience = "api://apim"
        }
        defer { world.simulator.stop() }
        let key = ("Ocp-Apim-Subscription-Key", Self.key)
        // A subscription-key caller without a token passes; a token is checked.
        #expect(try await chat(world, headers: [key]).status == 200)
        let cognitive = try await world.token()
        expectGateway(try await chat(world, headers: [key, ("Authorization", "Bearer \(cognitive)")]), 401, "Invalid JWT.")
        let right = try await world.token(scope: "api://apim/.default")
        #expect(try await chat(world, headers: [key, ("Authorization", "Bearer \(right)")]).status == 200)

        world.simulator.updateGateway("apim") { $0.jwtRequired = true }
        expectGateway(try await chat(world, headers: [key]), 401, "JWT not present.")
        world.simulator.updateGateway("apim") { $0.jwtFailureMessage = "Unauthorized. Access token is missing or invalid." }
        expectGateway(try await chat(world, headers: [key]), 401, "Unauthorized. Access token is missing or invalid.")
    }

    @Test func limitsQuotasFiltersAndPathsAreTheGatewaysOwn() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let key = ("Ocp-Apim-Subscription-Key", Self.key)
        expectGateway(try await chat(world, headers: [key], suffix: "openai-staging"), 404, "Resource not found")

        world.simulator.updateGateway("apim") { $0.rateLimitRetrySeconds = 57 }
        let rate = try await chat(world, headers: [key])
        expectGateway(rate, 429, "Rate limit is exceeded. Try again in 57 seconds.")
        #expect(rate.headers.contains { $0.name == "Retry-After" && $0.value == "57" })

        world.simulator.updateGateway("apim") {
            $0.rateLimitRetrySeconds = nil
            $0.quotaRenewalSeconds = 7 * 3600 + 80
        }
        expectGateway(try await chat(world, headers: [key]), 403, "Out of call volume quota. Quota will be replenished in 07:01:20.")
        world.simulator.updateGateway("apim") { $0.quotaRenewalSeconds = 20 * 86_400 + 35_935 }
        expectGateway(try await chat(world, headers: [key]), 403, "Out of call volume quota. Quota will be replenished in 20.09:58:55.")

        world.simulator.updateGateway("apim") {
            $0.quotaRenewalSeconds = nil
            $0.tokenLimitRetrySeconds = 53
        }
        expectGateway(try await chat(world, headers: [key]), 429, "Token limit is exceeded. Try again in 53 seconds.")

        world.simulator.updateGateway("apim") {
            $0.tokenLimitRetrySeconds = nil
            $0.ipFiltered = true
        }
        expectGateway(try await chat(world, headers: [key]), 403, "Forbidden")
    }

    @Test func theAdminAPIChangesAGatewaysPolicies() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        #expect(try await world.admin("POST", "gateways/apim", #"{"rateLimitRetrySeconds":5}"#).status == 200)
        #expect(try await chat(world, headers: [("Ocp-Apim-Subscription-Key", Self.key)]).status == 429)
        let state = try await world.admin("GET", "state")
        #expect(state.text.contains(#""name":"apim""#) && !state.text.contains(Self.key), "the keys are secrets")
        #expect(try await world.admin("POST", "gateways/none", "{}").status == 404)
        #expect(try await world.admin("POST", "gateways/apim", #"{"backendAuth":"magic"}"#).status == 400)
    }
}

/// The service's own front door: which request ids an answer carries, and the api-version it needs.
@Suite struct FrontDoorTests {
    @Test func aSuccessCarriesTwoIdsAndARefusalOne() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let success = try await world.chat(.key(World.apiKey))
        let apim = success.headers.first { $0.name == "apim-request-id" }?.value
        let request = success.headers.first { $0.name == "x-request-id" }?.value
        #expect(apim != nil && request != nil && apim != request, "both, and different, as captured")
        let refused = try await world.chat(.key("wrong"))
        #expect(refused.status == 401 && refused.headerCount("apim-request-id") == 1)
        #expect(refused.headerCount("x-request-id") == 0 && refused.headerCount("x-ms-region") == 0)
    }

    @Test func aDatedRouteNeedsAVersionTheServiceHas() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let missing = try await world.models(.key(World.apiKey), path: "openai/models")
        #expect(missing.status == 404 && missing.text == #"{"error":{"code":"404","message": "Resource not found"}}"#)
        let madeUp = try await world.models(.key(World.apiKey), path: "openai/models?api-version=1999-01-01")
        #expect(madeUp.status == 400 && madeUp.text == #"{"error":{"code":"BadRequest","message":"API version not supported"}}"#)
        #expect(try await world.models(.key(World.apiKey), path: "openai/models?api-version=2024-11-21").status == 400, "a date the service never had")
        #expect(try await world.models(.key(World.apiKey), path: "openai/models?api-version=2025-04-01-preview").status == 200)
        #expect(try await world.models(.key(World.apiKey), path: "openai/models?api-version=2026-09-01-preview").status == 200, "newer than the list")
        #expect(try await world.models(.key(World.apiKey), path: "openai/v1/models").status == 200, "v1 needs none")
    }
}
