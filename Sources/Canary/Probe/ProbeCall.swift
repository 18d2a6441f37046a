// The HTTP call a probe makes, for each probe kind on the dated and the v1 API surfaces.
import Config
import JSON
import Support

/// Method, URL and body of a resource's canary call. The bodies hold only what every model family
/// the API version serves accepts: chat completions send `max_completion_tokens` on v1 and on the
/// previews that have it (reasoning models refuse `max_tokens`; classic chat models take both),
/// and `max_tokens` on GA 2024-10-21 and older versions, which list no other limit and serve no
/// reasoning model. Nothing else that reasoning models refuse (`temperature`, a system message).
public struct ProbeCall: Sendable, Equatable {
    public var method: String
    public var url: String
    public var body: [UInt8]?

    /// The output-token budget of chat completions through `max_tokens`: the versions that
    /// take only it serve no reasoning model, and a chat model says "pong" in a few tokens.
    public static let outputTokens = 16
    /// The budget through `max_completion_tokens` and `max_output_tokens`, which reasoning models
    /// take: they spend tokens thinking before they answer, and with too small a budget they
    /// refuse with 400 "Could not finish the message because max_tokens or model output limit
    /// was reached" (or answer 200 with nothing, `finish_reason` `length`). A trivial prompt was
    /// seen to cost 24 to 220 tokens (docs/azure-answers.md); a budget is a ceiling, not a cost,
    /// so a chat model still spends a few.
    public static let reasoningOutputTokens = 1024
    /// What a chat or responses probe says, and an embeddings probe embeds.
    static let prompt = "ping"

    public init(resource: ResourceConfig) {
        let api = resource.api ?? .dated(date: resource.apiVersion, text: resource.apiVersion)
        let deployment = resource.deployment ?? ""
        let base = resource.endpoint + "openai/"
        let query: String
        let v1: Bool
        switch api {
        case .v1:
            query = ""
            v1 = true
        case .dated(_, let text):
            query = "?api-version=" + formEncode(text)
            v1 = false
        }
        // On v1 the deployment travels in the body's `model`; on dated versions in the path.
        let model: [(String, JSONValue)] = v1 ? [("model", .string(deployment))] : []
        let deploymentPath = v1 ? "v1/" : "deployments/\(formEncode(deployment))/"
        switch resource.probe {
        case .chatCompletions:
            method = "POST"
            url = base + deploymentPath + "chat/completions" + query
            var fields = model + [("messages", .array([.object([("role", .string("user")), ("content", .string(Self.prompt))])]))]
            fields.append(
                api.hasMaxCompletionTokens ? ("max_completion_tokens", .int(Self.reasoningOutputTokens)) : ("max_tokens", .int(Self.outputTokens)))
            body = Array(JSONValue.object(fields).rendered.utf8)
        case .embeddings:
            method = "POST"
            url = base + deploymentPath + "embeddings" + query
            body = Array(JSONValue.object(model + [("input", .string(Self.prompt))]).rendered.utf8)
        case .responses:
            method = "POST"
            url = base + (v1 ? "v1/" : "") + "responses" + query
            body = Array(
                JSONValue.object([
                    ("model", .string(deployment)), ("input", .string(Self.prompt)),
                    ("max_output_tokens", .int(Self.reasoningOutputTokens)),
                ]).rendered.utf8)
        case .models:
            method = "GET"
            url = base + (v1 ? "v1/" : "") + "models" + query
            body = nil
        }
    }
}
