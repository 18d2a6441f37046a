// A managed identity the simulated IMDS, App Service and Arc endpoints issue tokens for, and their fault scenario.

/// A managed identity on the simulated host: the system-assigned one (used when a request names
/// none) or a user-assigned one picked by `client_id`, `object_id` or its ARM resource id.
public struct SimulatedManagedIdentity: Sendable, Equatable {
    /// The directory the identity lives in: the token's `tid` and issuer.
    public var tenantID: String
    /// The identity's client id: the token's `appid`, and the `client_id` selector.
    public var clientID: String
    /// The service principal's object id: the token's `oid` and `sub`, and what roles are granted to.
    public var objectID: String
    /// The ARM id, e.g. `/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z`:
    /// the token's `xms_mirid`, and the `msi_res_id` / `mi_res_id` selector.
    public var resourceID: String
    /// False for the host's system-assigned identity, which answers requests that name no identity.
    public var userAssigned: Bool
    /// `expires_in`, and the distance from `iat` to `exp` (IMDS issues day-long tokens).
    public var tokenLifetimeSeconds: Int = 86399

    /// An identity that gets tokens normally.
    public init(tenantID: String, clientID: String, objectID: String, resourceID: String, userAssigned: Bool) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.objectID = objectID
        self.resourceID = resourceID
        self.userAssigned = userAssigned
    }
}

/// How every managed-identity endpoint (IMDS, App Service, Arc) misbehaves. The checks run in
/// field order: `hang`, then `goneUntil`, then `failureStatus`. Change it with
/// `AzureSimulator.updateManagedIdentityScenario` or `POST /_simulator/managed-identity`.
public struct ManagedIdentityScenario: Sendable, Equatable {
    /// Answer 410 (IMDS is updating) while `now() < goneUntil`, in epoch seconds.
    public var goneUntil: Double? = nil
    /// Answer this status (404, 429, 500, 503, ...) with a JSON error...
    public var failureStatus: Int? = nil
    /// ...to this many requests, then answer normally; `Int.max` fails for good.
    public var failureCount: Int = 0
    /// Hold managed-identity requests without answering until the simulator stops.
    public var hang: Bool = false

    /// A scenario in which every request is answered normally.
    public init() {}
}
