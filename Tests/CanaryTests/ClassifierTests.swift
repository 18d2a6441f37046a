// The classifier: every body from AZURE_AUTH_FACTS.md §3, reworded variants, odd bodies, transport errors.
import HTTPClient
import Testing

@testable import Probe
@testable import Support

@Suite struct ClassifierTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var status: Int
        var body: String
        var headers: [(name: String, value: String)] = []
        var auth: AuthMode
        var expected: FailureReason?
        var testDescription: String { name }
    }

    static let facts: [Case] = [
        Case(
            name: "bad api key", status: 401,
            body:
                #"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "#
                + #"an active subscription and use a correct regional API endpoint for your resource."}}"#,
            auth: .apiKey, expected: .invalidAPIKey),
        Case(
            name: "bearer rejected", status: 401,
            body:
                #"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), "#
                + #"or have expired."}"#,
            auth: .entraID, expected: .tokenRejected),
        Case(
            name: "wrong tenant", status: 400,
            body:
                #"{"error":{"code":"Tenant provided in token does not match resource token","message":"Token tenant 11111111-2222-3333-4444-555555555555 does "#
                + #"not match resource tenant."}}"#,
            auth: .entraID, expected: .wrongTenant),
        Case(
            name: "no data action", status: 401,
            body:
                #"{"error":{"code":"PermissionDenied","message":"The principal `00000000-0000-0000-0000-000000000000` lacks the required data action "#
                + #"`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform `POST "#
                + #"/openai/deployments/{deployment-id}/chat/completions` operation."}}"#,
            auth: .entraID, expected: .permissionDenied),
        Case(
            name: "local auth disabled", status: 403,
            body: #"{"error":{"code":"AuthenticationTypeDisabled","message": "Key based authentication is disabled for this resource."}}"#, auth: .apiKey,
            expected: .keyAuthDisabled),
        Case(
            name: "regional endpoint", status: 400, body: #"{"error":{"code":"BadRequest","message": "Please provide an authentication key."}}"#,
            auth: .entraID, expected: .regionalEndpoint),
        Case(
            name: "deployment missing", status: 404,
            body:
                #"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within "#
                + #"the last 5 minutes, please wait a moment and try again."}}"#,
            auth: .apiKey, expected: .deploymentNotFound),
        Case(name: "wrong path", status: 404, body: #"{"error":{"code":"404","message": "Resource not found"}}"#, auth: .entraID, expected: .notFound),
        Case(
            name: "throttled", status: 429, body: #"{"error":{"code":"429","message": "Rate limit is exceeded. Try again in 2 seconds."}}"#,
            headers: [("retry-after", "2")], auth: .apiKey, expected: .throttled),
        Case(
            name: "network rules", status: 403, body: #"{"error":{"code":"403","message": "Access denied due to Virtual Network/Firewall rules."}}"#,
            headers: [("policy-id", "ThrowExceptionDueToTrafficDenied")], auth: .entraID, expected: .networkDenied),
    ]

    static let reworded: [Case] = [
        Case(
            name: "permission denied, message reworded", status: 401,
            body: #"{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}"#, auth: .entraID,
            expected: .permissionDenied),
        Case(
            name: "permission denied as 403", status: 403, body: #"{"error":{"code":"PermissionDenied","message":"Principal does not have access."}}"#,
            auth: .entraID, expected: .permissionDenied),
        Case(
            name: "permission denied, no code, message only", status: 401,
            body: #"{"error":{"message":"The principal `x` lacks the required data action `y`."}}"#, auth: .entraID, expected: .permissionDenied),
        Case(
            name: "bearer rejected, statusCode shape, new words", status: 401, body: #"{"statusCode":401,"message":"Unauthorized."}"#, auth: .entraID,
            expected: .tokenRejected),
        Case(
            name: "bad key, message reworded", status: 401, body: #"{"error":{"code":"401","message":"Key invalid."}}"#, auth: .apiKey, expected: .invalidAPIKey
        ),
        Case(name: "401 with no body, key", status: 401, body: "", auth: .apiKey, expected: .invalidAPIKey),
        Case(name: "401 with no body, token", status: 401, body: "", auth: .entraID, expected: .tokenRejected),
        Case(
            name: "wrong tenant, message only", status: 400,
            body: #"{"error":{"code":"InvalidTenant","message":"Token tenant a does not match resource tenant."}}"#, auth: .entraID, expected: .wrongTenant),
        Case(
            name: "local auth disabled, code only", status: 403, body: #"{"error":{"code":"AuthenticationTypeDisabled","message":"Nope."}}"#, auth: .apiKey,
            expected: .keyAuthDisabled),
        Case(
            name: "network rules, header only", status: 403, body: #"{"error":{"code":"Forbidden","message":"Denied."}}"#,
            headers: [("Policy-Id", "ThrowExceptionDueToTrafficDenied")], auth: .apiKey, expected: .networkDenied),
        Case(
            name: "deployment missing, code only", status: 404, body: #"{"error":{"code":"DeploymentNotFound","message":"Gone."}}"#, auth: .entraID,
            expected: .deploymentNotFound),
        Case(name: "404 html", status: 404, body: "<html>Not Found</html>", auth: .apiKey, expected: .notFound),
        Case(name: "503 html", status: 503, body: "<html>Service Unavailable</html>", auth: .apiKey, expected: .serverError),
        Case(name: "500 json", status: 500, body: #"{"error":{"code":"InternalServerError","message":"x"}}"#, auth: .entraID, expected: .serverError),
        Case(
            name: "other 400 error object: the request, not the caller", status: 400,
            body: #"{"error":{"code":"BadRequest","message":"Invalid request body."}}"#, auth: .apiKey, expected: .requestRejected),
        Case(
            name: "400 error object with a null code", status: 400,
            body:
                #"{"error":{"message":"Unrecognized request argument supplied: "#
                + #"max_completion_tokens","type":"invalid_request_error","param":null,"code":null}}"#,
            auth: .entraID, expected: .requestRejected),
        // A 400 in any other shape is still the service (or a proxy) refusing the request, not the caller.
        Case(name: "400 html", status: 400, body: "<html>Bad Request</html>", auth: .apiKey, expected: .requestRejected),
        Case(name: "400 plain text", status: 400, body: "Invalid JSON in request body", auth: .entraID, expected: .requestRejected),
        Case(name: "400 bare object", status: 400, body: #"{"message":"Invalid value for 'temperature'"}"#, auth: .apiKey, expected: .requestRejected),
        Case(name: "400 empty", status: 400, body: "", auth: .apiKey, expected: .requestRejected),
        Case(name: "418", status: 418, body: "teapot", auth: .apiKey, expected: .unexpectedStatus),
        Case(name: "200 with a JSON object", status: 200, body: #"{"id":"x","choices":[]}"#, auth: .entraID, expected: nil),
        Case(name: "200 that is not JSON", status: 200, body: "<html>captive portal</html>", auth: .apiKey, expected: .unexpectedStatus),
        Case(name: "200 with invalid JSON", status: 200, body: #"{"id": "#, auth: .apiKey, expected: .unexpectedStatus),
        Case(
            name: "truncated JSON error body", status: 401, body: #"{"error":{"code":"PermissionDenied","message":"The principal `x` lacks the req"#,
            auth: .entraID, expected: .tokenRejected),
    ]

    @Test(arguments: facts + reworded)
    func classifies(_ item: Case) {
        let verdict = ResponseClassifier.classify(status: item.status, body: Array(item.body.utf8), headers: item.headers, auth: item.auth)
        #expect(verdict.reason == item.expected, "\(item.name): \(verdict)")
    }

    @Test func aHugeBodyDoesNotBreakClassification() {
        var body = Array(#"{"error":{"code":"DeploymentNotFound","message":""#.utf8)
        body += Array(repeating: UInt8(ascii: "x"), count: 70_000)
        let cut = Array(body.prefix(Prober.maxBodyBytes))
        let verdict = ResponseClassifier.classify(status: 404, body: cut, headers: [], auth: .apiKey)
        #expect(verdict.reason == .notFound)  // cut JSON falls back to the status
    }

    @Test(arguments: [
        (HTTPClientError.timeout(seconds: 1), FailureReason.timeout),
        (.dnsFailed("x"), .dnsFailed),
        (.connectionFailed("x"), .connectionFailed),
        (.tlsFailed("x"), .tlsFailed),
        (.other(code: 3, message: "x"), .connectionFailed),
    ])
    func transportErrorsHaveTheirOwnReasons(error: HTTPClientError, reason: FailureReason) {
        #expect(ResponseClassifier.classify(error).reason == reason)
    }

    @Test func retryAfterIsReadInSeconds() {
        #expect(ResponseClassifier.retryAfter([("Retry-After", "7")]) == 7)
        #expect(ResponseClassifier.retryAfter([("retry-after", "soon")]) == nil)
        #expect(ResponseClassifier.retryAfter([]) == nil)
    }

    @Test func retryAfterMillisecondsWinsOverSeconds() {
        #expect(ResponseClassifier.retryAfter([("retry-after", "2"), ("retry-after-ms", "1500")]) == 1.5)
        #expect(ResponseClassifier.retryAfter([("Retry-After-Ms", "250")]) == 0.25)
        #expect(ResponseClassifier.retryAfter([("retry-after-ms", "nan"), ("retry-after", "3")]) == 3)
    }

    @Test(arguments: [
        ("unsupported_parameter", "Unsupported parameter: 'max_tokens' is not supported with this model.", "max_completion_tokens"),
        ("OperationNotSupported", "The chatCompletion operation does not work with the specified model, text-embedding-3-small.", "probe: embeddings"),
        ("BadRequest", "Model o1 is enabled only for api versions 2024-12-01-preview and later", "api_version: v1"),
        ("content_filter", "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", "content filter"),
    ])
    func aRejectedRequestSaysWhatInTheProbeToChange(code: String, message: String, advice: String) throws {
        let body = #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#
        let failure = try #require(ResponseClassifier.classify(status: 400, body: Array(body.utf8), headers: [], auth: .entraID).failure)
        #expect(failure.reason == .requestRejected)
        #expect(failure.evidence.serviceCode == code && failure.evidence.serviceMessage == message)
        #expect(failure.fix.contains(advice))
        #expect(FailureReason.permissionDenied.fix(code: code, message: message) == FailureReason.permissionDenied.fix)
    }

    @Test func everyReasonCanComeFromSomeAuthMode() {
        let covered = Set(FailureReason.possible(for: .apiKey) + FailureReason.possible(for: .entraID))
        #expect(covered == Set(FailureReason.allCases))
    }
}
