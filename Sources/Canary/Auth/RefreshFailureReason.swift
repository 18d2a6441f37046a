// The fixed set of reasons a token refresh fails with: the `reason` label of refresh failures.

/// Why a token acquisition failed, coarse enough for a label. Raw values are a contract.
public enum RefreshFailureReason: String, Sendable, CaseIterable, Equatable {
    case invalidClient = "invalid_client"
    case expiredSecret = "expired_secret"
    case unknownApplication = "unknown_application"
    case tenantNotFound = "tenant_not_found"
    case assertionInvalid = "assertion_invalid"
    case noFederatedMatch = "no_federated_match"
    case invalidScope = "invalid_scope"
    case applicationDisabled = "application_disabled"
    case conditionalAccess = "conditional_access"
    case noManagedIdentity = "no_managed_identity"
    case imdsUnavailable = "imds_unavailable"
    case cliNotLoggedIn = "cli_not_logged_in"
    case timeout
    case connectionFailed = "connection_failed"
    case badResponse = "bad_response"
    case other

    /// Classifies by AADSTS code first, then by the kind of failure.
    public init(_ error: TokenAcquisitionError) {
        switch error {
        case .rejected(_, let name, let code, _):
            switch code {
            case 7_000_215?, 7_000_218?: self = .invalidClient
            case 7_000_222?: self = .expiredSecret
            case 700016?: self = .unknownApplication
            case 90002?, 90072?, 900023?: self = .tenantNotFound
            case 700024?, 700027?, 700023?, 50027?, 5_002_738?: self = .assertionInvalid
            // No federated identity credential matches the assertion's issuer, subject or audience.
            case 70021?, 700211?, 700212?, 700213?, 70025?: self = .noFederatedMatch
            // The scope names a resource the tenant does not have, or lacks `/.default`.
            case 500011?, 70011?, 1_002_012?: self = .invalidScope
            case 7_000_112?: self = .applicationDisabled
            case 53003?: self = .conditionalAccess
            default:
                switch name {
                case "invalid_client": self = .invalidClient
                case "invalid_scope": self = .invalidScope
                default: self = .other
                }
            }
        case .transport(.timeout): self = .timeout
        case .transport: self = .connectionFailed
        case .badResponse: self = .badResponse
        case .managedIdentity(let status, _): self = status == 400 ? .noManagedIdentity : .other
        case .imdsUnavailable: self = .imdsUnavailable
        case .cliNotLoggedIn: self = .cliNotLoggedIn
        case .cliFailed, .unavailable, .expired: self = .other
        case .chainExhausted(_, let last): self = RefreshFailureReason(last)
        }
    }
}
