// The Azure OpenAI data plane's answers, with the bodies of AZURE_AUTH_FACTS.md §3 byte for byte.
import FoundationEssentials
import JSON

/// Bodies and headers the simulated data plane answers with. The quoted error bodies keep the
/// real service's quirks, such as the space after `"message":` in some of them.
enum AzureOpenAIResponses {
    /// 401: a bad or missing `api-key`.
    static let invalidKey =
        #"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "#
        + #"active subscription and use a correct regional API endpoint for your resource."}}"#

    /// 403: a key used where local authentication is disabled.
    static let authenticationTypeDisabled =
        #"{"error":{"code":"AuthenticationTypeDisabled","message": "Key based authentication is disabled for this resource."}}"#

    /// 400: an Entra ID token sent to a regional endpoint.
    static let regionalEndpoint = #"{"error":{"code":"BadRequest","message": "Please provide an authentication key."}}"#

    /// 404: a deployment the resource does not have.
    static let deploymentNotFound =
        #"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last "#
        + #"5 minutes, please wait a moment and try again."}}"#

    /// 404: a path the service does not serve, or a resource that does not exist.
    static let resourceNotFound = #"{"error":{"code":"404","message": "Resource not found"}}"#

    /// 403: the caller is outside the resource's network rules (sent with `policy-id`).
    static let networkDenied = #"{"error":{"code":"403","message": "Access denied due to Virtual Network/Firewall rules."}}"#

    /// 401: a bearer token that is missing, invalid, for another audience or expired.
    /// The audience in the message is the resource's expected one (the real text names cognitive services).
    static func invalidToken(expectedAudience: String) -> String {
        #"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect ("# + expectedAudience + #"), or have expired."}"#
    }

    /// 401 from a gateway that quotes the credential it got (not Azure's own wording).
    static func echoing(_ credential: String) -> String {
        #"{"error":{"code":"401","message":"Access denied: the credential in \""# + escaped(credential) + #"\" was not accepted."}}"#
    }

    /// 400: a token issued by another tenant; the message names the token's tenant.
    static func wrongTenant(tokenTenant: String) -> String {
        #"{"error":{"code":"Tenant provided in token does not match resource token","message":"Token tenant "# + escaped(tokenTenant)
            + #" does not match resource tenant."}}"#
    }

    /// 401: the principal has no role carrying the data action (yet).
    static func permissionDenied(objectID: String, dataAction: String, operation: String) -> String {
        #"{"error":{"code":"PermissionDenied","message":"The principal `"# + escaped(objectID) + "` lacks the required data action `" + dataAction
            + "` to perform `" + operation + #"` operation."}}"#
    }

    /// 429: throttled; the message tells how long to wait, as `retry-after` does.
    static func throttled(retryAfterSeconds: Int) -> String {
        #"{"error":{"code":"429","message": "Rate limit is exceeded. Try again in "# + String(retryAfterSeconds) + #" seconds."}}"#
    }

    /// A 5xx answer in the service's error shape.
    static func serverError(status: Int) -> String {
        switch status {
        case 500: return #"{"error":{"code":"InternalServerError","message":"The server had an error while processing your request. Sorry about that!"}}"#
        case 502: return #"{"error":{"code":"BadGateway","message":"Bad gateway."}}"#
        case 503:
            return #"{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request. Please try again later."}}"#
        case 504: return #"{"error":{"code":"Timeout","message":"The operation was timeout."}}"#
        default: return #"{"error":{"code":""# + String(status) + #"","message":"The service answered with status "# + String(status) + #"."}}"#
        }
    }

    // MARK: Refusals of the request itself (the caller passed authentication)

    /// 400: a body that is not a JSON object.
    static let unparsableBody =
        #"{"error":{"message":"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The "#
        + #"OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us "#
        + #"through our help center at help.openai.com.)","type":"invalid_request_error","param":null,"code":null}}"#

