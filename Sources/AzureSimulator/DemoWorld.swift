// The simulated tenant, app and resources that `demo` and `simulate` serve: one per behaviour.

/// A fixed little world with one resource per interesting behaviour, so a newcomer sees each
/// failure reason in a minute. The secrets are demo values, known to anyone reading this file.
public enum DemoWorld {
    public static let tenantID = "8a1f6b3e-0d2c-4c7a-9b5e-2f4d6a8c0e11"
    public static let clientID = "3c9e2a71-5b4d-4e8f-a6c2-7d1b9e0f4a22"
    public static let clientSecret = "demo-client-secret-value"
    public static let objectID = "f0e1d2c3-b4a5-4968-8776-655443322110"
    public static let apiKey = "demo-api-key-0123456789abcdef"
    public static let deployment = "gpt-4o-mini"
    /// The host's system-assigned managed identity in `simulate`.
    public static let managedIdentityClientID = "5d2b8c14-7e3f-4a96-b0c1-9f8e7d6c5b44"
    public static let managedIdentityObjectID = "a1b2c3d4-e5f6-4789-8abc-def012345655"
    /// The API Management gateway in front of the `via-gateway` resource, its API's suffix, a
    /// subscription's key, the audience its `validate-jwt` policy wants, and its managed identity.
    public static let gatewayName = "contoso-apim"
    public static let gatewayAPISuffix = "openai-prod"
    public static let gatewayKey = "demo-gateway-subscription-key-4567"
    public static let gatewayAudience = "api://contoso-apim"
    public static let gatewayIdentityClientID = "7e4c1a92-3b5d-4f60-9a8b-1c2d3e4f5a66"
    public static let gatewayIdentityObjectID = "b2c3d4e5-f6a7-4890-9bcd-ef0123456777"
    /// The workload identity issuer and subject the demo application trusts in `simulate`.
    public static let federatedIssuer = "https://oidc.simulator.invalid/aoai-canary/"
    public static let federatedSubject = "system:serviceaccount:default:aoai-canary"
    /// The subject of the demo's misconfigured workload: its pod runs in another namespace than
    /// the one the federated credential trusts.
    public static let mismatchedSubject = "system:serviceaccount:prod:aoai-canary"
    /// The user-assigned managed identity Resource Manager holds, with a federated credential
    /// for the demo's cluster.
    public static let userAssignedIdentityName = "aoai-canary-identity"
    public static let userAssignedIdentityClientID = "7e4f2a1b-3c5d-4e6f-8a9b-0c1d2e3f4a55"
    public static let userAssignedIdentityPrincipalID = "b7c6d5e4-f3a2-4190-8877-665544332211"
    /// Days until the demo application's secret expires, as the directory says.
    public static let secretExpiresInDays = 9.0

    /// Every deployment a demo resource has: a classic chat model, a reasoning model and an
    /// embedding model, named after their models as people usually do.
    public static let deployments = ["gpt-4o-mini", "o4-mini", "text-embedding-3-small"]

    /// One demo resource and what it shows.
    public struct Resource: Sendable {
        public var name: String
        public var shows: String
        /// The credential the demo config gives it: "app" (right scope), "app-wrong-scope" or "aks"
        /// (a workload identity whose subject no federated credential trusts).
        public var credential: String
        public var hasKey: Bool
        /// The deployment the demo probes.
        public var deployment: String = DemoWorld.deployment
        /// The `api_version` the demo configures; nil keeps the agent's default.
        public var apiVersion: String? = nil
        /// The gateway the demo reaches it through; nil for the resource's own endpoint.
        public var gateway: String? = nil
    }

    public static let resources: [Resource] = [
        Resource(name: "healthy", shows: "both canaries succeed", credential: "app", hasKey: true),
        Resource(
            name: "no-data-role", shows: "the question's case: the key works, the principal holds Owner, control plane only (permission_denied)",
            credential: "app", hasKey: true),
        Resource(
            name: "wrong-audience", shows: "a token minted for https://management.azure.com (token_audience_mismatch)", credential: "app-wrong-scope",
            hasKey: true),
        Resource(name: "throttled", shows: "429 with retry-after on both canaries (throttled)", credential: "app", hasKey: true),
        Resource(
            name: "local-auth-disabled", shows: "disableLocalAuth: the key is refused (key_auth_disabled), Entra ID works", credential: "app", hasKey: true),
        Resource(
            name: "propagating", shows: "a role assignment that takes effect 90 s after start (role_propagating, then recovery)", credential: "app",
            hasKey: true),
        Resource(
            name: "reasoning", shows: "a reasoning model (o4-mini), which refuses max_tokens: both canaries succeed", credential: "app", hasKey: true,
            deployment: "o4-mini", apiVersion: "2025-04-01-preview"),
        Resource(name: "v1", shows: "the v1 API (/openai/v1/, no api-version): both canaries succeed", credential: "app", hasKey: true, apiVersion: "v1"),
        Resource(
            name: "workload-identity",
            shows: "AKS workload identity from another namespace: no federated credential matches (AADSTS700213), and the directory says what differs",
            credential: "aks", hasKey: true),
        Resource(
            name: "via-gateway",
            shows: "behind API Management: the subscription key passes, validate-jwt wants another audience (gateway_token_rejected)",
            credential: "app", hasKey: true, gateway: gatewayName),
    ]

