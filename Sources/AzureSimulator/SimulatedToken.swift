// Access tokens the simulated Entra ID issues: JWT-shaped, readable by any decoder, signed with a fixed marker.
import FoundationEssentials
import JSON

/// The claims the data plane checks in a bearer token.
struct TokenClaims: Decodable, Sendable {
    var aud: String?
    var iss: String?
    var tid: String?
    var oid: String?
    var exp: Double?
    var nbf: Double?
    var iat: Double?
}

/// Minting and reading the simulator's access tokens. They are not cryptographically signed:
/// the third segment is a fixed marker, and any token without it is "invalid" to the data plane.
enum SimulatedToken {
    /// The signature segment of every token the simulator issues.
    static let signatureMarker = base64url(Array("aoai-canary-simulator-signature".utf8))

    /// Microsoft Graph's audiences: its URI and its application id.
    static let graphAudiences: Set<String> = ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"]

    /// A token for `app` with audience `audience`, issued at `now`; for Microsoft Graph it
    /// carries the application permissions granted (`roles`).
    static func mint(for app: SimulatedApplication, audience: String, now: Double) -> String {
        let issuedAt = Int(now.rounded(.down))
        let header = #"{"typ":"JWT","alg":"RS256","kid":"aoai-canary-simulator"}"#
        var claims: [(String, JSONValue)] = [
            ("aud", .string(audience))
        ]
        let isV1 = app.tokenVersion == "1.0"
        claims.append(("iss", .string(isV1 ? "https://sts.windows.net/\(app.tenantID)/" : "https://login.microsoftonline.com/\(app.tenantID)/v2.0")))
        claims += [
            ("iat", .int(issuedAt)),
            ("nbf", .int(issuedAt)),
            ("exp", .int(issuedAt + app.tokenLifetimeSeconds)),
        ]
        if isV1 {
            claims += [
                ("appid", .string(app.clientID)),
                ("appidacr", .string("1")),
                ("idp", .string("https://sts.windows.net/\(app.tenantID)/")),
            ]
        } else {
            claims += [
                ("azp", .string(app.clientID)),
                ("azpacr", .string("1")),
            ]
        }
        if graphAudiences.contains(audience), !app.graphRoles.isEmpty {
            claims.append(("roles", .array(app.graphRoles.map(JSONValue.string))))
        }
        claims += [
            ("idtyp", .string("app")),
            ("oid", .string(app.objectID)),
            ("sub", .string(app.objectID)),
            ("tid", .string(app.tenantID)),
            ("uti", .string(randomUTI())),
            ("ver", .string(app.tokenVersion)),
        ]
        let payload = JSONValue.object(claims).rendered
        return base64url(Array(header.utf8)) + "." + base64url(Array(payload.utf8)) + "." + signatureMarker
    }

    /// A v1.0 token for a managed identity with audience `audience`, issued at `now`, carrying
    /// `xms_mirid` as real managed-identity tokens do.
    static func mint(for identity: SimulatedManagedIdentity, audience: String, now: Double) -> String {
        let issuedAt = Int(now.rounded(.down))
        let header = #"{"typ":"JWT","alg":"RS256","kid":"aoai-canary-simulator"}"#
        let issuer = "https://sts.windows.net/\(identity.tenantID)/"
        let claims: [(String, JSONValue)] = [
            ("aud", .string(audience)),
            ("iss", .string(issuer)),
            ("iat", .int(issuedAt)),
            ("nbf", .int(issuedAt)),
            ("exp", .int(issuedAt + identity.tokenLifetimeSeconds)),
            ("appid", .string(identity.clientID)),
            ("appidacr", .string("2")),
            ("idp", .string(issuer)),
            ("idtyp", .string("app")),
            ("oid", .string(identity.objectID)),
            ("sub", .string(identity.objectID)),
            ("tid", .string(identity.tenantID)),
            ("uti", .string(randomUTI())),
            ("ver", .string("1.0")),
            ("xms_mirid", .string(identity.resourceID)),
        ]
        let payload = JSONValue.object(claims).rendered
        return base64url(Array(header.utf8)) + "." + base64url(Array(payload.utf8)) + "." + signatureMarker
    }

    /// A projected service-account token as Kubernetes writes for workload identity: `aud` an
    /// array, as the kubelet sends it. Its signature is a marker, not a signature: the token
    /// endpoint checks federated tokens' claims only.
    static func federated(issuer: String, subject: String, audience: String, lifetimeSeconds: Int, now: Double) -> String {
        let issuedAt = Int(now.rounded(.down))
        let header = #"{"alg":"RS256","kid":"aoai-canary-simulator-oidc","typ":"JWT"}"#
        let payload = JSONValue.object([
            ("aud", .array([.string(audience)])),
            ("exp", .int(issuedAt + lifetimeSeconds)),
            ("iat", .int(issuedAt)),
            ("iss", .string(issuer)),
            ("jti", .string(randomUTI())),
            ("nbf", .int(issuedAt)),
            ("sub", .string(subject)),
        ]).rendered
        return base64url(Array(header.utf8)) + "." + base64url(Array(payload.utf8)) + "." + base64url(Array("aoai-canary-simulator-oidc-unsigned".utf8))
    }

    /// The claims of a token this simulator issued; nil for anything else (foreign, malformed).
    static func verify(_ token: String) -> TokenClaims? {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[2] == signatureMarker,
            let header = base64urlDecode(segments[0]),
            (try? JSONDecoder().decode(JSONValue.self, from: Data(header))) != nil,
            let payload = base64urlDecode(segments[1])
        else { return nil }
        return try? JSONDecoder().decode(TokenClaims.self, from: Data(payload))
    }

    /// The payload of any JWT as loose JSON (used to quote a client assertion's claims in errors).
    static func unverifiedPayload(_ token: String) -> JSONValue? {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count >= 2, let payload = base64urlDecode(segments[1]) else { return nil }
        return JSONValue.parse(payload)
    }

    /// Base64url without padding.
    static func base64url(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Decodes base64url with or without padding.
    static func base64urlDecode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map { Array($0) }
    }

    /// A token identifier like Entra's `uti`: 16 random bytes in base64url.
    private static func randomUTI() -> String {
        var generator = SystemRandomNumberGenerator()
        return base64url((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
