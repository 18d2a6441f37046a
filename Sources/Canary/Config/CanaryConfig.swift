// The agent's configuration as plain values, after strict decoding and validation.

/// The whole configuration file.
public struct CanaryConfig: Sendable, Equatable {
    /// `HOST:PORT` of the metrics and health endpoint.
    public var listen: String
    /// The default probe interval.
    public var interval: Duration
    /// The timeout of every HTTP call (probes and token requests).
    public var timeout: Duration
    public var credentials: [CredentialConfig]
    public var resources: [ResourceConfig]
    /// Where Azure Resource Manager facts about the resources come from; nil reads none.
    public var controlPlane: ControlPlaneConfig?
    /// Where to find more resources through Resource Manager (needs `controlPlane`).
    public var discovery: [DiscoveryConfig] = []
    /// Where Microsoft Graph's facts about the credentials come from; nil reads none.
    public var directory: DirectoryConfig?
    /// Where each secret file is named in the file (by resolved path), for warnings about it.
    public var secretFileMarks: [String: ConfigMark] = [:]

    public static let defaultListen = "0.0.0.0:9725"
    /// What `interval` may be: a round at least every day, at most one a second per resource.
    public static let intervalBounds = Duration.seconds(1)...Duration.seconds(86400)
    /// What `timeout` may be: long enough for a slow answer, short enough that a hung endpoint
    /// cannot hold a round for longer than a few minutes.
    public static let timeoutBounds = Duration.milliseconds(100)...Duration.seconds(300)
    public static let defaultInterval = Duration.seconds(60)
    public static let defaultTimeout = Duration.seconds(10)

    public init(
        listen: String = CanaryConfig.defaultListen, interval: Duration = CanaryConfig.defaultInterval, timeout: Duration = CanaryConfig.defaultTimeout,
        credentials: [CredentialConfig] = [], resources: [ResourceConfig] = []
    ) {
        self.listen = listen
        self.interval = interval
        self.timeout = timeout
        self.credentials = credentials
        self.resources = resources
    }

    /// The credential a resource names, if any.
    public func credential(named name: String) -> CredentialConfig? {
        credentials.first { $0.name == name }
    }
}

/// `directory:`: the credential (and its cloud's Microsoft Graph) that reads what Entra ID holds
/// of each configured credential: an application's secrets, certificates and federated
/// credentials, its service principal.
public struct DirectoryConfig: Sendable, Equatable {
    /// A credential under `credentials:`; its tokens are asked for Microsoft Graph's audience.
    public var credential: String
    /// Microsoft Graph's endpoint, without a trailing slash (and without `/v1.0`).
    public var endpoint: String
    /// How often the directory is read again.
    public var interval: Duration

    public static let defaultInterval = Duration.seconds(3600)
    /// Secrets and federated credentials change rarely: at most every 5 minutes, at least daily.
    public static let intervalBounds = Duration.seconds(300)...Duration.seconds(86400)

    public init(credential: String, endpoint: String, interval: Duration = DirectoryConfig.defaultInterval) {
        self.credential = credential
        self.endpoint = endpoint
        self.interval = interval
    }

    /// Microsoft Graph's endpoint for the cloud of a credential's authority.
    public static func endpoint(forAuthority authority: String?) -> String {
        let host = authority.flatMap { EndpointURL($0)?.host }?.lowercased() ?? ""
        if host.hasSuffix("microsoftonline.us") { return "https://graph.microsoft.us" }
        if host.hasSuffix("chinacloudapi.cn") { return "https://microsoftgraph.chinacloudapi.cn" }
        return "https://graph.microsoft.com"
    }

    /// The scope for Graph tokens: the cloud's own Graph for the national ones, the public
    /// cloud's for the public endpoint (and a simulator or proxy standing in for it).
    public var scope: String {
        switch endpoint {
        case "https://graph.microsoft.us", "https://dod-graph.microsoft.us", "https://microsoftgraph.chinacloudapi.cn": return endpoint + "/.default"
        default: return "https://graph.microsoft.com/.default"
        }
    }
}

/// `control_plane:`: the credential (and its cloud's Resource Manager) that reads the accounts,
/// deployments and role assignments behind each resource with an `arm_id`.
public struct ControlPlaneConfig: Sendable, Equatable {
    /// A credential under `credentials:`; its tokens are asked for the Resource Manager audience.
    public var credential: String
    /// Resource Manager's endpoint, without a trailing slash.
    public var endpoint: String
    /// How often the facts are read again (and at once when a resource's Entra ID canary starts failing).
    public var interval: Duration

