// A user-assigned managed identity as Resource Manager holds it, with its federated credentials.

/// A user-assigned managed identity (Microsoft.ManagedIdentity/userAssignedIdentities): found by
/// its client id, it trusts workloads through federated identity credentials of its own.
public struct SimulatedUserAssignedIdentity: Sendable, Equatable {
    public var subscriptionID: String = SimulatedResource.defaultSubscription
    public var resourceGroup: String
    public var name: String
    public var clientID: String
    public var principalID: String
    public var tenantID: String
    public var location: String = "eastus"
    /// name, issuer, subject, audiences.
    public var federatedCredentials: [(name: String, issuer: String, subject: String, audiences: [String])] = []

    public init(resourceGroup: String, name: String, clientID: String, principalID: String, tenantID: String) {
        self.resourceGroup = resourceGroup
        self.name = name
        self.clientID = clientID
        self.principalID = principalID
        self.tenantID = tenantID
    }

    /// Its Resource Manager id, as Resource Manager writes it (`resourcegroups` in lower case).
    public var armID: String {
        "/subscriptions/\(subscriptionID)/resourcegroups/\(resourceGroup)/providers/Microsoft.ManagedIdentity/userAssignedIdentities/\(name)"
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.armID.lowercased() == rhs.armID.lowercased() && lhs.clientID == rhs.clientID && lhs.principalID == rhs.principalID
            && lhs.federatedCredentials.map(\.name) == rhs.federatedCredentials.map(\.name)
    }
}
