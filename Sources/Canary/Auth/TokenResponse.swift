// Parsing the token endpoint's answer: a token, or Entra ID's error with its AADSTS code.
import JSON

/// Parses OAuth token responses from Entra ID (and, later, managed identity endpoints).
public enum TokenResponse {
    /// No Entra ID or managed identity token lives longer than a day; two is a generous bound.
    static let longestLifetime: Double = 2 * 86400

    /// Turns a response into a token, or the error it carries.
    /// `expires_in` and `refresh_in` may be numbers or numeric strings.
    public static func parse(status: Int, body: [UInt8], now: Double) throws(TokenAcquisitionError) -> CachedToken {
        guard let json = JSONValue.parse(body), case .object = json else {
            throw .badResponse(status: status, detail: body.isEmpty ? "empty body" : "body is not JSON")
        }
        guard (200..<300).contains(status) else {
            throw rejection(status: status, json: json)
        }
        guard let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw .badResponse(status: status, detail: "no access_token in the response")
        }
        let expiresOn: Double
        if let expiresIn = json["expires_in"]?.numberValue {
            expiresOn = now + expiresIn
        } else if let absolute = json["expires_on"]?.numberValue {
            expiresOn = absolute
        } else {
            throw .badResponse(status: status, detail: "no expires_in or expires_on in the response")
        }
        guard expiresOn > now else {
            throw .badResponse(status: status, detail: "the token expires immediately (expires_in \((expiresOn - now).clampedInt))")
        }
        guard expiresOn - now <= Self.longestLifetime else {
            throw .badResponse(status: status, detail: "the token claims a lifetime of \((expiresOn - now).clampedInt) s, more than \(Int(Self.longestLifetime)) s")
        }
        let refreshOn = json["refresh_in"]?.numberValue.flatMap { $0 > 0 && $0 < expiresOn - now ? now + $0 : nil }
        return CachedToken(
            accessToken: Secret(token), expiresOn: expiresOn, refreshOn: refreshOn, acquiredAt: now,
            claims: try? TokenClaims.decode(jwt: token))
    }

    /// Entra ID's error shape: `error`, `error_description` ("AADSTS7000215: ..."), `error_codes`.
    static func rejection(status: Int, json: JSONValue) -> TokenAcquisitionError {
        let error = json["error"]?.stringValue ?? "error"
        let description = json["error_description"]?.stringValue ?? ""
        var code = json["error_codes"]?.arrayValue?.first?.numberValue.flatMap { Int(exactly: $0) }
        if code == nil, description.hasPrefix("AADSTS") {
            code = Int(description.dropFirst(6).prefix { $0.isNumber })
        }
        return .rejected(status: status, error: error, aadsts: code, summary: firstSentence(of: description))
    }

    /// The description up to its first full stop, without the code prefix and trace ids.
    static func firstSentence(of description: String) -> String {
        var text = Substring(description)
        if text.hasPrefix("AADSTS"), let colon = text.firstIndex(of: ":") {
            text = text[text.index(after: colon)...].drop { $0 == " " }
        }
        if let stop = text.firstIndex(of: ".") { text = text[...stop] }
        let sentence = String(text.prefix(300))
        return sentence.isEmpty ? "no description" : sentence
    }
}