    public static let defaultInterval = Duration.seconds(600)
    /// Reading more often than once a minute costs Resource Manager quota for facts that change
    /// slowly; less often than once a day leaves them stale.
    public static let intervalBounds = Duration.seconds(60)...Duration.seconds(86400)

    public init(credential: String, endpoint: String, interval: Duration = ControlPlaneConfig.defaultInterval) {
        self.credential = credential
        self.endpoint = endpoint
        self.interval = interval
    }

    /// Resource Manager's endpoint for the cloud of a credential's authority.
    public static func endpoint(forAuthority authority: String?) -> String {
        let host = authority.flatMap { EndpointURL($0)?.host }?.lowercased() ?? ""
        if host.hasSuffix("microsoftonline.us") { return "https://management.usgovcloudapi.net" }
        if host.hasSuffix("chinacloudapi.cn") { return "https://management.chinacloudapi.cn" }
        return "https://management.azure.com"
    }

    /// The scope for Resource Manager tokens: the public cloud's audience for the public
    /// endpoint (and for a simulator or proxy standing in for it), the endpoint itself otherwise.
    public var scope: String {
        switch endpoint {
        case "https://management.usgovcloudapi.net", "https://management.chinacloudapi.cn": return endpoint + "/.default"
        default: return "https://management.azure.com/.default"
        }
    }
}

/// One `discovery:` entry: which accounts to find, and how to probe what is found.
public struct DiscoveryConfig: Sendable, Equatable {
    public enum KeySource: String, Sendable, Equatable, CaseIterable {
        /// No key canary.
        case none
        /// A key canary with key1 from the account's `listKeys`, held in memory only.
        case listKeys = "list_keys"
    }

    public var subscription: String
    public var resourceGroup: String?
    /// Every tag here must be on the account, with this value.
    public var tags: [String: String]
    /// Account kinds to take (case-insensitive).
    public var kinds: [String]
    /// The Entra ID canary's credential for what is found; nil runs none.
    public var credential: String?
    public var apiKey: KeySource
    public var probe: ProbeKind
    /// A deployment name, or `auto`: one of the account's deployments that fits the probe.
    public var deployment: String?
    public var interval: Duration?

    public static let defaultKinds = ["OpenAI", "AIServices"]
    public static let autoDeployment = "auto"

    public init(
        subscription: String, resourceGroup: String? = nil, tags: [String: String] = [:], kinds: [String] = DiscoveryConfig.defaultKinds,
        credential: String? = nil, apiKey: KeySource = .none, probe: ProbeKind = .models, deployment: String? = nil, interval: Duration? = nil
    ) {
        self.subscription = subscription
        self.resourceGroup = resourceGroup
        self.tags = tags
        self.kinds = kinds
        self.credential = credential
        self.apiKey = apiKey
        self.probe = probe
        self.deployment = deployment
        self.interval = interval
    }
}

/// An account's Resource Manager id, split into its parts.
public struct ARMResourceID: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var subscription: String
    public var resourceGroup: String
    public var name: String

    /// Parses `/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.CognitiveServices/accounts/NAME`
    /// (names case-insensitively, as Resource Manager does); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 9, parts[0].isEmpty,
            parts[1].lowercased() == "subscriptions", parts[3].lowercased() == "resourcegroups",
            parts[5].lowercased() == "providers", parts[6].lowercased() == "microsoft.cognitiveservices",
            parts[7].lowercased() == "accounts", !parts[2].isEmpty, !parts[4].isEmpty, !parts[8].isEmpty,
            parts[2].allSatisfy({ $0.isHexDigit || $0 == "-" })
        else { return nil }
        subscription = parts[2]
        resourceGroup = parts[4]
        name = parts[8]
    }

    public var description: String {
        "/subscriptions/\(subscription)/resourceGroups/\(resourceGroup)/providers/Microsoft.CognitiveServices/accounts/\(name)"
    }
}

/// A place in the configuration file.
public struct ConfigMark: Sendable, Equatable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// A named way to get Entra ID tokens, shared by the resources that name it.
public struct CredentialConfig: Sendable, Equatable {
    public var name: String
    public var settings: CredentialSettings

    public init(name: String, settings: CredentialSettings) {
        self.name = name
        self.settings = settings
    }
}

