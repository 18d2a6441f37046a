// Reading (never verifying) the claims of an Entra ID access token.
import FoundationEssentials
import JSON

/// The claims the canary reports and diagnoses with.
public struct TokenClaims: Sendable, Equatable {
    public var audience: String?
    /// Every audience (`aud` may be a list, as in a Kubernetes service account token).
    public var audiences: [String] = []
    public var issuer: String?
    /// `sub`: for a federated token, the workload (`system:serviceaccount:NAMESPACE:NAME`).
    public var subject: String?
    public var tenantID: String?
    public var objectID: String?
    /// `appid` in v1 tokens, `azp` in v2 tokens.
    public var appID: String?
    public var version: String?
    public var issuedAt: Double?
    public var notBefore: Double?
    public var expiresAt: Double?
    public var roles: [String]
    /// `scp`: present on user (delegated) tokens only.
    public var scopes: String?
    /// `xms_mirid`: a managed identity's ARM resource id.
    public var managedIdentityResourceID: String?

    /// Decodes the payload of a JWT. The signature is not checked: the service does that.
    public static func decode(jwt: String) throws(TokenDecodeError) -> TokenClaims {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .notAJWT(segments: parts.count) }
        guard let payload = base64URLDecode(parts[1]) else { throw .badBase64 }
        guard let json = JSONValue.parse(payload), case .object = json else { throw .badJSON }
        var claims = TokenClaims(roles: [])
        if let audience = json["aud"] {
            claims.audience = audience.stringValue ?? audience.arrayValue?.first?.stringValue
            claims.audiences = audience.stringValue.map { [$0] } ?? audience.arrayValue?.compactMap(\.stringValue) ?? []
        }
        claims.issuer = json["iss"]?.stringValue
        claims.subject = json["sub"]?.stringValue
        claims.tenantID = json["tid"]?.stringValue
        claims.objectID = json["oid"]?.stringValue
        claims.appID = json["appid"]?.stringValue ?? json["azp"]?.stringValue
        claims.version = json["ver"]?.stringValue
        claims.issuedAt = json["iat"]?.numberValue
        claims.notBefore = json["nbf"]?.numberValue
        claims.expiresAt = json["exp"]?.numberValue
        claims.roles = json["roles"]?.arrayValue?.compactMap(\.stringValue) ?? []
        claims.scopes = json["scp"]?.stringValue
        claims.managedIdentityResourceID = json["xms_mirid"]?.stringValue
        return claims
    }
}

/// Why a token's claims could not be read.
public enum TokenDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not three dot-separated segments.
    case notAJWT(segments: Int)
    /// The payload is not base64url.
    case badBase64
    /// The payload is not a JSON object.
    case badJSON

    public var description: String {
        switch self {
        case .notAJWT(let segments): return "the access token is not a JWT (\(segments) segments, expected 3)"
        case .badBase64: return "the access token's payload is not base64url"
        case .badJSON: return "the access token's payload is not a JSON object"
        }
    }
}

/// Decodes base64url with or without padding.
func base64URLDecode(_ text: Substring) -> [UInt8]? {
    var standard = text.replacingOccurrences("-", "+").replacingOccurrences("_", "/")
    while standard.count % 4 != 0 { standard += "=" }
    return Data(base64Encoded: standard).map(Array.init)
}

extension StringProtocol {
    func replacingOccurrences(_ target: Character, _ replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
