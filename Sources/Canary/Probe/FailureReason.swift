// The fixed set of reasons a probe can fail with: label values that alerts and dashboards use.
import Config

/// Why a probe failed. The raw values are the `reason` label's values: a contract, never renamed.
public enum FailureReason: String, Sendable, CaseIterable, Equatable, Comparable {
    case invalidAPIKey = "invalid_api_key"
    case keyAuthDisabled = "key_auth_disabled"
    case tokenRejected = "token_rejected"
    case tokenAudienceMismatch = "token_audience_mismatch"
    case tokenExpired = "token_expired"
    case tokenNotYetValid = "token_not_yet_valid"
    case wrongTenant = "wrong_tenant"
    case permissionDenied = "permission_denied"
    /// `permission_denied` while Resource Manager shows a role whose data actions cover the call:
    /// the assignment exists and has not reached the data plane yet (needs `control_plane:`).
    case rolePropagating = "role_propagating"
    case regionalEndpoint = "regional_endpoint"
    case networkDenied = "network_denied"
    case deploymentNotFound = "deployment_not_found"
    case notFound = "not_found"
    case requestRejected = "request_rejected"
    case throttled
    case serverError = "server_error"
    case tokenAcquisitionFailed = "token_acquisition_failed"
    case timeout
    case connectionFailed = "connection_failed"
    case dnsFailed = "dns_failed"
    case tlsFailed = "tls_failed"
    case unexpectedStatus = "unexpected_status"
    /// A gateway in front of the resource (Azure API Management) refused its subscription key:
    /// missing, invalid, or for an inactive subscription.
    case gatewayKeyRejected = "gateway_key_rejected"
    /// The gateway's token policy (`validate-jwt`, `validate-azure-ad-token`) refused the token:
    /// the service never saw the call.
    case gatewayTokenRejected = "gateway_token_rejected"
    /// A gateway policy limited the call: rate, call quota or token limit. Not an auth failure.
    case gatewayThrottled = "gateway_throttled"
    /// The gateway's own identity could not call the resource: the service refused the gateway's
    /// principal, or the gateway got no token for it.
    case gatewayBackendAuthFailed = "gateway_backend_auth_failed"

    public static func < (lhs: FailureReason, rhs: FailureReason) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The reasons a probe with this auth mode can produce: the series present from the first scrape.
    public static func possible(for auth: AuthMode) -> [FailureReason] {
        switch auth {
        case .apiKey:
            return allCases.filter {
                ![
                    .tokenRejected, .tokenAudienceMismatch, .tokenExpired, .tokenNotYetValid, .wrongTenant, .permissionDenied, .rolePropagating,
                    .regionalEndpoint, .tokenAcquisitionFailed,
                ].contains($0)
            }
        case .entraID: return allCases.filter { ![.invalidAPIKey, .keyAuthDisabled].contains($0) }
        }
    }

    /// What the service (or the network) said, in one line, for docs and status.
    public var signature: String {
        switch self {
        case .invalidAPIKey: return "401 `{\"error\":{\"code\":\"401\",...invalid subscription key or wrong API endpoint...}}`"
        case .keyAuthDisabled: return "403 `AuthenticationTypeDisabled`: key based authentication is disabled"
        case .tokenRejected: return "401 `{\"statusCode\":401,...}`, and the token's claims do not say why"
        case .tokenAudienceMismatch: return "401 `{\"statusCode\":401,...}`; the token's `aud` is not the one the endpoint wants"
        case .tokenExpired: return "401 `{\"statusCode\":401,...}`; the token's `exp` has passed by the service's clock"
        case .tokenNotYetValid: return "401 `{\"statusCode\":401,...}`; the token's `nbf` is ahead of the service's clock (clock skew)"
        case .wrongTenant: return "400 `Tenant provided in token does not match resource token`"
        case .permissionDenied: return "401 `PermissionDenied`: the principal lacks the required data action"
        case .rolePropagating: return "401 `PermissionDenied`, while Resource Manager shows the principal a role whose data actions cover the call"
        case .regionalEndpoint: return "400 `BadRequest` \"Please provide an authentication key.\" to a bearer token"
        case .networkDenied: return "403 \"Access denied due to Virtual Network/Firewall rules.\""
        case .deploymentNotFound: return "404 `DeploymentNotFound`"
        case .notFound: return "404 \"Resource not found\""
        case .requestRejected:
            return
                "400 with a request error that is not about auth (`unsupported_parameter`, `OperationNotSupported`, `context_length_exceeded`, "
                + "`content_filter`), in any body shape: the call passed authentication"
        case .throttled: return "429 \"Rate limit is exceeded\" with `retry-after`"
        case .serverError: return "5xx"
        case .tokenAcquisitionFailed: return "no token from Entra ID (AADSTS error, unreachable token endpoint)"
        case .timeout: return "no complete answer within `timeout`"
        case .connectionFailed: return "connection refused, reset or closed early"
        case .dnsFailed: return "the endpoint's host name does not resolve"
        case .tlsFailed: return "TLS handshake or certificate verification failed"
        case .unexpectedStatus: return "any other status, or a success without a JSON body"
        case .gatewayKeyRejected:
            return "401 `{\"statusCode\":401,\"message\":\"Access denied due to missing subscription key...\"}` (or invalid) from API Management"
        case .gatewayTokenRejected:
            return "401 `{\"statusCode\":401,...}` from the gateway's `validate-jwt` or `validate-azure-ad-token` policy, not the service's own message"
        case .gatewayThrottled:
            return "429 \"Rate limit is exceeded\" or \"Token limit is exceeded\", 403 \"Out of call volume quota\", from API Management's policies"
        case .gatewayBackendAuthFailed:
            return "behind a gateway, the service refused the gateway's own identity (`PermissionDenied` for a principal not the canary's)"
        }
    }