    /// 400: a v1 or responses call without `model`.
    static let missingModel = #"{"error":{"message":"you must provide a model parameter","type":"invalid_request_error","param":null,"code":null}}"#

    /// 400: a chat call without messages.
    static let missingMessages =
        #"{"error":{"message":"Missing required parameter: "#
        + #"'messages'.","type":"invalid_request_error","param":"messages","code":"missing_required_parameter"}}"#

    /// 400: an embeddings or responses call without `input`.
    static let missingInput =
        #"{"error":{"message":"Missing required parameter: 'input'.","type":"invalid_request_error","param":"input","code":"missing_required_parameter"}}"#

    /// 400: a reasoning model whose output budget ran out before it could answer.
    static let couldNotFinish =
        #"{"error":{"message":"Could not finish the message because max_tokens or model output limit was reached. Please try again with higher "#
        + #"max_tokens.","type":"invalid_request_error","param":null,"code":null}}"#

    /// 400: no api-version on a dated route, or one the service has never had: the service's 404
    /// (its front door knows no such route).
    static let apiVersionUnsupported = #"{"error":{"code":"BadRequest","message":"API version not supported"}}"#

    /// 400: an operation the deployment's model does not serve (chat on an embedding model).
    static func operationNotSupported(operation: String, model: String) -> String {
        #"{"error":{"code":"OperationNotSupported","message":"The "# + operation + " operation does not work with the specified model, " + escaped(model)
            + #". Please choose different model and try again. You can learn more about which models can be used with each operation here: "#
            + #"https://go.microsoft.com/fwlink/?linkid=2197993."}}"#
    }

    /// 400: a reasoning model called with an API version before its first.
    static func apiVersionTooOld(model: String, since: String) -> String {
        #"{"error":{"code":"BadRequest","message":"Model "# + escaped(model) + " is enabled only for api versions " + since + #" and later"}}"#
    }

    /// 400: the Responses API on a dated version before its first.
    static let responsesVersionTooOld =
        #"{"error":{"code":"BadRequest","message":"Azure OpenAI Responses API is enabled only for api-version 2025-03-01-preview and later"}}"#

    /// 400: a parameter this API version does not know.
    static func unrecognizedArgument(_ name: String) -> String {
        #"{"error":{"message":"Unrecognized request argument supplied: "# + name + #"","type":"invalid_request_error","param":null,"code":null}}"#
    }

    /// 400: a parameter the model refuses, and the one to use instead.
    static func unsupportedParameter(_ name: String, instead: String) -> String {
        #"{"error":{"message":"Unsupported parameter: '"# + name + "' is not supported with this model. Use '" + instead
            + #"' instead.","type":"invalid_request_error","param":""# + name + #"","code":"unsupported_parameter"}}"#
    }

    /// 400: a value the model refuses (reasoning models take only the default temperature).
    static func unsupportedValue(_ name: String) -> String {
        #"{"error":{"message":"Unsupported value: '"# + name
            + "' does not support 0.0 with this model. Only the default (1) value is supported.\",\"type\":\"invalid_request_error\",\"param\":\"" + name
            + #"","code":"unsupported_value"}}"#
    }

    /// 400: an integer below the parameter's minimum.
    static func belowMinimum(_ name: String, minimum: Int, got: Int) -> String {
        #"{"error":{"message":"Invalid '"# + name
            + "': integer below minimum value. Expected a value >= \(minimum), but got \(got) instead.\",\"type\":\"invalid_request_error\",\"param\":\"" + name
            + #"","code":"integer_below_min_value"}}"#
    }

    // MARK: Answers