    /// Accounts the demo does not list: `discovery` finds them in their resource group.
    public static let discoveredResourceGroup = "rg-discovered"
    public static let discoveredResources = ["found-by-discovery"]
    /// What `demo` says of each of them.
    public static let discoveredShows = "not listed: found by discovery (tag canary=on), probed with GET /openai/models"

    /// An account's Resource Manager id in the demo subscription.
    public static func armID(of name: String, resourceGroup: String = "rg-canary") -> String {
        "/subscriptions/\(SimulatedResource.defaultSubscription)/resourceGroups/\(resourceGroup)/providers/Microsoft.CognitiveServices/accounts/\(name)"
    }

    /// Adds the world to a simulator: the application, the resources and their role assignments.
    public static func seed(_ simulator: AzureSimulator) {
        var app = SimulatedApplication(tenantID: tenantID, clientID: clientID, clientSecret: clientSecret, objectID: objectID)
        // The directory: the app may read applications, and its secret expires soon.
        app.displayName = "aoai-canary-demo"
        app.graphRoles = ["Application.Read.All"]
        app.secretExpiresAt = (simulator.now + secretExpiresInDays * 86400).rounded(.down)
        simulator.addApplication(app)
        for resource in resources {
            var simulated = SimulatedResource(name: resource.name, tenantID: tenantID, apiKey: apiKey, deployments: deployments)
            switch resource.name {
            case "throttled": simulated.throttleRetryAfterSeconds = 2
            case "local-auth-disabled": simulated.localAuthDisabled = true
            default: break
            }
            simulator.addResource(simulated)
            for principal in [objectID, managedIdentityObjectID] {
                switch resource.name {
                // Owner: it can read and list the keys, but holds no data action.
                case "no-data-role": simulator.grantRole(resource: resource.name, objectID: principal, role: SimulatedRole.named("Owner")!)
                case "propagating": simulator.grantRole(resource: resource.name, objectID: principal, effectiveAfterSeconds: 90)
                default: simulator.grantRole(resource: resource.name, objectID: principal)
                }
            }
        }
        // API Management in front of via-gateway: a subscription key, validate-jwt for the
        // gateway's own audience, and its managed identity (which holds the role) calling the backend.
        var gateway = SimulatedGateway(
            name: gatewayName, apiSuffix: gatewayAPISuffix, backend: "via-gateway", subscriptionKeys: [gatewayKey],
            identityObjectID: gatewayIdentityObjectID, identityClientID: gatewayIdentityClientID)
        gateway.validateJWT = true
        gateway.jwtAudience = gatewayAudience
        simulator.addGateway(gateway)
        simulator.grantRole(resource: "via-gateway", objectID: gatewayIdentityObjectID)
        // The app reads Resource Manager as a control-plane reader of the whole subscription does.
        simulator.grantRole(resource: resources[0].name, objectID: objectID, role: SimulatedRole.named("Reader")!, at: .subscription)
        for name in discoveredResources {
            var simulated = SimulatedResource(name: name, tenantID: tenantID, apiKey: apiKey, deployments: deployments)
            simulated.resourceGroup = discoveredResourceGroup
            simulated.kind = "AIServices"
            simulated.tags = ["canary": "on"]
            simulator.addResource(simulated)
            // Cognitive Services User: the data actions, and listKeys for the key canary.
            simulator.grantRole(resource: name, objectID: objectID, role: SimulatedRole.named("Cognitive Services User")!)
        }
        simulator.addManagedIdentity(
            SimulatedManagedIdentity(
                tenantID: tenantID, clientID: managedIdentityClientID, objectID: managedIdentityObjectID,
                resourceID: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/demo/providers/Microsoft.Compute/virtualMachines/canary-host",
                userAssigned: false))
        simulator.addFederatedCredential(clientID: clientID, issuer: federatedIssuer, subject: federatedSubject, name: "aks-default")
        var identity = SimulatedUserAssignedIdentity(
            resourceGroup: "rg-canary", name: userAssignedIdentityName, clientID: userAssignedIdentityClientID,
            principalID: userAssignedIdentityPrincipalID, tenantID: tenantID)
        identity.federatedCredentials = [(name: "aks-default", issuer: federatedIssuer, subject: federatedSubject, audiences: ["api://AzureADTokenExchange"])]
        simulator.addUserAssignedIdentity(identity)
    }
}
