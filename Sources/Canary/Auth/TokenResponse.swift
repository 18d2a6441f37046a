// Parsing the token endpoint's answer: a token, or Entra ID's error with its AADSTS code.
import Config
import JSON
import Log
import Support

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
            throw .badResponse(
                status: status, detail: "the token claims a lifetime of \((expiresOn - now).clampedInt) s, more than \(Int(Self.longestLifetime)) s")
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
        return .rejected(status: status, error: error, aadsts: code, summary: summary(of: description))
    }

    /// The longest summary kept of a service's message, in characters.
    public static let summaryLimit = 400

    /// The whole description, without the `AADSTS<code>:` prefix and the trace, correlation and
    /// timestamp lines Entra ID appends; bounded at `summaryLimit` characters, never cut at a `.`
    /// (tenant names and scopes hold dots).
    public static func summary(of description: String) -> String {
        var text = Substring(description)
        if text.hasPrefix("AADSTS"), let colon = text.firstIndex(of: ":"), case let digits = text[text.index(text.startIndex, offsetBy: 6)..<colon],
            !digits.isEmpty, digits.allSatisfy(\.isNumber)
        {
            text = text[text.index(after: colon)...]
        }
        for marker in ["Trace ID:", "Correlation ID:", "Timestamp:"] {
            if let range = text.firstRange(of: marker) { text = text[..<range.lowerBound] }
        }
        return boundedLine(String(text), limit: summaryLimit, empty: "no description")
    }
}

/// Text from outside (an answer's message, a token error's description) made fit to keep and
/// show: secrets the agent holds and JWT-shaped runs redacted, on one line (line breaks and tabs
/// as spaces, runs of spaces as one), trimmed, and cut at `limit` characters with "…" when
/// longer; `empty` when nothing is left.
public func boundedLine(_ text: String, limit: Int, empty: String = "") -> String {
    let text = Redaction.clean(text)
    var line = ""
    line.reserveCapacity(min(text.utf8.count, limit * 4))
    var count = 0
    var pendingSpace = false
    for character in text {
        if character.isWhitespace {
            pendingSpace = !line.isEmpty
            continue
        }
        if pendingSpace {
            line.append(" ")
            count += 1
            pendingSpace = false
        }
        if count >= limit {
            line.append("…")
            return line
        }
        line.append(character)
        count += 1
    }
    return line.isEmpty ? empty : line
}