    /// Content-filter results for a harmless completion, as the service attaches to each choice.
    static let completionFilterResults: JSONValue = .object([
        ("hate", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
        ("protected_material_code", .object([("filtered", .bool(false)), ("detected", .bool(false))])),
        ("protected_material_text", .object([("filtered", .bool(false)), ("detected", .bool(false))])),
        ("self_harm", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
        ("sexual", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
        ("violence", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
    ])

    /// Content-filter results for a harmless prompt.
    static let promptFilterResults: JSONValue = .array([
        .object([
            ("prompt_index", .int(0)),
            (
                "content_filter_results",
                .object([
                    ("hate", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
                    ("jailbreak", .object([("filtered", .bool(false)), ("detected", .bool(false))])),
                    ("self_harm", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
                    ("sexual", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
                    ("violence", .object([("filtered", .bool(false)), ("severity", .string("safe"))])),
                ])
            ),
        ])
    ])

    /// Token counts of the one-word answer, `choices` times over; a reasoning model also spends
    /// reasoning tokens.
    static func chatUsage(_ model: SimulatedDeployment, choices: Int = 1, cutAt limit: Int? = nil) -> JSONValue {
        let reasoning = limit ?? (model.family == .reasoning ? reasoningSpend : 0) * choices
        let answer = limit == nil ? choices : 0
        return .object([
            ("completion_tokens", .int(answer + reasoning)),
            (
                "completion_tokens_details",
                .object([
                    ("accepted_prediction_tokens", .int(0)), ("audio_tokens", .int(0)),
                    ("reasoning_tokens", .int(reasoning)), ("rejected_prediction_tokens", .int(0)),
                ])
            ),
            ("prompt_tokens", .int(8)),
            ("prompt_tokens_details", .object([("audio_tokens", .int(0)), ("cached_tokens", .int(0))])),
            ("total_tokens", .int(8 + answer + reasoning)),
        ])
    }

    /// The tokens a simulated reasoning model thinks before it answers.
    static let reasoningSpend = 64

    /// 200: a chat completion answering "pong", in `choices` choices (the request's `n`); with
    /// `cutAt`, a reasoning model that spent that whole budget thinking: no content, `length`.
    static func chatCompletion(model: SimulatedDeployment, created: Int, id: String, choices: Int = 1, cutAt limit: Int? = nil) -> String {
        JSONValue.object([
            (
                "choices",
                .array(
                    (0..<choices).map { index in
                        .object([
                            ("content_filter_results", completionFilterResults),
                            ("finish_reason", .string(limit == nil ? "stop" : "length")),
                            ("index", .int(index)),
                            ("logprobs", .null),
                            (
                                "message",
                                .object([
                                    ("annotations", .array([])),
                                    ("content", .string(limit == nil ? "pong" : "")),
                                    ("refusal", .null),
                                    ("role", .string("assistant")),
                                ])
                            ),
                        ])
                    })
            ),
            ("created", .int(created)),
            ("id", .string(id)),
            ("model", .string(model.answeredName)),
            ("object", .string("chat.completion")),
            ("prompt_filter_results", promptFilterResults),
            ("system_fingerprint", .string("fp_simulator")),
            ("usage", chatUsage(model, choices: choices, cutAt: limit)),
        ]).rendered
    }

    /// 200 with `stream: true`: server-sent events as Azure sends them: the prompt's filter
    /// results first, the role, the content, the finish, the usage when asked for, `[DONE]`.
    static func chatCompletionStream(model: SimulatedDeployment, created: Int, id: String, includeUsage: Bool, choices: Int = 1) -> String {
        func chunk(_ delta: JSONValue, finish: String?, filters: JSONValue, index: Int) -> JSONValue {
            .object([
                (
                    "choices",
                    .array([
                        .object([
                            ("content_filter_results", filters),
                            ("delta", delta),
                            ("finish_reason", finish.map(JSONValue.string) ?? .null),
                            ("index", .int(index)),
                            ("logprobs", .null),
                        ])
                    ])
                ),
                ("created", .int(created)),
                ("id", .string(id)),
                ("model", .string(model.answeredName)),
                ("object", .string("chat.completion.chunk")),
                ("system_fingerprint", .string("fp_simulator")),
                ("usage", .null),
            ])
        }
        var events: [JSONValue] = [
            .object([
                ("choices", .array([])), ("created", .int(0)), ("id", .string("")), ("model", .string("")), ("object", .string("")),
                ("prompt_filter_results", promptFilterResults),
            ])
        ]
        // Each choice's role, content and finish, one choice after another.
        for index in 0..<choices {
            events += [
                chunk(
                    .object([("content", .string("")), ("refusal", .null), ("role", .string("assistant"))]), finish: nil, filters: .object([]), index: index),
                chunk(.object([("content", .string("pong"))]), finish: nil, filters: completionFilterResults, index: index),
                chunk(.object([]), finish: "stop", filters: .object([]), index: index),
            ]
        }
        if includeUsage {
            events.append(
                .object([
                    ("choices", .array([])), ("created", .int(created)), ("id", .string(id)), ("model", .string(model.answeredName)),
                    ("object", .string("chat.completion.chunk")), ("system_fingerprint", .string("fp_simulator")),
                    ("usage", chatUsage(model, choices: choices)),
                ]))
        }
        return events.map { "data: " + $0.rendered + "\n\n" }.joined() + "data: [DONE]\n\n"
    }

    /// The dimensions of the simulated embedding: short, the content does not matter.
    static let embeddingDimensions = 8

    /// 200: one embedding per input, as floats or (as the openai SDK asks by default) as
    /// base64 of little-endian float32s.
    static func embeddings(model: SimulatedDeployment, base64: Bool, inputs: Int = 1) -> String {
        let values = (0..<embeddingDimensions).map { Float($0 + 1) / Float(embeddingDimensions * 4) }
        let embedding: JSONValue
        if base64 {
            var bytes: [UInt8] = []
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            embedding = .string(Data(bytes).base64EncodedString())
        } else {
            embedding = .array(values.map { .double(Double($0)) })
        }
        return JSONValue.object([
            ("data", .array((0..<inputs).map { .object([("embedding", embedding), ("index", .int($0)), ("object", .string("embedding"))]) })),
            ("model", .string(model.model)),
            ("object", .string("list")),
            ("usage", .object([("prompt_tokens", .int(inputs)), ("total_tokens", .int(inputs))])),
        ]).rendered
    }

    /// 200: a completed response (the Responses API) answering "pong".
    static func response(model: SimulatedDeployment, created: Int, id: String, maxOutputTokens: Int?) -> String {
        responseObject(model: model, created: created, id: id, maxOutputTokens: maxOutputTokens, completed: true).rendered
    }

    /// The response object: completed with its message and usage, or (as the stream's first
    /// events carry it) in progress with neither.
    static func responseObject(model: SimulatedDeployment, created: Int, id: String, maxOutputTokens: Int?, completed: Bool) -> JSONValue {
        let reasoning = model.family == .reasoning ? 64 : 0
        let usage: JSONValue = .object([
            ("input_tokens", .int(8)),
            ("input_tokens_details", .object([("cached_tokens", .int(0))])),
            ("output_tokens", .int(1 + reasoning)),
            ("output_tokens_details", .object([("reasoning_tokens", .int(reasoning))])),
            ("total_tokens", .int(9 + reasoning)),
        ])
        return .object([
            ("id", .string(id)),
            ("object", .string("response")),
            ("created_at", .int(created)),
            ("status", .string(completed ? "completed" : "in_progress")),
            ("error", .null),
            ("incomplete_details", .null),
            ("instructions", .null),
            ("max_output_tokens", maxOutputTokens.map(JSONValue.int) ?? .null),
            ("model", .string(model.answeredName)),
            ("output", .array(completed ? [responseMessage(id: id, text: "pong", completed: true)] : [])),
            ("parallel_tool_calls", .bool(true)),
            ("temperature", .double(1)),
            ("tool_choice", .string("auto")),
            ("tools", .array([])),
            ("top_p", .double(1)),
            ("truncation", .string("disabled")),
            ("usage", completed ? usage : .null),
        ])
    }

    /// The answer's message item; in progress it has no content yet.
    static func responseMessage(id: String, text: String, completed: Bool) -> JSONValue {
        .object([
            ("id", .string("msg_" + String(id.dropFirst(5)))),
            ("type", .string("message")),
            ("status", .string(completed ? "completed" : "in_progress")),
            ("content", .array(completed ? [outputText(text)] : [])),
            ("role", .string("assistant")),
        ])
    }

    static func outputText(_ text: String) -> JSONValue {
        .object([("type", .string("output_text")), ("annotations", .array([])), ("logprobs", .array([])), ("text", .string(text))])
    }

    /// 200 with `stream: true` on the Responses API: named server-sent events, each data object
    /// carrying its `type` and `sequence_number`, from `response.created` to
    /// `response.completed`; no `[DONE]` line.
    static func responseStream(model: SimulatedDeployment, created: Int, id: String, maxOutputTokens: Int?) -> String {
        let item = "msg_" + String(id.dropFirst(5))
        let place: [(String, JSONValue)] = [("item_id", .string(item)), ("output_index", .int(0)), ("content_index", .int(0))]
        let events: [(String, [(String, JSONValue)])] = [
            ("response.created", [("response", responseObject(model: model, created: created, id: id, maxOutputTokens: maxOutputTokens, completed: false))]),
            (
                "response.in_progress",
                [("response", responseObject(model: model, created: created, id: id, maxOutputTokens: maxOutputTokens, completed: false))]
            ),
            ("response.output_item.added", [("output_index", .int(0)), ("item", responseMessage(id: id, text: "", completed: false))]),
            ("response.content_part.added", place + [("part", outputText(""))]),
            ("response.output_text.delta", place + [("delta", .string("pong")), ("logprobs", .array([]))]),
            ("response.output_text.done", place + [("text", .string("pong")), ("logprobs", .array([]))]),
            ("response.content_part.done", place + [("part", outputText("pong"))]),
            ("response.output_item.done", [("output_index", .int(0)), ("item", responseMessage(id: id, text: "pong", completed: true))]),
            ("response.completed", [("response", responseObject(model: model, created: created, id: id, maxOutputTokens: maxOutputTokens, completed: true))]),
        ]
        return events.enumerated().map { number, event in
            let data = JSONValue.object([("type", .string(event.0)), ("sequence_number", .int(number))] + event.1)
            return "event: \(event.0)\ndata: \(data.rendered)\n\n"
        }.joined()
    }

    /// 200: the models list, one entry per deployment's model, with its capabilities.
    static func modelsList(deployments: [(String, SimulatedDeployment)], created: Int) -> String {
        var seen: Set<String> = []
        let models = deployments.map(\.1).filter { seen.insert($0.answeredName).inserted }
        return JSONValue.object([
            (
                "data",
                .array(
                    models.map { model in
                        .object([
                            (
                                "capabilities",
                                .object([
                                    ("chat_completion", .bool(model.family != .embeddings)),
                                    ("completion", .bool(false)),
                                    ("embeddings", .bool(model.family == .embeddings)),
                                    ("fine_tune", .bool(false)),
                                    ("inference", .bool(true)),
                                ])
                            ),
                            ("created_at", .int(created)),
                            ("id", .string(model.answeredName)),
                            ("lifecycle_status", .string("generally-available")),
                            ("object", .string("model")),
                            ("status", .string("succeeded")),
                        ])
                    })
            ),
            ("object", .string("list")),
        ]).rendered
    }

    /// `text` for inside a JSON string literal (the quotes removed).
    private static func escaped(_ text: String) -> String {
        String(jsonString(text).dropFirst().dropLast())
    }
}
