// Turns an Azure OpenAI answer, or the lack of one, into success or a named failure reason.
import HTTPClient
import JSON
import Auth

/// A probe's verdict before metrics: success, or a reason with the detail a person needs.
public enum ProbeVerdict: Sendable, Equatable {
    case success
    case failure(FailureReason, detail: String)

    public var reason: FailureReason? {
        if case .failure(let reason, _) = self { return reason }
        return nil
    }
}

/// Classifies by status and `error.code` first and by message fragments last, so that reworded
/// messages still land right. Accepts both body shapes and any body, JSON or not.
public enum ResponseClassifier {
    public static func classify(status: Int, body: [UInt8], headers: [(name: String, value: String)], auth: AuthMode) -> ProbeVerdict {
        let json = JSONValue.parse(body)
        let code = json?["error"]?["code"]?.stringValue ?? ""
        let message = json?["error"]?["message"]?.stringValue ?? json?["message"]?.stringValue ?? ""
        let lower = message.lowercased()
        let codeText = code.isEmpty || code == String(status) ? "" : code + ": "
        let shortMessage = message.isEmpty ? "HTTP \(status)" : "HTTP \(status) \(codeText)\(boundedLine(message, limit: TokenResponse.summaryLimit))"
        func fail(_ reason: FailureReason) -> ProbeVerdict { .failure(reason, detail: shortMessage) }

        switch status {
        case 200..<300:
            guard case .object = json else {
                return .failure(.unexpectedStatus, detail: "HTTP \(status) without a JSON object body")
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
        switch error {
        case .timeout: return .failure(.timeout, detail: error.description)
        case .dnsFailed: return .failure(.dnsFailed, detail: error.description)
        case .connectionFailed, .cancelled, .other, .setupFailed: return .failure(.connectionFailed, detail: error.description)
        case .tlsFailed: return .failure(.tlsFailed, detail: error.description)
        }
    }

    /// Seconds to wait from a 429's headers: `retry-after-ms` first (the finer one, as the openai
    /// SDK reads it), then `retry-after` (delta seconds; Azure OpenAI sends no HTTP dates); nil
    /// when neither is there, as on some of Azure's 429s.
    public static func retryAfter(_ headers: [(name: String, value: String)]) -> Double? {
        func number(_ name: String) -> Double? {
            guard let value = headers.last(where: { $0.name.lowercased() == name })?.value,
                  let number = Double(value.filter { $0 != " " }), number.isFinite, number >= 0 else { return nil }
            return number
        }
        guard let seconds = number("retry-after-ms").map({ $0 / 1000 }) ?? number("retry-after") else { return nil }
        return min(seconds, 3600)
    }
}
