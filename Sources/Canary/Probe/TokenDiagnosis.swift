// Why the service refused a token: the claims of the token sent, read against the endpoint and the service's clock.
import Log
import Config
import Auth

/// Splits the service's generic 401 by what the token sent says, and sharpens tenant and
/// permission failures with the values the service named.
public enum TokenDiagnosis {
    /// The sharper verdict for a failure, given the token sent and the service's time.
    public static func refine(_ verdict: ProbeVerdict, claims: TokenClaims?, endpoint: String, serviceTime: Double) -> ProbeVerdict {
        guard case .failure(let reason, let detail) = verdict else { return verdict }
        switch reason {
        case .tokenRejected:
            guard let claims else { return verdict }
            let expected = EndpointAudience.expected(for: endpoint)
            if let audience = claims.audience, !EndpointAudience.same(audience, expected) {
                return .failure(.tokenAudienceMismatch, detail: "the token's audience is \(audience); this endpoint wants \(expected)")
            }
            if let expiry = claims.expiresAt, expiry <= serviceTime {
                return .failure(.tokenExpired, detail: "the token expired at \(Timestamp.iso8601(wallSeconds: expiry)), \((serviceTime - expiry).clampedInt) s before the service's time")
            }
            if let notBefore = claims.notBefore, notBefore > serviceTime {
                return .failure(.tokenNotYetValid, detail: "the token is valid from \(Timestamp.iso8601(wallSeconds: notBefore)), \((notBefore - serviceTime).clampedInt) s after the service's time: clock skew")
            }
            return verdict
        case .wrongTenant:
            let named = backtickOrWord(after: "Token tenant ", in: detail)
            let tenant = claims?.tenantID ?? "?"
            var text = "the token is from tenant \(tenant)"
            if let named, named != tenant { text += " (the service names \(named))" }
            return .failure(.wrongTenant, detail: text + "; the resource is in another tenant: " + detail)
        case .permissionDenied:
            let principal = quoted(after: "principal", in: detail) ?? claims?.objectID ?? "?"
            guard let action = quoted(after: "data action", in: detail) else {
                return .failure(.permissionDenied, detail: "principal \(principal) lacks a data-plane role: \(detail)")
            }
            return .failure(.permissionDenied, detail: "principal \(principal) lacks the data action \(action) (HTTP 401 PermissionDenied)")
        default:
            return verdict
        }
    }

    /// The text between backticks after `marker`: "The principal `x` lacks..." gives x.
    static func quoted(after marker: String, in text: String) -> String? {
        guard let range = text.firstRange(of: marker + " `") else { return nil }
        let rest = text[range.upperBound...]
        guard let end = rest.firstIndex(of: "`") else { return nil }
        return String(rest[..<end])
    }

    static func backtickOrWord(after marker: String, in text: String) -> String? {
        guard let range = text.firstRange(of: marker) else { return nil }
        let word = text[range.upperBound...].prefix { !$0.isWhitespace && $0 != "`" }
        return word.isEmpty ? nil : String(word)
    }
}
