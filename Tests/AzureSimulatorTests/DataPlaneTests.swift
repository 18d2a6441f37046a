// The simulated Azure OpenAI data plane: both auth modes, every §3 failure byte for byte, and network faults.
import AzureSimulator
import FoundationEssentials
import HTTPClient
import Testing

@Suite struct DataPlaneTests {
    @Test func keyCallsSucceedAndBadKeysGetTheKeyBody() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let ok = try await world.chat(.key(World.apiKey))
        #expect(ok.status == 200)
        #expect(ok.text.contains(#""object":"chat.completion""#))
        #expect(ok.text.contains(#""content":"pong""#))
        #expect(ok.text.contains(#""usage":{"#))
        #expect(ok.header("Content-Type") == "application/json")
        #expect(ok.header("x-ms-region") == "East US")
        #expect(ok.header("apim-request-id")?.count == 36)

        let wrong = try await world.chat(.key("not-the-key"))
        #expect(wrong.status == 401 && wrong.text == Expected.invalidKey)
        let missing = try await world.chat(.none)
        #expect(missing.status == 401 && missing.text == Expected.invalidKey)

        world.simulator.updateResource(World.resource) { $0.keyInvalid = true }
        let rotated = try await world.chat(.key(World.apiKey))
        #expect(rotated.status == 401 && rotated.text == Expected.invalidKey)
        #expect(world.simulator.requestCount(resource: World.resource) == 4)
    }

    @Test func localAuthDisabledRefusesKeysButNotTokens() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) { $0.localAuthDisabled = true }
        let key = try await world.chat(.key(World.apiKey))
        #expect(key.status == 403 && key.text == Expected.localAuthDisabled)
        #expect(try await world.chat(.bearer(try await world.token())).status == 200)
    }

    @Test func bearerCallsSucceedForChatAndModels() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let token = try await world.token()
        let chat = try await world.chat(.bearer(token))
        #expect(chat.status == 200)
        // The model and its version, as Azure answers, not the deployment's name.
        #expect(chat.text.contains(#""model":"gpt-4o-mini-2024-07-18""#))
        for path in ["openai/models?api-version=2024-10-21", "openai/v1/models"] {
            let models = try await world.models(.bearer(token), path: path)
            #expect(models.status == 200)
            #expect(models.text.hasPrefix(#"{"data":["#) && models.text.hasSuffix(#""object":"list"}"#))
        }
    }

    @Test func wrongAudienceExpiredAndForeignTokensGetTheStatusCodeBody() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let management = try await world.token(scope: "https://management.azure.com/.default")
        let wrongAudience = try await world.chat(.bearer(management))
        #expect(wrongAudience.status == 401 && wrongAudience.text == Expected.invalidToken)

        let foreign = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2lnbmF0dXJl"
        let notOurs = try await world.chat(.bearer(foreign))
        #expect(notOurs.status == 401 && notOurs.text == Expected.invalidToken)
        let garbage = try await world.chat(.bearer("not-a-jwt"))
        #expect(garbage.status == 401 && garbage.text == Expected.invalidToken)

        let token = try await world.token()
        #expect(try await world.chat(.bearer(token)).status == 200)
        world.clock.advance(3599)
        let expired = try await world.chat(.bearer(token))
        #expect(expired.status == 401 && expired.text == Expected.invalidToken)
    }

    @Test func acceptsAnAudienceWithATrailingSlash() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let token = try await world.token(scope: "https://cognitiveservices.azure.com//.default")
        #expect(try claims(of: token).aud == "https://cognitiveservices.azure.com/")
        #expect(try await world.chat(.bearer(token)).status == 200)
    }

    @Test func aTokenFromAnotherTenantGetsTheWrongTenantBody() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.addApplication(
            SimulatedApplication(tenantID: World.otherTenant, clientID: "other-app", clientSecret: "other-secret", objectID: "other-oid"))
        let token = try await world.token(tenant: World.otherTenant, clientID: "other-app", secret: "other-secret")
        let response = try await world.chat(.bearer(token))
        #expect(response.status == 400)
        #expect(response.text == Expected.wrongTenant)
    }

    @Test func aPrincipalWithoutARoleGetsPermissionDenied() async throws {
        let world = try World(roleGranted: false)
        defer { world.simulator.stop() }
        let token = try await world.token()
        let chat = try await world.chat(.bearer(token))
        #expect(chat.status == 401)
        #expect(chat.text == Expected.permissionDenied(World.objectID))
        let models = try await world.models(.bearer(token))
        #expect(models.status == 401)
        #expect(
            models.text
                == #"{"error":{"code":"PermissionDenied","message":"The principal `\#(World.objectID)` lacks the required data action "#
                + #"`Microsoft.CognitiveServices/accounts/OpenAI/models/read` to perform `GET /openai/models` operation."}}"#
        )
        // The key still works: the exact symptom of a principal with Contributor but no data role.
        #expect(try await world.chat(.key(World.apiKey)).status == 200)
    }

    @Test func aRoleAssignmentTakesEffectAfterItsPropagationDelay() async throws {
        let world = try World(roleGranted: false)
        defer { world.simulator.stop() }
        world.simulator.grantRole(resource: World.resource, objectID: World.objectID, effectiveAfterSeconds: 600)
        let token = try await world.token()
        #expect(try await world.chat(.bearer(token)).text == Expected.permissionDenied(World.objectID))
        world.clock.advance(599)
        #expect(try await world.chat(.bearer(token)).status == 401)
        world.clock.advance(1)
        #expect(try await world.chat(.bearer(token)).status == 200)
        world.simulator.revokeRole(resource: World.resource, objectID: World.objectID)
        #expect(try await world.chat(.bearer(token)).status == 401)
    }

    @Test func aRegionalEndpointRefusesTokensButTakesKeys() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) { $0.regionalEndpoint = true }
        let response = try await world.chat(.bearer(try await world.token()))
        #expect(response.status == 400 && response.text == Expected.regional)
        #expect(try await world.chat(.key(World.apiKey)).status == 200)
    }

    @Test func networkRulesDenyBothModesWithThePolicyHeader() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) { $0.networkDenied = true }
        for auth in [Auth.key(World.apiKey), .bearer(try await world.token())] {
            let response = try await world.chat(auth)
            #expect(response.status == 403)
            #expect(response.text == Expected.networkDenied)
            #expect(response.header("policy-id") == "ThrowExceptionDueToTrafficDenied")
        }
    }

    @Test func missingDeploymentsAndWrongPathsGet404() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let unknown = try await world.chat(.key(World.apiKey), deployment: "gpt-5")
        #expect(unknown.status == 404 && unknown.text == Expected.deploymentNotFound)
        world.simulator.updateResource(World.resource) { $0.deploymentMissing = true }
        let missing = try await world.chat(.bearer(try await world.token()))
        #expect(missing.status == 404 && missing.text == Expected.deploymentNotFound)

        let wrongPath = try await world.models(.key(World.apiKey), path: "openai/deployments?api-version=2024-10-21")
        #expect(wrongPath.status == 404 && wrongPath.text == Expected.resourceNotFound)
        let noResource = try await world.chat(.key(World.apiKey), resource: "nonexistent")
        #expect(noResource.status == 404 && noResource.text == Expected.resourceNotFound)
        #expect(noResource.header("apim-request-id") != nil)
    }

    @Test func throttlingAnswers429WithRateLimitHeaders() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) { $0.throttleRetryAfterSeconds = 2 }
        let response = try await world.chat(.key(World.apiKey))
        #expect(response.status == 429)
        #expect(response.text == Expected.throttled)
        #expect(response.header("retry-after") == "2")
        #expect(response.header("x-ratelimit-remaining-requests") == "0")
        #expect(response.header("x-ratelimit-remaining-tokens") != nil)
        #expect(response.header("x-ms-region") == "East US")
        #expect(response.header("apim-request-id") != nil)

        world.simulator.updateResource(World.resource) { $0.throttleRetryAfterSeconds = 17 }
        #expect(try await world.chat(.key(World.apiKey)).text.contains("Try again in 17 seconds."))
        // Authentication comes first: a bad key is still a 401 on a throttled resource.
        #expect(try await world.chat(.key("bad")).status == 401)
    }

    @Test(arguments: [500, 503])
    func serverErrorsAnswerTheirStatusWithAJSONBody(_ status: Int) async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) { $0.serverErrorStatus = status }
        let response = try await world.chat(.key(World.apiKey))
        #expect(response.status == status)
        #expect(response.text.hasPrefix(#"{"error":{"code":"#))
        #expect(response.header("Content-Type") == "application/json")
    }

    @Test func delayedAndDroppedRequests() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) { $0.delaySeconds = 0.3 }
        let started = ContinuousClock.now
        #expect(try await world.chat(.key(World.apiKey)).status == 200)
        #expect(ContinuousClock.now - started >= .milliseconds(300))

        world.simulator.updateResource(World.resource) {
            $0.delaySeconds = 0
            $0.closeConnection = true
        }
        do {
            _ = try await world.chat(.key(World.apiKey))
            Issue.record("a dropped connection answered")
        } catch {
            guard case .connectionFailed? = error as? HTTPClientError else {
                Issue.record("expected a connection failure, got \(error)")
                return
            }
        }
    }

    @Test func aHangingResourceTimesOutAndStopReturnsPromptly() async throws {
        let world = try World()
        world.simulator.updateResource(World.resource) { $0.hang = true }
        do {
            _ = try await world.chat(.key(World.apiKey), timeout: 0.3)
            Issue.record("a hanging resource answered")
        } catch {
            #expect(error as? HTTPClientError == .timeout(seconds: 0.3))
        }
        // A second request in flight while stopping must not hold stop() either.
        async let pending = world.chat(.key(World.apiKey), timeout: 5)
        try await Task.sleep(for: .milliseconds(100))
        let stopping = ContinuousClock.now
        world.simulator.stop()
        #expect(ContinuousClock.now - stopping < .seconds(2))
        #expect((try? await pending) == nil)
    }

    @Test(arguments: [
        (784_111_777.0, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (0.0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400.5, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_767_225_599.0, "Wed, 31 Dec 2025 23:59:59 GMT"),
    ])
    func theDateHeaderIsAnIMFFixdateFromTheInjectedClock(_ epoch: Double, _ expected: String) async throws {
        let world = try World(clock: TestClock(epoch))
        defer { world.simulator.stop() }
        let response = try await world.chat(.key(World.apiKey))
        #expect(response.header("Date") == expected)
        #expect(response.headerCount("Date") == 1)
    }
}