    /// What to change, in one line.
    public var fix: String {
        switch self {
        case .invalidAPIKey: return "Use a current key of this resource (keys rotate); check the endpoint is this resource's."
        case .keyAuthDisabled: return "By design when local auth is disabled: drop the key canary (`api_key_file`) for this resource."
        case .tokenRejected:
            return "Check the token with `aoai-canary token`: scope `https://cognitiveservices.azure.com/.default`, an unexpired token, the right tenant."
        case .tokenAudienceMismatch:
            return
                "Request the scope of the endpoint's cloud: `https://cognitiveservices.azure.com/.default` (`.us` for Azure Government, "
                + "`https://ai.azure.com/.default` for AI Foundry projects)."
        case .tokenExpired: return "Refresh tokens before `exp`; if the host clock lags (see `aoai_canary_clock_skew_seconds`), fix NTP."
        case .tokenNotYetValid: return "The host or issuer clock is ahead of the service's: fix NTP on this host (see `aoai_canary_clock_skew_seconds`)."
        case .wrongTenant: return "Get the token from the resource's tenant (tenant_id of the credential)."
        case .permissionDenied:
            return
                "Assign Cognitive Services OpenAI User to the token's object id at the resource scope; new assignments take up to 10 minutes, then get a "
                + "fresh token."
        case .rolePropagating:
            return
                "Wait: the role assignment exists and is still propagating (up to 10 minutes), and the service needs a token issued after it; nothing to "
                + "assign."
        case .regionalEndpoint: return "Use the resource's custom subdomain endpoint, `https://<name>.openai.azure.com/`."
        case .networkDenied: return "Fix the firewall, private endpoint or DNS so this host may reach the resource."
        case .deploymentNotFound: return "Fix the deployment name, or wait a few minutes after creating it."
        case .notFound: return "Fix the endpoint: no extra path segments, the right resource."
        case .requestRejected:
            return
                "Not an auth failure: the probe itself needs changing. Match `probe` to the deployment's model (`embeddings` for embedding models) and use "
                + "`api_version: v1` or a recent version."
        case .throttled: return "Not an auth failure: the canary backs off as retry-after says; raise the quota or the interval."
        case .serverError: return "A service-side failure: check Azure status; nothing to change in auth."
        case .tokenAcquisitionFailed: return "Fix the credential: the log names the AADSTS code (e.g. 7000215 invalid secret, 7000222 expired secret)."
        case .timeout: return "The endpoint answered too slowly: check the network path, or raise `timeout`."
        case .connectionFailed: return "Check that the endpoint is reachable from this host (proxy, firewall, private endpoint)."
        case .dnsFailed: return "Check the endpoint's host name and this host's DNS (private DNS zones for private endpoints)."
        case .tlsFailed: return "Check the certificate chain, the host name, and any TLS-intercepting proxy."
        case .unexpectedStatus: return "Look at the log entry's HTTP status and message."
        case .gatewayKeyRejected:
            return
                "Fix the gateway's subscription key: `gateway.subscription_key_file` must hold an active subscription's key for this API (and "
                + "`subscription_key_header` its header); the Entra ID canary sends it too unless `subscription_key_with_token: false`."
        case .gatewayTokenRejected:
            return
                "Fix the token for the gateway's policy, not the service: the audience it validates (the credential's `scope`), an issuer and client "
                + "it allows, the claims it requires; the gateway's trace names the failed check. A key canary cannot pass an API that requires a token."
        case .gatewayThrottled:
            return "Not an auth failure: a gateway policy (rate-limit, quota, token limit) limits the canary's subscription; raise it or the interval."
        case .gatewayBackendAuthFailed:
            return
                "Fix the gateway's identity: assign Cognitive Services OpenAI User on the backend resource to the gateway's managed identity (the "
                + "principal the message names), and check its `authentication-managed-identity` resource is https://cognitiveservices.azure.com."
        }
    }
}

