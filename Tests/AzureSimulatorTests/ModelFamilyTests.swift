// The data plane as today's Azure answers: model families and their rules, the v1 API, path
// endpoints, streaming, Azure's headers and 429 variants, and HTTPS with discovery for MSAL.
import Crypto
import Foundation
import HTTPClient
import Testing

@testable import AzureSimulator

@Suite struct ModelFamilyTests {
    /// A world whose resource has a chat, a reasoning and an embedding deployment.
    func makeWorld() throws -> World {
        let world = try World()
        world.simulator.updateResource(World.resource) { $0.deployments = ["gpt-4o-mini", "o4-mini", "text-embedding-3-small"] }
        return world
    }

    func post(_ world: World, _ path: String, _ body: String, _ auth: Auth, base: String? = nil) async throws -> HTTPClientResponse {
        try await client.execute(
            HTTPClientRequest(
                method: "POST", url: (base ?? world.simulator.endpoint(for: World.resource)) + path,
                headers: [("Content-Type", "application/json")] + auth.headers, body: Array(body.utf8)))
    }

    @Test func aReasoningModelRefusesMaxTokensAsAzureDoes() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let refused = try await post(
            world, "openai/deployments/o4-mini/chat/completions?api-version=2025-04-01-preview",
            #"{"messages":[{"role":"user","content":"ping"}],"max_tokens":16}"#, .key(World.apiKey))
        #expect(refused.status == 400)
        // Byte for byte the body recorded in docs/azure-answers.md (lobehub/lobehub#4315).
        #expect(
            refused.text
                == #"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' "#
                + #"instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#
        )
        let old = try await post(
            world, "openai/deployments/o4-mini/chat/completions?api-version=2024-10-21",
            #"{"messages":[{"role":"user","content":"ping"}]}"#, .key(World.apiKey))
        #expect(old.text == #"{"error":{"code":"BadRequest","message":"Model o4-mini is enabled only for api versions 2024-12-01-preview and later"}}"#)
        // A budget too small to think in: tiny ones are refused, as published (docs/azure-answers.md).
        let tiny = try await post(
            world, "openai/deployments/o4-mini/chat/completions?api-version=2025-04-01-preview",
            #"{"messages":[{"role":"user","content":"ping"}],"max_completion_tokens":16}"#, .key(World.apiKey))
        #expect(tiny.status == 400)
        #expect(
            tiny.text
                == #"{"error":{"message":"Could not finish the message because max_tokens or model output limit was reached. Please try again with "#
                + #"higher max_tokens.","type":"invalid_request_error","param":null,"code":null}}"#)
        // A larger one still too small is spent thinking: 200, no content, `length`.
        let spent = try await post(
            world, "openai/deployments/o4-mini/chat/completions?api-version=2025-04-01-preview",
            #"{"messages":[{"role":"user","content":"ping"}],"max_completion_tokens":40}"#, .key(World.apiKey))
        #expect(spent.status == 200)
        #expect(spent.text.contains(#""finish_reason":"length""#) && spent.text.contains(#""content":"""#) && spent.text.contains(#""reasoning_tokens":40"#))
        let fine = try await post(
            world, "openai/deployments/o4-mini/chat/completions?api-version=2025-04-01-preview",
            #"{"messages":[{"role":"user","content":"ping"}],"max_completion_tokens":1024}"#, .key(World.apiKey))
        #expect(fine.status == 200)
        #expect(fine.text.contains(#""model":"o4-mini-2025-04-16""#) && fine.text.contains(#""reasoning_tokens":64"#))
        #expect(fine.text.contains(#""finish_reason":"stop""#) && fine.text.contains(#""content":"pong""#))
    }

    @Test func anEmbeddingModelRefusesChatAndAChatModelRefusesEmbeddings() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let chat = try await post(
            world, "openai/deployments/text-embedding-3-small/chat/completions?api-version=2024-10-21",
            #"{"messages":[{"role":"user","content":"ping"}]}"#, .key(World.apiKey))
        #expect(chat.status == 400)
        #expect(
            chat.text
                == #"{"error":{"code":"OperationNotSupported","message":"The chatCompletion operation does not work with the specified model, "#
                + #"text-embedding-3-small. Please choose different model and try again. You can learn more about which models can be used with each "#
                + #"operation here: https://go.microsoft.com/fwlink/?linkid=2197993."}}"#
        )
        let embeddings = try await post(world, "openai/deployments/gpt-4o-mini/embeddings?api-version=2024-10-21", #"{"input":"ping"}"#, .key(World.apiKey))
        #expect(embeddings.status == 400 && embeddings.text.contains("The embeddings operation does not work with the specified model, gpt-4o-mini."))
        let ok = try await post(
            world, "openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21", #"{"input":"ping","encoding_format":"base64"}"#,
            .key(World.apiKey))
        #expect(ok.status == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(ok.body)) as? [String: Any])
        let first = try #require((body["data"] as? [[String: Any]])?.first)
        let encoded = try #require(first["embedding"] as? String)
        let bytes = try #require(Data(base64Encoded: encoded))
        #expect(bytes.count == 4 * AzureOpenAIResponses.embeddingDimensions)  // little-endian float32s
    }

    @Test func theV1APITakesTheKeyEitherWayAndTheDeploymentFromTheBody() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"ping"}],"max_completion_tokens":16}"#
        #expect(try await post(world, "openai/v1/chat/completions", body, .key(World.apiKey)).status == 200)
        #expect(try await post(world, "openai/v1/chat/completions", body, .bearer(World.apiKey)).status == 200)
        #expect(try await post(world, "openai/v1/chat/completions", body, .bearer("wrong-key")).status == 401)
        #expect(try await post(world, "openai/v1/chat/completions", body, .bearer(try await world.token())).status == 200)
        // Microsoft's v1 examples ask for https://ai.azure.com/.default: v1 takes that audience too.
        #expect(try await post(world, "openai/v1/chat/completions", body, .bearer(try await world.token(scope: "https://ai.azure.com/.default"))).status == 200)
        // The dated API does not take the key as a bearer token.
        let dated = try await post(
            world, "openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", #"{"messages":[{"role":"user","content":"x"}]}"#,
            .bearer(World.apiKey))
        #expect(dated.status == 401)
        let noModel = try await post(world, "openai/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}]}"#, .key(World.apiKey))
        #expect(noModel.status == 400)
        let unknown = try await post(world, "openai/v1/chat/completions", #"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#, .key(World.apiKey))
        #expect(unknown.status == 404 && unknown.text.contains("DeploymentNotFound"))
        let responses = try await post(world, "openai/v1/responses", #"{"model":"gpt-4o-mini","input":"ping","max_output_tokens":16}"#, .key(World.apiKey))
        #expect(responses.status == 200 && responses.text.contains(#""object":"response""#) && responses.text.contains(#""status":"completed""#))
        let small = try await post(world, "openai/v1/responses", #"{"model":"gpt-4o-mini","input":"ping","max_output_tokens":10}"#, .key(World.apiKey))
        #expect(small.status == 400 && small.text.contains("integer_below_min_value"))
        let oldResponses = try await post(world, "openai/responses?api-version=2024-10-21", #"{"model":"gpt-4o-mini","input":"ping"}"#, .key(World.apiKey))
        #expect(oldResponses.status == 400 && oldResponses.text.contains("enabled only for api-version 2025-03-01-preview and later"))
    }

    @Test func everyAnswerCarriesAzuresHeadersAndStreamsEndInDone() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let stream = try await post(
            world, "openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
            #"{"messages":[{"role":"user","content":"ping"}],"stream":true,"stream_options":{"include_usage":true}}"#, .key(World.apiKey))
        #expect(stream.status == 200)
        #expect(stream.header("Content-Type")?.hasPrefix("text/event-stream") == true)
        for name in ["x-request-id", "apim-request-id", "x-ms-region", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens"] {
            #expect(stream.header(name) != nil, "\(name)")
        }
        #expect(stream.header("x-request-id") != stream.header("apim-request-id"), "two ids, as on a captured success (docs/azure-answers.md)")
        let events = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.first?.hasPrefix(#"data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":"#) == true)
        #expect(events.last == "data: [DONE]")
        #expect(events.contains { $0.contains(#""delta":{"content":"pong"}"#) } && events.contains { $0.contains(#""usage":{"completion_tokens""#) })
        let missing = try await post(world, "openai/deployments/nope/chat/completions?api-version=2024-10-21", "{}", .key(World.apiKey))
        #expect(missing.status == 404 && missing.header("x-request-id") != nil)
    }

    @Test(arguments: [
        (ThrottleHeaders.both, ["retry-after": "3", "retry-after-ms": "3000"]), (.seconds, ["retry-after": "3"]),
        (.milliseconds, ["retry-after-ms": "3000"]), (.none, [:]),
    ])
    func throttlingComesWithTheWaitHeadersAsked(headers: ThrottleHeaders, expected: [String: String]) async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        world.simulator.updateResource(World.resource) {
            $0.throttleRetryAfterSeconds = 3
            $0.throttleHeaders = headers
        }
        let response = try await world.chat(.key(World.apiKey))
        #expect(response.status == 429)
        for name in ["retry-after", "retry-after-ms"] {
            #expect(response.header(name) == expected[name], "\(name)")
        }
    }

    @Test func eachResourceAnswersAtItsOwnPathOnTheSimulatorsAddress() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        world.simulator.addResource(SimulatedResource(name: "other", tenantID: World.tenant, apiKey: "other-key", deployments: ["gpt-4o-mini"]))
        let base = world.simulator.pathEndpoint(for: World.resource)
        #expect(base == "\(world.simulator.authority)/resources/\(World.resource)/")
        let ok = try await post(
            world, "openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", #"{"messages":[{"role":"user","content":"x"}]}"#,
            .key(World.apiKey), base: base)
        #expect(ok.status == 200)
        // Another resource's key does not open this one: the endpoints are distinct resources.
        let other = try await post(
            world, "openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", #"{"messages":[{"role":"user","content":"x"}]}"#,
            .key("other-key"), base: base)
        #expect(other.status == 401)
        #expect(world.simulator.requestCount(resource: World.resource) == 2)
    }

    @Test func overHTTPSTheSimulatorServesDiscoveryAndTokensToACAItWrote() async throws {
        let certificates = try SimulatorCertificates()
        let clock = TestClock()
        let simulator = try AzureSimulator(tls: certificates.serverTLS, now: { clock.now })
        defer { simulator.stop() }
        let world = World(simulator: simulator, clock: clock)
        simulator.addApplication(SimulatedApplication(tenantID: World.tenant, clientID: World.clientID, clientSecret: World.secret, objectID: World.objectID))
        let caFile = NSTemporaryDirectory() + "aoai-canary-ca-" + UUID().uuidString + ".pem"
        try certificates.caPEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        #expect(simulator.authority.hasPrefix("https://127.0.0.1:"))

        let discovery = try await client.execute(
            HTTPClientRequest(url: "\(simulator.authority)/\(World.tenant)/v2.0/.well-known/openid-configuration", caFile: caFile))
        #expect(discovery.status == 200)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(discovery.body)) as? [String: Any])
        #expect(document["token_endpoint"] as? String == "\(simulator.authority)/\(World.tenant)/oauth2/v2.0/token")
        #expect(document["authorization_endpoint"] as? String == "\(simulator.authority)/\(World.tenant)/oauth2/v2.0/authorize")
        let unknown = try await client.execute(
            HTTPClientRequest(url: "\(simulator.authority)/no-such-tenant/v2.0/.well-known/openid-configuration", caFile: caFile))
        #expect(unknown.status == 400 && unknown.text.contains("AADSTS90002"))

        let token = try await client.execute(
            HTTPClientRequest(
                method: "POST", url: "\(simulator.authority)/\(World.tenant)/oauth2/v2.0/token",
                headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array(
                    formEncode([
                        ("grant_type", "client_credentials"), ("client_id", World.clientID), ("client_secret", World.secret), ("scope", World.cognitiveScope),
                    ]).utf8),
                caFile: caFile))
        #expect(token.status == 200)
        // Without the CA, the certificate is not trusted.
        await #expect(throws: HTTPClientError.self) {
            _ = try await client.execute(HTTPClientRequest(url: "\(simulator.authority)/\(World.tenant)/v2.0/.well-known/openid-configuration"))
        }
        _ = world
    }
}
