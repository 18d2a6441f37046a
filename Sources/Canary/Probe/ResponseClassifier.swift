// Turns an Azure OpenAI answer, or the lack of one, into success or a named failure reason.
import Auth
import HTTPClient
import JSON
import Support

/// Classifies by status and `error.code` first and by message fragments last, so that reworded
/// messages still land right. Accepts both body shapes and any body, JSON or not.
public enum ResponseClassifier {
    /// `gateway`: the resource sits behind a gateway (`gateway:` in its configuration), so an
    /// answer in API Management's shape that is not the service's own is the gateway's.
    public static func classify(status: Int, body: [UInt8], headers: [(name: String, value: String)], auth: AuthMode, gateway: Bool = false) -> ProbeVerdict {
        let json = JSONValue.parse(body)
        let code = json?["error"]?["code"]?.stringValue ?? ""
        let message = json?["error"]?["message"]?.stringValue ?? json?["message"]?.stringValue ?? (json == nil ? Self.plainText(body) : "")
        let lower = message.lowercased()
        // The evidence is gathered only for a failure: a success carries none.
        func fail(_ reason: FailureReason, fromGateway: Bool = false) -> ProbeVerdict {
            var evidence = Evidence(
                httpStatus: status, serviceCode: code.isEmpty ? nil : code, serviceMessage: message.isEmpty ? nil : Self.kept(message),
                principal: quoted(after: "principal", in: message), dataAction: quoted(after: "data action", in: message),
                namedTenant: word(after: "Token tenant ", in: message))
            evidence.fromGateway = fromGateway
            return .failure(reason, evidence)
        }

        if let reason = gatewayReason(status: status, json: json, lower: lower, headers: headers, auth: auth, gateway: gateway) {
            return fail(reason, fromGateway: true)
        }
        // Behind a gateway that calls the service as itself, a key call refused for its
        // principal, or for a bad token, is the gateway's identity refused, not the caller's key.
        if gateway, auth == .apiKey, status == 401 || status == 403,
            code == "PermissionDenied" || lower.contains("lacks the required data action") || Self.isServiceTokenRefusal(lower)
        {
            return fail(.gatewayBackendAuthFailed)
        }

        switch status {
        case 200..<300:
            guard case .object = json else {
                var evidence = Evidence(httpStatus: status)
                evidence.bodyNotJSON = true
                return .failure(.unexpectedStatus, evidence)
            }
            return .success
        case 401:
            // A key call's 401 is about the key, whatever the words; a token call's is about the token.
            guard auth == .entraID else { return fail(.invalidAPIKey) }
            if code == "PermissionDenied" { return fail(.permissionDenied) }
            if json?["statusCode"] != nil || code == "401" { return fail(.tokenRejected) }
            if lower.contains("lacks the required data action") { return fail(.permissionDenied) }
            return fail(.tokenRejected)
        case 400:
            if auth == .entraID {
                if code.lowercased().contains("tenant") || lower.contains("does not match resource tenant") { return fail(.wrongTenant) }
                if lower.contains("provide an authentication key") { return fail(.regionalEndpoint) }
            }
            // Any other 400 is about the request (a parameter, the model, the prompt), whatever
            // its shape: Azure's envelope, OpenAI's, a bare object or plain text from a proxy.
            return fail(.requestRejected)
        case 403:
            if code == "AuthenticationTypeDisabled" || lower.contains("authentication is disabled") {
                return fail(auth == .apiKey ? .keyAuthDisabled : .unexpectedStatus)
            }
            if code == "PermissionDenied" || lower.contains("lacks the required data action") {
                return fail(auth == .entraID ? .permissionDenied : .unexpectedStatus)
            }
            let policy = headers.last { $0.name.lowercased() == "policy-id" }?.value ?? ""
            if policy.contains("TrafficDenied") || lower.contains("firewall") || lower.contains("virtual network") || code == "403" {
                return fail(.networkDenied)
            }
            return fail(.unexpectedStatus)
        case 404:
            if code == "DeploymentNotFound" || lower.contains("deployment for this resource does not exist") { return fail(.deploymentNotFound) }
            return fail(.notFound)
        case 429:
            return fail(.throttled)
        case 500..<600:
            return fail(.serverError)
        default:
            return fail(.unexpectedStatus)
        }
    }

    /// The service's own refusal of a bearer token, which comes in API Management's shape too:
    /// "Unauthorized. Access token is missing, invalid, audience is incorrect (...), or have expired."
    static func isServiceTokenRefusal(_ lower: String) -> Bool {
        lower.contains("access token is missing, invalid, audience is incorrect")
    }

