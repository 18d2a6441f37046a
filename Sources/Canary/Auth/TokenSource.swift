// What every credential type provides: a way to acquire a fresh token.
import HTTPClient

/// A token as the cache holds it.
public struct CachedToken: Sendable, Equatable {
    public var accessToken: Secret
    /// Unix time after which the token must not be sent.
    public var expiresOn: Double
    /// When the issuer asked to refresh (`refresh_in`), as Unix time.
    public var refreshOn: Double?
    /// When it was acquired, as Unix time.
    public var acquiredAt: Double
    /// The token's claims; nil when it is not a readable JWT (it is still used).
    public var claims: TokenClaims?

    public init(accessToken: Secret, expiresOn: Double, refreshOn: Double?, acquiredAt: Double, claims: TokenClaims?) {
        self.accessToken = accessToken
        self.expiresOn = expiresOn
        self.refreshOn = refreshOn
        self.acquiredAt = acquiredAt
        self.claims = claims
    }

    /// Fewer than this many seconds left means: refresh now (azure-identity and MSAL use 5 minutes).
    public static let refreshMargin: Double = 300

    /// When to refresh: at `refresh_in`, or when fewer than five minutes remain, whichever is first.
    public var refreshAt: Double {
        min(refreshOn ?? .infinity, expiresOn - Self.refreshMargin)
    }
}

/// A credential type: how to get a new token. Implementations make one attempt and do not cache.
public protocol TokenSource: Sendable {
    /// Requests one token now.
    func acquireToken(client: HTTPClient, timeoutSeconds: Double, now: Double) async throws(TokenAcquisitionError) -> CachedToken
}

/// Why no token could be had.
public enum TokenAcquisitionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Entra ID refused, with its error and AADSTS code (the first sentence of the description only).
    case rejected(status: Int, error: String, aadsts: Int?, summary: String)
    /// No answer from the token endpoint.
    case transport(HTTPClientError)
    /// An answer that is not a token response.
    case badResponse(status: Int, detail: String)
    /// The cached token has expired and no new one could be had; says what the last attempt got.
    case expired(lastFailure: String)

    public var description: String {
        switch self {
        case .rejected(let status, let error, let aadsts, let summary):
            let code = aadsts.map { " AADSTS\($0)" } ?? ""
            return "token request rejected (HTTP \(status) \(error)\(code)): \(summary)"
        case .transport(let error):
            return "token endpoint unreachable: \(error)"
        case .badResponse(let status, let detail):
            return "unexpected token endpoint response (HTTP \(status)): \(detail)"
        case .expired(let lastFailure):
            return "the cached token has expired and could not be refreshed: \(lastFailure)"
        }
    }

    /// The AADSTS code, when Entra ID gave one.
    public var aadsts: Int? {
        if case .rejected(_, _, let code, _) = self { return code }
        return nil
    }
}
