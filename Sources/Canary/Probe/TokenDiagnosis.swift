// Why the service refused a token: the claims of the token sent, read against the endpoint and the service's clock.

/// What an endpoint's cloud expects of tokens.
public enum EndpointAudience {
    /// The `aud` the endpoint wants: `https://cognitiveservices.azure.com` for public Azure OpenAI,
    /// `.us` for Azure Government, `.cn` for Azure China, `https://ai.azure.com` for AI Foundry projects.
    public static func expected(for endpoint: String) -> String {
        let parsed = EndpointURL(endpoint)
        let host = parsed?.host ?? ""
        if host.hasSuffix(".services.ai.azure.com"), parsed?.path.contains("/api/projects/") == true { return "https://ai.azure.com" }
        if host.hasSuffix(".azure.us") { return "https://cognitiveservices.azure.us" }
        if host.hasSuffix(".azure.cn") { return "https://cognitiveservices.azure.cn" }
        return "https://cognitiveservices.azure.com"
    }

    /// The scope to ask for on that endpoint.
    public static func scope(for endpoint: String) -> String {
        expected(for: endpoint) + "/.default"
    }

    static func same(_ a: String, _ b: String) -> Bool {
        func trim(_ text: String) -> String { text.hasSuffix("/") ? String(text.dropLast()) : text }
        return trim(a).lowercased() == trim(b).lowercased()
    }
}

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

/// HTTP dates (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`), without Foundation's formatters.
public enum HTTPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func parse(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), (1...31).contains(day),
              let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]), (1970...9999).contains(year) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0..<24).contains(clock[0]), (0..<60).contains(clock[1]), (0...60).contains(clock[2]) else { return nil }
        return Double(daysFromCivil(year: year, month: month + 1, day: day) * 86400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
    }
}
