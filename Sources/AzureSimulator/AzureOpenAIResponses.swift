// The Azure OpenAI data plane's answers, with the bodies of AZURE_AUTH_FACTS.md §3 byte for byte.
import JSON

/// Bodies and headers the simulated data plane answers with. The quoted error bodies keep the
/// real service's quirks, such as the space after `"message":` in some of them.
enum AzureOpenAIResponses {
    /// 401: a bad or missing `api-key`.
    static let invalidKey = #"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}"#

    /// 403: a key used where local authentication is disabled.
    static let authenticationTypeDisabled = #"{"error":{"code":"AuthenticationTypeDisabled","message": "Key based authentication is disabled for this resource."}}"#

    /// 400: an Entra ID token sent to a regional endpoint.
    static let regionalEndpoint = #"{"error":{"code":"BadRequest","message": "Please provide an authentication key."}}"#

    /// 404: a deployment the resource does not have.
    static let deploymentNotFound = #"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}}"#

    /// 404: a path the service does not serve, or a resource that does not exist.
    static let resourceNotFound = #"{"error":{"code":"404","message": "Resource not found"}}"#

    /// 403: the caller is outside the resource's network rules (sent with `policy-id`).
    static let networkDenied = #"{"error":{"code":"403","message": "Access denied due to Virtual Network/Firewall rules."}}"#

    /// 401: a bearer token that is missing, invalid, for another audience or expired.
    /// The audience in the message is the resource's expected one (the real text names cognitive services).
    static func invalidToken(expectedAudience: String) -> String {
        #"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect ("# + expectedAudience + #"), or have expired."}"#
    }

    /// 400: a token issued by another tenant; the message names the token's tenant.
    static func wrongTenant(tokenTenant: String) -> String {
        #"{"error":{"code":"Tenant provided in token does not match resource token","message":"Token tenant "# + escaped(tokenTenant) + #" does not match resource tenant."}}"#
    }

    /// 401: the principal has no role carrying the data action (yet).
    static func permissionDenied(objectID: String, dataAction: String, operation: String) -> String {
        #"{"error":{"code":"PermissionDenied","message":"The principal `"# + escaped(objectID) + "` lacks the required data action `" + dataAction + "` to perform `" + operation + #"` operation."}}"#
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
        case 503: return #"{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request. Please try again later."}}"#
        case 504: return #"{"error":{"code":"Timeout","message":"The operation was timeout."}}"#
        default: return #"{"error":{"code":""# + String(status) + #"","message":"The service answered with status "# + String(status) + #"."}}"#
        }
    }

    /// 200: a one-token chat completion answering "pong".
    static func chatCompletion(deployment: String, created: Int, id: String) -> String {
        JSONValue.object([
            ("choices", .array([.object([
                ("content_filter_results", .object([])),
                ("finish_reason", .string("stop")),
                ("index", .int(0)),
                ("logprobs", .null),
                ("message", .object([
                    ("content", .string("pong")),
                    ("refusal", .null),
                    ("role", .string("assistant")),
                ])),
            ])])),
            ("created", .int(created)),
            ("id", .string(id)),
            ("model", .string(deployment)),
            ("object", .string("chat.completion")),
            ("prompt_filter_results", .array([])),
            ("system_fingerprint", .string("fp_simulator")),
            ("usage", .object([
                ("completion_tokens", .int(1)),
                ("prompt_tokens", .int(8)),
                ("total_tokens", .int(9)),
            ])),
        ]).rendered
    }

    /// 200: the models list, one entry per deployment.
    static func modelsList(deployments: [String], created: Int) -> String {
        JSONValue.object([
            ("data", .array(deployments.map { name in
                .object([
                    ("capabilities", .object([
                        ("chat_completion", .bool(true)),
                        ("completion", .bool(false)),
                        ("embeddings", .bool(false)),
                        ("fine_tune", .bool(false)),
                        ("inference", .bool(true)),
                    ])),
                    ("created_at", .int(created)),
                    ("id", .string(name)),
                    ("lifecycle_status", .string("generally-available")),
                    ("object", .string("model")),
                    ("status", .string("succeeded")),
                ])
            })),
            ("object", .string("list")),
        ]).rendered
    }

    /// `text` for inside a JSON string literal (the quotes removed).
    private static func escaped(_ text: String) -> String {
        String(jsonString(text).dropFirst().dropLast())
    }
}
