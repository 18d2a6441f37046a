// An Azure OpenAI resource on the simulated data plane, with the faults it can play.

/// An Azure OpenAI resource reached at `AzureSimulator.endpoint(for: name)`: its tenant, key,
/// deployments and the scenario flags that make it fail like a real resource does. Change it at
/// run time with `AzureSimulator.updateResource`.
public struct SimulatedResource: Sendable, Equatable {
    /// The custom subdomain: the resource answers on `<name>.openai.localhost`.
    public var name: String
    /// The directory the resource belongs to; tokens from another tenant get the wrong-tenant 400.
    public var tenantID: String
    /// The key that `api-key` must carry.
    public var apiKey: String
    /// Deployment names the data plane knows.
    public var deployments: [String]
    /// The model of a deployment, by its name; a deployment not listed serves the model its
    /// name suggests (`SimulatedDeployment.inferred(fromName:)`).
    public var models: [String: SimulatedDeployment] = [:]
    /// The `aud` a bearer token must have (a trailing slash is ignored).
    public var expectedAudience: String = "https://cognitiveservices.azure.com"
    /// Every key is rejected with the 401 key body, as after a key rotation.
    public var keyInvalid: Bool = false
    /// `disableLocalAuth`: key calls get 403 `AuthenticationTypeDisabled`.
    public var localAuthDisabled: Bool = false
    /// A regional endpoint without a custom subdomain: bearer calls get 400 "Please provide an authentication key."
    public var regionalEndpoint: Bool = false
    /// Network rules deny the caller: both auth modes get the 403 firewall body and `policy-id` header.
    public var networkDenied: Bool = false
    /// Every deployment is missing: chat calls get 404 `DeploymentNotFound`.
    public var deploymentMissing: Bool = false
    /// When set, authenticated calls get 429, telling the client to wait this many seconds in
    /// the headers `throttleHeaders` names.
    public var throttleRetryAfterSeconds: Int? = nil
    /// Which wait headers a 429 carries: the service sends `retry-after` and `retry-after-ms`
    /// on most, and neither on some.
    public var throttleHeaders: ThrottleHeaders = .both
    /// When set, authenticated calls get this status (500, 503, ...) with a JSON error body.
    public var serverErrorStatus: Int? = nil
    /// A misbehaving upstream (a proxy, a gateway) that quotes the credential it was sent in its
    /// 401 message: the `api-key` value, or the start of the bearer token.
    public var echoCredentials: Bool = false
    /// How long the resource waits before it answers.
    public var delaySeconds: Double = 0
    /// Accept requests and never answer, until the simulator stops.
    public var hang: Bool = false
    /// Drop the connection without a response.
    public var closeConnection: Bool = false
    /// The resource's clock runs this many seconds ahead (negative: behind) of the simulator's:
    /// tokens are checked against it and its `Date` header shows it.
    public var clockSkewSeconds: Double = 0

    /// Where Resource Manager files the account, and what it says of it.
    public var subscriptionID: String = SimulatedResource.defaultSubscription
    public var resourceGroup: String = "rg-canary"
    /// `OpenAI` or `AIServices`.
    public var kind: String = "OpenAI"
    public var location: String = "eastus"
    /// `publicNetworkAccess: Disabled`.
    public var publicNetworkAccessDisabled: Bool = false
    public var tags: [String: String] = [:]

    public static let defaultSubscription = "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"

    /// The account's Resource Manager id.
    public var armID: String {
        "/subscriptions/\(subscriptionID)/resourceGroups/\(resourceGroup)/providers/Microsoft.CognitiveServices/accounts/\(name)"
    }

    /// The model behind `deployment`.
    public func model(of deployment: String) -> SimulatedDeployment {
        models[deployment] ?? SimulatedDeployment.inferred(fromName: deployment)
    }

    /// A healthy resource; set the other fields to inject faults.
    public init(name: String, tenantID: String, apiKey: String, deployments: [String]) {
        self.name = name
        self.tenantID = tenantID
        self.apiKey = apiKey
        self.deployments = deployments
    }
}

/// The wait headers a simulated 429 carries.
public enum ThrottleHeaders: String, Sendable, CaseIterable {
    /// `retry-after` (seconds) and `retry-after-ms`.
    case both
    /// `retry-after` alone.
    case seconds
    /// `retry-after-ms` alone.
    case milliseconds
    /// No wait header at all.
    case none
}
