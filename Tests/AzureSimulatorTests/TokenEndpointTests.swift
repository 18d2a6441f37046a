// The simulated Entra ID token endpoint: issued tokens, their claims, and each AADSTS error.
import AzureSimulator
import FoundationEssentials
import HTTPClient
import Testing

@Suite struct TokenEndpointTests {
    @Test func issuesAV2TokenWithTheExpectedClaims() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let response = try await world.requestToken()
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("application/json") == true)
        let body = try JSONDecoder().decode(TokenBody.self, from: Data(response.body))
        #expect(body.token_type == "Bearer")
        #expect(body.expires_in == 3599)
        #expect(body.ext_expires_in == 3599)
        #expect(body.refresh_in == nil)
        #expect(!response.text.contains("refresh_in"))

        let header = String(decoding: try jwtSegment(body.access_token, 0), as: UTF8.self)
        #expect(header == #"{"typ":"JWT","alg":"RS256","kid":"aoai-canary-simulator"}"#)
        #expect(!body.access_token.contains("="))
        let claims = try claims(of: body.access_token)
        let now = Int(world.clock.now)
        #expect(claims.aud == "https://cognitiveservices.azure.com")
        #expect(claims.iss == "https://login.microsoftonline.com/\(World.tenant)/v2.0")
        #expect(claims.iat == now && claims.nbf == now && claims.exp == now + 3599)
        #expect(claims.tid == World.tenant)
        #expect(claims.oid == World.objectID && claims.sub == World.objectID)
        #expect(claims.azp == World.clientID && claims.appid == nil)
        #expect(claims.ver == "2.0")
        #expect(claims.roles == nil)
        #expect(!claims.uti.isEmpty)
        #expect(world.simulator.tokenRequestCount(clientID: World.clientID) == 1)
    }

    @Test func issuesAV1TokenWithRefreshInAndCustomLifetime() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateApplication(clientID: World.clientID) {
            $0.tokenVersion = "1.0"
            $0.tokenLifetimeSeconds = 86399
            $0.refreshInSeconds = 43199
        }
        let response = try await world.requestToken(scope: "https://management.azure.com/.default")
        let body = try JSONDecoder().decode(TokenBody.self, from: Data(response.body))
        #expect(body.expires_in == 86399 && body.refresh_in == 43199)
        let claims = try claims(of: body.access_token)
        #expect(claims.aud == "https://management.azure.com")
        #expect(claims.iss == "https://sts.windows.net/\(World.tenant)/")
        #expect(claims.appid == World.clientID && claims.azp == nil)
        #expect(claims.ver == "1.0")
        #expect(claims.exp - claims.iat == 86399)
    }

    @Test func refusesAMalformedClientAssertion() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        // Certificate and federated assertions are checked in ClientAssertionTests; one without `iss` or `exp` is malformed.
        for assertion in ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "not-a-jwt"] {
            try checkEntraError(
                try await world.requestToken(assertion: assertion),
                ErrorCase(name: "malformed", status: 400, error: "invalid_request", code: 50027, fragment: "JWT token is invalid or malformed."))
        }
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var status: Int
        var error: String
        var code: Int
        var fragment: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        ErrorCase(name: "unknown tenant", status: 400, error: "invalid_request", code: 90002, fragment: "Tenant 'no-such-tenant' not found."),
        ErrorCase(
            name: "unknown client", status: 400, error: "unauthorized_client", code: 700016,
            fragment: "Application with identifier 'ffffffff-0000-0000-0000-000000000000' was not found in the directory '\(World.tenant)'."),
        ErrorCase(
            name: "wrong secret", status: 401, error: "invalid_client", code: 7_000_215,
            fragment:
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a "
                + "secret added to app '\(World.clientID)'."
        ),
        ErrorCase(
            name: "scope without /.default", status: 400, error: "invalid_scope", code: 1_002_012,
            fragment:
                "The provided value for scope https://cognitiveservices.azure.com is not valid. Client credential flows must have a scope value with "
                + "/.default suffixed to the resource identifier (application ID URI)."
        ),
        ErrorCase(
            name: "scope of an unknown resource", status: 400, error: "invalid_resource", code: 500011,
            fragment: "The resource principal named https://cognitiveservice.azure.com was not found in the tenant named \(World.tenant)."),
    ])
    func answersRequestErrorsInEntraShape(_ expected: ErrorCase) async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let response: HTTPClientResponse
        switch expected.code {
        case 90002: response = try await world.requestToken(tenant: "no-such-tenant")
        case 700016: response = try await world.requestToken(clientID: "ffffffff-0000-0000-0000-000000000000")
        case 7_000_215: response = try await world.requestToken(secret: "the-secret-id-not-its-value")
        case 500011: response = try await world.requestToken(scope: "https://cognitiveservice.azure.com/.default")
        default: response = try await world.requestToken(scope: "https://cognitiveservices.azure.com")
        }
        try checkEntraError(response, expected)
    }

    @Test(arguments: [
        ErrorCase(
            name: "expired secret", status: 401, error: "invalid_client", code: 7_000_222,
            fragment: "The provided client secret keys for app '\(World.clientID)' are expired."),
        ErrorCase(
            name: "assertion out of time range", status: 401, error: "invalid_client", code: 700024,
            fragment: "Client assertion is not within its valid time range."),
        ErrorCase(
            name: "no federated record", status: 400, error: "invalid_request", code: 70021,
            fragment: "No matching federated identity record found for presented assertion."),
        ErrorCase(
            name: "malformed tenant", status: 400, error: "invalid_request", code: 900023, fragment: "is neither a valid DNS name, nor a valid external domain."
        ),
        ErrorCase(name: "application disabled", status: 400, error: "unauthorized_client", code: 7_000_112, fragment: "is disabled."),
        ErrorCase(
            name: "conditional access", status: 400, error: "interaction_required", code: 53003,
            fragment: "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."),
        ErrorCase(name: "injected unknown tenant", status: 400, error: "invalid_request", code: 90002, fragment: "Tenant '\(World.tenant)' not found."),
        ErrorCase(name: "injected unknown app", status: 400, error: "unauthorized_client", code: 700016, fragment: "was not found in the directory"),
        ErrorCase(name: "any other code", status: 400, error: "invalid_request", code: 50058, fragment: "AADSTS50058"),
    ])
    func answersInjectedTokenErrors(_ expected: ErrorCase) async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateApplication(clientID: World.clientID) { $0.tokenError = expected.code }
        try checkEntraError(try await world.requestToken(), expected)
    }

    @Test func answersAnInjectedServerError() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateApplication(clientID: World.clientID) { $0.tokenEndpointStatus = 503 }
        let response = try await world.requestToken()
        #expect(response.status == 503)
        let body = try JSONDecoder().decode(EntraErrorBody.self, from: Data(response.body))
        #expect(body.error == "temporarily_unavailable")
    }

    @Test func delaysAndHangsTokenRequests() async throws {
        let world = try World()
        world.simulator.updateApplication(clientID: World.clientID) { $0.tokenEndpointDelaySeconds = 0.3 }
        let started = ContinuousClock.now
        #expect(try await world.requestToken().status == 200)
        #expect(ContinuousClock.now - started >= .milliseconds(300))

        world.simulator.updateApplication(clientID: World.clientID) { $0.tokenEndpointHang = true }
        do {
            _ = try await world.requestToken(timeout: 0.3)
            Issue.record("a hanging token endpoint answered")
        } catch {
            #expect(error as? HTTPClientError == .timeout(seconds: 0.3))
        }
        let stopping = ContinuousClock.now
        world.simulator.stop()
        #expect(ContinuousClock.now - stopping < .seconds(2))
    }

    private func checkEntraError(_ response: HTTPClientResponse, _ expected: ErrorCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == expected.status, sourceLocation: sourceLocation)
        let body = try JSONDecoder().decode(EntraErrorBody.self, from: Data(response.body))
        #expect(body.error == expected.error, sourceLocation: sourceLocation)
        #expect(body.error_codes == [expected.code], sourceLocation: sourceLocation)
        #expect(body.error_description.hasPrefix("AADSTS\(expected.code): "), sourceLocation: sourceLocation)
        #expect(body.error_description.contains(expected.fragment), "\(body.error_description)", sourceLocation: sourceLocation)
        #expect(
            body.error_description.contains("Trace ID: \(body.trace_id) Correlation ID: \(body.correlation_id) Timestamp: \(body.timestamp)"),
            sourceLocation: sourceLocation)
        #expect(body.error_uri == "https://login.microsoftonline.com/error?code=\(expected.code)", sourceLocation: sourceLocation)
        #expect(body.timestamp.count == 20 && body.timestamp.hasSuffix("Z"), sourceLocation: sourceLocation)
        // Keys in Entra's order.
        #expect(response.text.hasPrefix(#"{"error":""#), sourceLocation: sourceLocation)
    }
}
