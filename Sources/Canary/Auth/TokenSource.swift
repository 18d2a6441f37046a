// What every credential type provides: a way to acquire a fresh token, and its material's expiry.
import Config
import HTTPClient
import Support

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
    /// Which credential type answered (for `default`, the one in the chain that did).
    public var source: String

    public init(accessToken: Secret, expiresOn: Double, refreshOn: Double?, acquiredAt: Double, claims: TokenClaims?, source: String = "") {
        self.accessToken = accessToken
        self.expiresOn = expiresOn
        self.refreshOn = refreshOn
        self.acquiredAt = acquiredAt
        self.claims = claims
        self.source = source
    }

    /// Fewer than this many seconds left means: refresh now (azure-identity and MSAL use 5 minutes).
    public static let refreshMargin: Double = 300

    /// When to refresh: at `refresh_in`, or when fewer than five minutes remain, whichever is first.
    public var refreshAt: Double {
        min(refreshOn ?? .infinity, expiresOn - Self.refreshMargin)
    }

    /// The lifetime the issuer gave it.
    public var lifetime: Double { expiresOn - acquiredAt }
}

/// What an acquisition may use: the shared HTTP client, the clock, the timeout per call.
public struct AcquisitionContext: Sendable {
    public var client: HTTPClient
    public var clock: any CanaryClock
    public var timeoutSeconds: Double

    public init(client: HTTPClient, clock: any CanaryClock, timeoutSeconds: Double) {
        self.client = client
        self.clock = clock
        self.timeoutSeconds = timeoutSeconds
    }
}

/// When a credential's own material (secret, certificate, federated token) stops working.
public struct CredentialExpiry: Sendable, Equatable {
    /// `client_secret`, `certificate` or `federated_token`: the `kind` label.
    public var kind: String
    public var timestamp: Double
    /// Where the date comes from, the `source` label: `config` (`secret_expires`),
    /// `certificate` (its notAfter), `token_file` (the federated token's exp); the directory's
    /// dates (`directory`) are recorded by its monitor.
    public var source: String

    public init(kind: String, timestamp: Double, source: String) {
        self.kind = kind
        self.timestamp = timestamp
        self.source = source
    }
}

/// A credential type: how to get a new token. Implementations make one attempt (with the
/// retries their protocol documents) and do not cache tokens.
public protocol TokenSource: Sendable {
    /// Requests one token now.
    func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken
    /// The expiry of the credential material, as far as it is known now.
    func credentialExpiries() -> [CredentialExpiry]
}

extension TokenSource {
    public func credentialExpiries() -> [CredentialExpiry] { [] }
}

/// Why no token could be had.
public indirect enum TokenAcquisitionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Entra ID refused, with its error and AADSTS code (the first sentence of the description only).
    case rejected(status: Int, error: String, aadsts: Int?, summary: String)
    /// No answer from the token endpoint.
    case transport(HTTPClientError)
    /// An answer that is not a token response.
    case badResponse(status: Int, detail: String)
    /// The cached token has expired and no new one could be had; says what the last attempt got.
    case expired(lastFailure: String)
    /// A managed identity endpoint refused, e.g. 400 when the host has no (or not that) identity.
    case managedIdentity(status: Int, detail: String)
    /// IMDS kept answering 404, 410, 429 or 5xx through every documented retry, or did not answer.
    case imdsUnavailable(String)
    /// The Azure CLI has no logged-in account.
    case cliNotLoggedIn(String)
    /// The Azure CLI could not be run or failed otherwise.
    case cliFailed(String)
    /// The credential's own material cannot be used (an unreadable token file, a bad key).
    case unavailable(String)
    /// `default`: no credential in the chain gave a token; one line per candidate, and the
    /// error of the last one tried (which decides the refresh failure reason).
    case chainExhausted([String], last: TokenAcquisitionError)

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
        case .managedIdentity(let status, let detail):
            return "managed identity endpoint refused (HTTP \(status)): \(detail)"
        case .imdsUnavailable(let detail):
            return "managed identity endpoint unavailable: \(detail)"
        case .cliNotLoggedIn(let detail):
            return "the Azure CLI is not logged in (run az login): \(detail)"
        case .cliFailed(let detail):
            return "the Azure CLI failed: \(detail)"
        case .unavailable(let detail):
            return "credential unavailable: \(detail)"
        case .chainExhausted(let attempts, _):
            return "no credential in the default chain gave a token: " + attempts.joined(separator: "; ")
        }
    }

    /// The AADSTS code, when Entra ID gave one.
    public var aadsts: Int? {
        switch self {
        case .rejected(_, _, let code, _): return code
        case .chainExhausted(_, let last): return last.aadsts
        default: return nil
        }
    }
}