/// The two ways a canary authenticates. Raw values are the `auth` label's values.
public enum AuthMode: String, Sendable, CaseIterable, Equatable, Comparable {
    case apiKey = "api_key"
    case entraID = "entra_id"

    public static func < (lhs: AuthMode, rhs: AuthMode) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The auth modes a resource is probed with: the key when it has one (or a gateway's
    /// subscription key), Entra ID when it
    /// names a credential.
    public static func modes(of resource: ResourceConfig) -> [AuthMode] {
        (resource.hasKeyCanary ? [.apiKey] : []) + (resource.credential != nil ? [.entraID] : [])
    }
}

extension FailureReason {
    /// Whether a call that failed with this reason got past authentication: the service read the
    /// request and refused what it asked for, not who asked.
    public var passedAuthentication: Bool { self == .requestRejected }

    /// Whether a call that failed with this reason says nothing about who called: the service
    /// throttled or failed, or the network did not carry the call. The auth alert rules leave
    /// these out, and `diagnose` judges no principal on them.
    public var provesNothingAboutAuth: Bool {
        [.throttled, .serverError, .timeout, .connectionFailed, .dnsFailed, .tlsFailed, .networkDenied, .gatewayThrottled].contains(self)
    }

    /// The fix for a failure the service answered with `code` and `message`: for
    /// `request_rejected`, what in the probe to change given what the service objected to; for
    /// the other reasons, `fix`.
    public func fix(code: String?, message: String?, gateway: Bool = false) -> String {
        if gateway {
            // The gateway's own answer: what to change is in the gateway, not the resource.
            switch self {
            case .notFound:
                return "The gateway has no API at this path: the endpoint must be the gateway's URL and the API's URL suffix (ending before /openai/)."
            case .networkDenied:
                return "The gateway's ip-filter (or its network) refuses this host: allow the canary's address in the gateway's policy."
            default:
                break
            }
        }
        guard self == .requestRejected else { return fix }
        let lower = ((code ?? "") + " " + (message ?? "")).lowercased()
        if lower.contains("operationnotsupported") || lower.contains("does not work with the specified model") {
            return
                "The deployment's model does not serve this call: use `probe: embeddings` for an embedding model, `probe: chat_completions` or `responses` "
                + "for a chat model, or `probe: models`."
        }
        if lower.contains("could not finish the message") {
            return
                "A reasoning model spent the probe's output budget thinking: set `api_version: v1` or a version from 2024-09-01-preview on, so the "
                + "probe sends max_completion_tokens (\(ProbeCall.reasoningOutputTokens))."
        }
        if lower.contains("api version not supported") {
            return "The service has no such API version: set `api_version` to v1, 2024-10-21 or a listed preview such as 2025-04-01-preview."
        }
        if lower.contains("enabled only for api versions") || lower.contains("api version") {
            return "The deployment's model needs a newer API version: set `api_version: v1` (or the version the message names) on this resource."
        }
        if lower.contains("max_tokens") || lower.contains("unsupported_parameter") || lower.contains("unsupported parameter")
            || lower.contains("unrecognized request argument")
        {
            return
                "The model refuses a parameter of this API version's probe body: set `api_version: v1` or a version from 2024-09-01-preview on, so the probe "
                + "sends `max_completion_tokens`."
        }
        if lower.contains("content_filter") || lower.contains("content management policy") {
            return "A content filter refused the probe's prompt: check the deployment's content filter configuration."
        }
        if lower.contains("context_length") || lower.contains("maximum context length") {
            return "The model's context is too small for the probe: choose another deployment or `probe: models`."
        }
        return fix
    }

    /// The README's reason table, rendered from the code so the two cannot drift (a test
    /// compares them).
    public static var markdownTable: String {
        var text = "| reason | what the service (or the network) answered | what to fix |\n|---|---|---|\n"
        for reason in allCases {
            text += "| `\(reason.rawValue)` | \(reason.signature) | \(reason.fix) |\n"
        }
        return text
    }
}
