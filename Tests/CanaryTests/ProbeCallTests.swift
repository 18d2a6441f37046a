// The probe's request for every probe kind and API surface: URLs, and bodies both model families take.
import AzureSimulator
import JSON
import Testing

@testable import Config
@testable import Probe

@Suite struct ProbeCallTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var probe: ProbeKind
        var apiVersion: String
        var method: String
        var path: String
        var body: String?
        var testDescription: String { "\(probe.rawValue) \(apiVersion)" }
    }

    @Test(arguments: [
        Case(
            probe: .chatCompletions, apiVersion: "2024-10-21", method: "POST", path: "openai/deployments/dep%201/chat/completions?api-version=2024-10-21",
            body: #"{"messages":[{"role":"user","content":"ping"}],"max_tokens":16}"#),
        Case(
            probe: .chatCompletions, apiVersion: "2024-06-01", method: "POST", path: "openai/deployments/dep%201/chat/completions?api-version=2024-06-01",
            body: #"{"messages":[{"role":"user","content":"ping"}],"max_tokens":16}"#),
        Case(
            probe: .chatCompletions, apiVersion: "2024-09-01-preview", method: "POST",
            path: "openai/deployments/dep%201/chat/completions?api-version=2024-09-01-preview",
            body: #"{"messages":[{"role":"user","content":"ping"}],"max_completion_tokens":1024}"#),
        Case(
            probe: .chatCompletions, apiVersion: "2025-04-01-preview", method: "POST",
            path: "openai/deployments/dep%201/chat/completions?api-version=2025-04-01-preview",
            body: #"{"messages":[{"role":"user","content":"ping"}],"max_completion_tokens":1024}"#),
        Case(
            probe: .chatCompletions, apiVersion: "v1", method: "POST", path: "openai/v1/chat/completions",
            body: #"{"model":"dep 1","messages":[{"role":"user","content":"ping"}],"max_completion_tokens":1024}"#),
        Case(
            probe: .embeddings, apiVersion: "2024-10-21", method: "POST", path: "openai/deployments/dep%201/embeddings?api-version=2024-10-21",
            body: #"{"input":"ping"}"#),
        Case(probe: .embeddings, apiVersion: "v1", method: "POST", path: "openai/v1/embeddings", body: #"{"model":"dep 1","input":"ping"}"#),
        Case(
            probe: .responses, apiVersion: "2025-04-01-preview", method: "POST", path: "openai/responses?api-version=2025-04-01-preview",
            body: #"{"model":"dep 1","input":"ping","max_output_tokens":1024}"#),
        Case(
            probe: .responses, apiVersion: "v1", method: "POST", path: "openai/v1/responses",
            body: #"{"model":"dep "#
                + #"1","input":"ping","max_output_tokens":1024}"#),
        Case(probe: .models, apiVersion: "2024-10-21", method: "GET", path: "openai/models?api-version=2024-10-21", body: nil),
        Case(probe: .models, apiVersion: "v1", method: "GET", path: "openai/v1/models", body: nil),
    ])
    func theCallFitsTheProbeAndTheAPIVersion(_ item: Case) {
        let resource = ResourceConfig(name: "r", endpoint: "https://r.openai.azure.com/", deployment: "dep 1", probe: item.probe, apiVersion: item.apiVersion)
        let call = ProbeCall(resource: resource)
        #expect(call.method == item.method)
        #expect(call.url == "https://r.openai.azure.com/" + item.path)
        #expect(call.body.map { String(decoding: $0, as: UTF8.self) } == item.body)
    }

    /// The agent's list of published versions (check-config's warning, the not-found fix) and the
    /// simulator's (its 400 "API version not supported") are one list.
    @Test func theAgentAndTheSimulatorKnowTheSameVersions() {
        #expect(APIVersion.published == AzureSimulator.publishedAPIVersions)
        #expect(APIVersion.latestPublished == AzureSimulator.latestPublishedAPIVersion)
        #expect(APIVersion("1999-01-01")?.isPublishedOrNewer == false && APIVersion("2024-11-21")?.isPublishedOrNewer == false)
        #expect(APIVersion("2024-10-21")?.isPublishedOrNewer == true && APIVersion("2099-01-01-preview")?.isPublishedOrNewer == true)
        #expect(APIVersion.v1.isPublishedOrNewer)
    }

    @Test func reasoningModelsGetNoMaxTokensWhereTheyAreServed() {
        // Reasoning models run on v1 and from 2024-12-01-preview on: there the probe sends only
        // max_completion_tokens, the one limit they take.
        for version in ["v1", "2024-12-01-preview", "2025-01-01-preview", "2025-04-01-preview"] {
            let call = ProbeCall(resource: ResourceConfig(name: "r", endpoint: "https://r.openai.azure.com/", deployment: "o4-mini", apiVersion: version))
            let body = JSONValue.parse(call.body ?? [])
            #expect(body?["max_tokens"] == nil, "\(version)")
            // Enough to think and answer: 16 is refused with "Could not finish the message" (docs/azure-answers.md).
            #expect(body?["max_completion_tokens"]?.numberValue == Double(ProbeCall.reasoningOutputTokens), "\(version)")
            #expect(ProbeCall.reasoningOutputTokens >= 256)
            #expect(body?["temperature"] == nil)
        }
    }

    @Test(arguments: [
        ("v1", true), ("2024-10-21", true), ("2025-04-01-preview", true), ("2024-09-01-preview", true), ("2024-10-21-beta2", true),
        ("V1", false), ("latest", false), ("2024-10", false), ("2024-10-21-", false), ("2024-10-21 ", false), ("20241021", false),
    ])
    func apiVersionsParse(text: String, valid: Bool) {
        #expect((APIVersion(text) != nil) == valid)
    }
}
