// The client credentials flow with a certificate: a JWT client assertion signed RS256 or PS256.
import Config
import Crypto
import HTTPClient
import JSON

/// Gets tokens for an app registration with a certificate, the way azure-identity and MSAL do.
public struct ClientCertificateSource: TokenSource {
    public let settings: ClientCertificateSettings
    private var certificate: Certificate { settings.certificate }
    private var key: PrivateKey { settings.privateKey }
    private var algorithm: SignatureAlgorithm { settings.algorithm }

    public init(settings: ClientCertificateSettings) {
        self.settings = settings
    }

    /// The signed assertion: header `{alg, typ, x5t}` (or `x5t#S256` for PS256), payload
    /// `aud` = token URL, `iss` = `sub` = client id, `jti`, `nbf` = now, `exp` = now + 1800.
    func assertion(audience: String, now: Double) throws(CryptoError) -> String {
        let thumbprint: (String, JSONValue) =
            algorithm == .rs256
            ? ("x5t", .string(JWTEncoding.base64URL(certificate.sha1Thumbprint)))
            : ("x5t#S256", .string(JWTEncoding.base64URL(certificate.sha256Thumbprint)))
        let header = JWTEncoding.object([("alg", .string(algorithm.rawValue)), ("typ", .string("JWT")), thumbprint])
        let issued = now.clampedInt
        let payload = JWTEncoding.object([
            ("aud", .string(audience)), ("exp", .int(issued + 1800)), ("iss", .string(settings.clientID)),
            ("jti", .string(randomUUID())), ("nbf", .int(issued)), ("sub", .string(settings.clientID)),
        ])
        let signingInput = JWTEncoding.base64URL(header) + "." + JWTEncoding.base64URL(payload)
        let signature = try key.sign(Array(signingInput.utf8), algorithm: algorithm)
        return signingInput + "." + JWTEncoding.base64URL(signature)
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        let endpoint = EntraTokenEndpoint(authority: settings.authority, tenantID: settings.tenantID)
        let jwt: String
        do {
            jwt = try assertion(audience: endpoint.url, now: context.clock.wallSeconds)
        } catch {
            throw .unavailable("cannot sign the client assertion with \(settings.privateKeyPath ?? settings.certificatePath): \(error)")
        }
        return try await endpoint.requestToken(
            clientID: settings.clientID, scope: settings.scope, credential: EntraTokenEndpoint.assertion(jwt),
            source: "client_certificate", context: context)
    }

    public func credentialExpiries() -> [CredentialExpiry] {
        settings.certificateNotAfter.map { [CredentialExpiry(kind: "certificate", timestamp: $0, source: "certificate")] } ?? []
    }
}
