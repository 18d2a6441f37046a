// Client assertions at the token endpoint: certificate-signed JWTs and federated (workload identity) tokens, checked as Entra ID does.
import Crypto
import HTTPServer
import JSON

/// A JWT client assertion split into the parts the checks read. Nothing in it is trusted yet.
struct ClientAssertion {
    /// The decoded JOSE header.
    var header: JSONValue
    /// The decoded payload.
    var claims: JSONValue
    /// `<header>.<payload>` as sent: the bytes the signature covers.
    var signingInput: [UInt8]
    /// The decoded third segment (empty for an unsigned token).
    var signature: [UInt8]

    /// Splits and decodes `token`; nil unless it is three base64url segments with JSON objects in the first two.
    init?(_ token: String) {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3,
            let headerBytes = SimulatedToken.base64urlDecode(segments[0]),
            let payloadBytes = SimulatedToken.base64urlDecode(segments[1]),
            let header = JSONValue.parse(headerBytes), header.objectMembers != nil,
            let claims = JSONValue.parse(payloadBytes), claims.objectMembers != nil,
            let signature = segments[2].isEmpty ? [] : SimulatedToken.base64urlDecode(segments[2])
        else { return nil }
        self.header = header
        self.claims = claims
        self.signingInput = Array("\(segments[0]).\(segments[1])".utf8)
        self.signature = signature
    }

    /// A string claim; nil when missing or not a string.
    func string(_ claim: String) -> String? {
        if case .string(let text)? = claims[claim] { return text }
        return nil
    }

    /// A numeric claim (epoch seconds for `exp`, `nbf`, `iat`).
    func number(_ claim: String) -> Double? {
        switch claims[claim] {
        case .int(let value)?: return Double(value)
        case .double(let value)?: return value
        default: return nil
        }
    }

    /// The audiences: `aud` may be one string or an array of them (Kubernetes sends an array).
    var audiences: [String] {
        switch claims["aud"] {
        case .string(let text)?: return [text]
        case .array(let items)?: return items.compactMap { if case .string(let text) = $0 { return text } else { return nil } }
        default: return []
        }
    }
}

/// The audience every federated credential expects.
let federatedTokenAudience = "api://AzureADTokenExchange"