    /// The reason for an answer the gateway made itself, nil for the service's. API Management
    /// answers `{"statusCode": N, "message": "..."}` with no `error` object and, unlike the
    /// service (which is fronted by API Management of its own), no `apim-request-id`. Without
    /// `gateway:` only its unmistakable words count (a subscription key, a JWT, a quota, a
    /// gateway's limits), so a reworded service message is not taken for a gateway's.
    static func gatewayReason(
        status: Int, json: JSONValue?, lower: String, headers: [(name: String, value: String)], auth: AuthMode, gateway: Bool
    ) -> FailureReason? {
        // A success is never the gateway's refusal: checked first, it costs a probe that passed nothing.
        guard !(200..<300).contains(status), let json, json["statusCode"] != nil, json["error"] == nil, !isServiceTokenRefusal(lower) else { return nil }
        let hasServiceRequestID = headers.contains { $0.name.lowercased() == "apim-request-id" }
        let unmistakable =
            lower.contains("subscription key") || lower.contains("jwt") || lower.contains("out of call volume quota")
            || lower.contains("out of bandwidth quota") || lower.contains("token limit is exceeded") || lower.contains("token quota is exceeded")
            || (status == 429 && !hasServiceRequestID)
        guard unmistakable || (gateway && !hasServiceRequestID) else { return nil }
        if lower.contains("subscription key") { return .gatewayKeyRejected }
        // Rate and token limits (429), call, bandwidth and token quotas (403).
        if status == 429 || lower.contains("quota") { return .gatewayThrottled }
        switch status {
        case 401:
            // validate-jwt or validate-azure-ad-token, with their default words or the API's own
            // (on a key canary: the API takes no call without a token).
            return .gatewayTokenRejected
        case 403: return .networkDenied  // ip-filter: "Forbidden"
        case 404: return .notFound  // no API at this URL suffix, or no operation for the path
        case 500..<600: return .serverError
        default: return nil
        }
    }

    /// Behind a gateway that calls the service with its own identity, a `PermissionDenied` that
    /// names a principal other than the canary's token's is the gateway's identity refused.
    public static func behindGateway(_ verdict: ProbeVerdict, tokenObjectID: String?) -> ProbeVerdict {
        guard case .failure(let failure) = verdict, failure.reason == .permissionDenied, let named = failure.evidence.principal, let own = tokenObjectID,
            named.lowercased() != own.lowercased()
        else { return verdict }
        return .failure(.gatewayBackendAuthFailed, failure.evidence)
    }

    /// The reason for a call that got no HTTP response.
    public static func classify(_ error: HTTPClientError) -> ProbeVerdict {
        let evidence = Evidence(failure: error.description)
        switch error {
        case .timeout: return .failure(.timeout, evidence)
        case .dnsFailed: return .failure(.dnsFailed, evidence)
        case .connectionFailed, .cancelled, .other, .setupFailed: return .failure(.connectionFailed, evidence)
        case .tlsFailed: return .failure(.tlsFailed, evidence)
        }
    }

    /// The most of a service's message kept, redacted: a body is at most 64 KiB, and a message
    /// longer than this says nothing a person reads.
    static let messageLimit = 4096

    static func kept(_ message: String) -> String {
        let clean = Redaction.clean(message)
        return clean.utf8.count <= messageLimit ? clean : String(clean.prefix(messageLimit))
    }

    /// A body that is not JSON, as one line of text when it is short enough to be a message:
    /// "Invalid JSON in request body" says what an HTML error page would bury.
    static func plainText(_ body: [UInt8]) -> String {
        guard !body.isEmpty, body.count <= 512, !body.contains(UInt8(ascii: "<")) else { return "" }
        let text = String(decoding: body, as: UTF8.self)
        return text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The text between backticks after `marker`: "The principal `x` lacks..." gives x.
    static func quoted(after marker: String, in text: String) -> String? {
        guard let range = text.firstRange(of: marker + " `") else { return nil }
        let rest = text[range.upperBound...]
        guard let end = rest.firstIndex(of: "`") else { return nil }
        return Redaction.clean(String(rest[..<end]))
    }

    /// The word after `marker`, up to a blank or a backtick.
    static func word(after marker: String, in text: String) -> String? {
        guard let range = text.firstRange(of: marker) else { return nil }
        let word = text[range.upperBound...].prefix { !$0.isWhitespace && $0 != "`" }
        return word.isEmpty ? nil : Redaction.clean(String(word))
    }

    /// Seconds to wait from a 429's headers: `retry-after-ms` first (the finer one, as the openai
    /// SDK reads it), then `retry-after` (delta seconds; Azure OpenAI sends no HTTP dates); nil
    /// when neither is there, as on some of Azure's 429s.
    public static func retryAfter(_ headers: [(name: String, value: String)]) -> Double? {
        func number(_ name: String) -> Double? {
            guard let value = headers.last(where: { $0.name.lowercased() == name })?.value,
                let number = Double(value.filter { $0 != " " }), number.isFinite, number >= 0
            else { return nil }
            return number
        }
        guard let seconds = number("retry-after-ms").map({ $0 / 1000 }) ?? number("retry-after") else { return nil }
        return min(seconds, 3600)
    }
}