/// Which call a probe makes.
public enum ProbeKind: String, Sendable, Equatable, CaseIterable {
    /// `POST .../chat/completions` with a few tokens of output, in a body that classic chat
    /// models and reasoning models both accept.
    case chatCompletions = "chat_completions"
    /// `POST .../embeddings` of one word, for deployments of embedding models.
    case embeddings
    /// `POST .../responses` (the Responses API) with a few tokens of output.
    case responses
    /// `GET /openai/models`: authentication and read permission only, costs nothing.
    case models

    /// Whether the call names a deployment (in the path, or in the body's `model` on v1).
    public var needsDeployment: Bool { self != .models }

    /// The data action the call needs, as the service names it in its 401 `PermissionDenied`
    /// (docs/azure-answers.md) and role definitions list it.
    public var dataAction: String {
        switch self {
        case .chatCompletions: return "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
        case .embeddings: return "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"
        case .responses: return "Microsoft.CognitiveServices/accounts/OpenAI/responses/write"
        case .models: return "Microsoft.CognitiveServices/accounts/OpenAI/models/read"
        }
    }
}

/// Azure API Management (or a gateway like it) in front of a resource: the subscription key it
/// asks for, and the header that carries it.
public struct GatewayConfig: Sendable, Equatable {
    /// API Management's default header for the subscription key.
    public static let defaultKeyHeader = "Ocp-Apim-Subscription-Key"

    /// The subscription key: the key canary sends it (beside `api-key` when the resource has a
    /// key too); nil when the gateway asks for none.
    public var subscriptionKey: Secret?
    public var subscriptionKeySource: SecretSource?
    /// The header the gateway's API reads the key from.
    public var keyHeader: String = GatewayConfig.defaultKeyHeader
    /// Whether the Entra ID canary sends the subscription key with its token, as callers of an
    /// API that requires a subscription must.
    public var keyWithToken: Bool = true

    public init(
        subscriptionKey: Secret? = nil, subscriptionKeySource: SecretSource? = nil, keyHeader: String = GatewayConfig.defaultKeyHeader,
        keyWithToken: Bool = true
    ) {
        self.subscriptionKey = subscriptionKey
        self.subscriptionKeySource = subscriptionKeySource
        self.keyHeader = keyHeader
        self.keyWithToken = keyWithToken
    }
}

/// One Azure OpenAI resource to probe.
public struct ResourceConfig: Sendable, Equatable {
    public var name: String
    /// The endpoint, always ending in `/`.
    public var endpoint: String
    public var deployment: String?
    public var probe: ProbeKind
    public var apiVersion: String
    /// The key for the key canary; nil runs no key canary.
    public var apiKey: Secret?
    public var apiKeySource: SecretSource?
    /// The credential for the Entra ID canary; nil runs no Entra ID canary.
    public var credential: String?
    /// Overrides the file's `interval`.
    public var interval: Duration?
    /// A PEM bundle of CAs to trust for this endpoint instead of the system's (a private CA, a
    /// TLS-inspecting proxy).
    public var caFile: String?
    /// The account's Resource Manager id, for the control-plane facts behind its verdicts.
    public var armID: ARMResourceID?
    /// A gateway (Azure API Management) in front of the resource: the endpoint is the gateway's
    /// API, and its answers are told apart from the service's.
    public var gateway: GatewayConfig?
    /// Where the resource's entry starts in the file (for warnings); line 0 when not from a file.
    public var line: Int = 0
    public var column: Int = 0

    public static let defaultAPIVersion = "2024-10-21"

    /// Equal in everything but where the entry stands in its file.
    public func sameSettings(as other: ResourceConfig) -> Bool {
        var (left, right) = (self, other)
        (left.line, left.column, right.line, right.column) = (0, 0, 0, 0)
        return left == right
    }

    /// Whether it has a key canary: a key of its own, or a gateway's subscription key.
    public var hasKeyCanary: Bool { apiKey != nil || gateway?.subscriptionKey != nil }

    /// The API surface `apiVersion` selects; nil when it is neither `v1` nor a dated version
    /// (the decoder refuses such values).
    public var api: APIVersion? { APIVersion(apiVersion) }

    public init(
        name: String, endpoint: String, deployment: String? = nil, probe: ProbeKind = .chatCompletions, apiVersion: String = ResourceConfig.defaultAPIVersion,
        apiKey: Secret? = nil, apiKeySource: SecretSource? = nil, credential: String? = nil, interval: Duration? = nil
    ) {
        self.name = name
        self.endpoint = endpoint
        self.deployment = deployment
        self.probe = probe
        self.apiVersion = apiVersion
        self.apiKey = apiKey
        self.apiKeySource = apiKeySource
        self.credential = credential
        self.interval = interval
    }
}
