// An Azure API Management gateway in front of a simulated resource: Microsoft's "AI gateway"
// pattern, with the gateway's own answers (docs/azure-answers.md, "Behind API Management").

/// A gateway reached at `AzureSimulator.gatewayEndpoint(for: name)`, whose one API (URL suffix
/// `apiSuffix`) forwards to the simulated resource `backend`. Its policies play the gateway's
/// refusals; its managed identity calls the backend, and can lack the role there.
public struct SimulatedGateway: Sendable, Equatable {
    /// How the gateway authenticates to the backend.
    public enum BackendAuth: String, Sendable, Equatable {
        /// With a token for its own managed identity (`authentication-managed-identity`): the
        /// caller's key or token stops at the gateway.
        case managedIdentity
        /// The caller's `api-key` or `Authorization` header goes to the backend as sent.
        case passthrough
    }

    public var name: String
    /// The API's URL suffix: the endpoint clients use is the gateway's URL plus this.
    public var apiSuffix: String
    /// The simulated resource the API forwards to.
    public var backend: String
    /// Active subscriptions' keys.
    public var subscriptionKeys: [String]
    /// "Subscription required": a call without a valid key is refused.
    public var subscriptionRequired = true
    /// The header the API reads the key from.
    public var keyHeader = "Ocp-Apim-Subscription-Key"
    /// A `validate-jwt` policy on calls that carry a bearer token: it must be for `jwtAudience`,
    /// unexpired, from the backend's tenant (a `<choose>` on the Authorization header, so that
    /// subscription-key callers pass).
    public var validateJWT = false
    /// The policy on every call: one without a token is refused ("JWT not present.").
    public var jwtRequired = false
    public var jwtAudience = "https://cognitiveservices.azure.com"
    /// The policy's `failed-validation-error-message`; nil keeps the defaults ("JWT not present.",
    /// "Invalid JWT.").
    public var jwtFailureMessage: String? = nil
    /// `rate-limit` exceeded: 429, try again in this many seconds.
    public var rateLimitRetrySeconds: Int? = nil
    /// `quota` exhausted: 403, replenished in this many seconds.
    public var quotaRenewalSeconds: Int? = nil
    /// `azure-openai-token-limit` tokens-per-minute exceeded: 429, try again in this many seconds.
    public var tokenLimitRetrySeconds: Int? = nil
    /// `ip-filter` forbids the caller.
    public var ipFiltered = false
    public var backendAuth = BackendAuth.managedIdentity
    /// The gateway's system-assigned managed identity.
    public var identityObjectID: String
    public var identityClientID: String
    /// The gateway gets no token for its identity (not enabled, or the policy's resource is
    /// wrong): its calls fail before the backend.
    public var identityFailing = false

    public init(name: String, apiSuffix: String, backend: String, subscriptionKeys: [String], identityObjectID: String, identityClientID: String) {
        self.name = name
        self.apiSuffix = apiSuffix
        self.backend = backend
        self.subscriptionKeys = subscriptionKeys
        self.identityObjectID = identityObjectID
        self.identityClientID = identityClientID
    }
}