extension SimulatorCore {
    /// Nil when `assertion` authenticates `app` at `tenant`; otherwise Entra's refusal.
    ///
    /// An assertion whose `iss` is the app's client id is a certificate assertion: its header's
    /// `x5t#S256` (SHA-256) or `x5t` (SHA-1) thumbprint must name a registered certificate whose
    /// key verifies the `alg` (RS256 or PS256) signature, `aud` must be the token URL and `sub`
    /// equal `iss`. Any other assertion is a federated token: a federated credential with its
    /// `iss` and `sub` must exist and `aud` must be `api://AzureADTokenExchange`; its signature is
    /// not checked. Both must be within their validity (`exp` in the future, `nbf` at most 5 minutes ahead).
    func checkClientAssertion(_ token: String, app: SimulatedApplication, tenant: String, host: String?) -> HTTPResponse? {
        let malformed = entraError(code: 50027, status: 400, error: "invalid_request", description: "JWT token is invalid or malformed.")
        guard let assertion = ClientAssertion(token), let issuer = assertion.string("iss"),
            let expiresAt = assertion.number("exp")
        else { return malformed }
        let key = app.clientID.lowercased()

        if issuer.lowercased() == key {
            guard case .string(let name)? = assertion.header["alg"], let algorithm = SignatureAlgorithm(rawValue: name) else {
                return entraError(
                    code: 700027, status: 401, error: "invalid_client",
                    description: "Client assertion failed signature validation. [Reason - The assertion's algorithm is not RS256 or PS256.]")
            }
            let wanted: (thumbprint: [UInt8], sha256: Bool)
            if case .string(let text)? = assertion.header["x5t#S256"], let bytes = SimulatedToken.base64urlDecode(text) {
                wanted = (bytes, true)
            } else if case .string(let text)? = assertion.header["x5t"], let bytes = SimulatedToken.base64urlDecode(text) {
                wanted = (bytes, false)
            } else {
                return entraError(
                    code: 700027, status: 401, error: "invalid_client",
                    description: "Client assertion failed signature validation. [Reason - The assertion header names no x5t or x5t#S256 thumbprint.]")
            }
            let thumbprint = Self.hex(wanted.thumbprint).uppercased()
            let registered = state.withLock { state in
                state.certificates[key]?.first { (wanted.sha256 ? $0.sha256Thumbprint : $0.sha1Thumbprint) == wanted.thumbprint }
            }
            guard let registered else {
                return entraError(
                    code: 700027, status: 401, error: "invalid_client",
                    description:
                        "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not "
                        + "found., Thumbprint of key used by client: '\(thumbprint)', Please visit the Azure Portal, Graph Explorer or directly use MS "
                        + "Graph to see configured keys for app Id '\(app.clientID)'.]"
                )
            }
            guard registered.publicKey.verify(assertion.signature, of: assertion.signingInput, algorithm: algorithm) else {
                return entraError(
                    code: 700027, status: 401, error: "invalid_client",
                    description:
                        "Client assertion failed signature validation. [Reason - The key was found but use of the key to verify the signature failed., "
                        + "Thumbprint of key used by client: '\(thumbprint)']"
                )
            }
            let path = "/\(tenant)/oauth2/v2.0/token"
            var tokenURLs = [authority.withLock { $0 } + path]
            if let host { tokenURLs.append("http://\(host)\(path)") }
            guard assertion.audiences.count == 1, tokenURLs.contains(assertion.audiences[0]) else {
                return entraError(
                    code: 700023, status: 401, error: "invalid_client",
                    description:
                        "Client assertion audience claim does not match Realm issuer. The audience was '\(assertion.audiences.joined(separator: ", "))'; "
                        + "expected '\(tokenURLs[0])'. Review the documentation at "
                        + "https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
                )
            }
            guard assertion.string("sub") == issuer else {
                return entraError(
                    code: 700021, status: 401, error: "invalid_client",
                    description:
                        "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at "
                        + "https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
                )
            }
        } else {
            // As Entra ID does today: the issuer first (700211), then the subject (700213), then
            // the audience (700212); an application with no federated credential at all gets the
            // older generic 70021.
            let subject = assertion.string("sub")
            let credentials = state.withLock { $0.federatedCredentials[key] ?? [] }
            let code: Int?
            if credentials.isEmpty {
                code = 70021
            } else if !credentials.contains(where: { $0.issuer == issuer }) {
                code = 700211
            } else if !credentials.contains(where: { $0.issuer == issuer && $0.subject == subject }) {
                code = 700213
            } else if !credentials.contains(where: { $0.issuer == issuer && $0.subject == subject && !Set($0.audiences).isDisjoint(with: assertion.audiences) })
            {
                code = 700212
            } else {
                code = nil
            }
            if let code { return entraError(code: code, tenant: tenant, clientID: app.clientID, assertion: token) }
        }

        let current = now()
        let notBefore = assertion.number("nbf")
        if expiresAt <= current || (notBefore ?? current) > current + 300 {
            return assertionTimeError(validFrom: notBefore ?? assertion.number("iat") ?? current, expiresAt: expiresAt)
        }
        return nil
    }

    /// AADSTS700024 naming the current time and the assertion's validity.
    func assertionTimeError(validFrom: Double, expiresAt: Double) -> HTTPResponse {
        entraError(
            code: 700024, status: 401, error: "invalid_client",
            description:
                "Client assertion is not within its valid time range. Current time: \(HTTPDate.entraTimestamp(now())), assertion valid from "
                + "\(HTTPDate.entraTimestamp(validFrom)), expiry time of assertion \(HTTPDate.entraTimestamp(expiresAt)). Review the documentation at "
                + "https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
        )
    }
}
