// Turns an Azure OpenAI answer, or the lack of one, into success or a named failure reason.
import Auth
import HTTPClient
import JSON
import Support

/// Classifies by status and `error.code` first and by message fragments last, so that reworded
/// messages still land right. Accepts both body shapes and any body, JSON or not.
public enum ResponseClassifier {
    public static func classify(status: Int, body: [UInt8], headers: [(name: String, value: String)], auth: AuthMode) -> ProbeVerdict {
        let json = JSONValue.parse(body)
        let code = json?["error"]?["code"]?.stringValue ?? ""
        let message = json?["error"]?["message"]?.stringValue ?? json?["message"]?.stringValue ?? ""
        let lower = message.lowercased()
        // The evidence is gathered only for a failure: a success carries none.
        func fail(_ reason: FailureReason) -> ProbeVerdict {
            let evidence = Evidence(
                httpStatus: status, serviceCode: code.isEmpty ? nil : code, serviceMessage: message.isEmpty ? nil : Self.kept(message),
                principal: quoted(after: "principal", in: message), dataAction: quoted(after: "data action", in: message),
                namedTenant: word(after: "Token tenant ", in: message))
            return .failure(reason, evidence)
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
            // Any other error object is about the request (a parameter, the model, the prompt):
            // the service authenticated the caller and refused what it asked for.
            if json?["error"]?["message"] != nil || !code.isEmpty { return fail(.requestRejected) }
            return fail(.unexpectedStatus)
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
