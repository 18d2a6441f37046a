// The settings of each credential type, as decoded from the file.
import Crypto
import Support

/// The credential types, by the `type:` value the file names them with. Adding one means a case
/// here and in `CredentialSettings`, its settings struct, its decoder in
/// `ConfigDecoder+Credentials`, and its `TokenSource` made by `TokenSourceFactory`.
public enum CredentialKind: String, Sendable, Equatable, CaseIterable {
    case clientSecret = "client_secret"
    case clientCertificate = "client_certificate"
    case workloadIdentity = "workload_identity"
    case managedIdentity = "managed_identity"
    case azureCLI = "azure_cli"
    case chain = "default"
}

/// What the settings of every credential type have.
public protocol KindedCredentialSettings: Sendable {
    /// The type these settings are for.
    static var kind: CredentialKind { get }
    /// The scope tokens are requested for.
    var scope: String { get }
}

/// A credential's settings: one case per type.
public enum CredentialSettings: Sendable, Equatable {
    case clientSecret(ClientSecretSettings)
    case clientCertificate(ClientCertificateSettings)
    case workloadIdentity(WorkloadIdentitySettings)
    case managedIdentity(ManagedIdentitySettings)
    case azureCLI(AzureCLISettings)
    case chain(DefaultChainSettings)

    /// The settings, whatever the type: the one switch over the cases.
    public var settings: any KindedCredentialSettings {
        switch self {
        case .clientSecret(let settings): return settings
        case .clientCertificate(let settings): return settings
        case .workloadIdentity(let settings): return settings
        case .managedIdentity(let settings): return settings
        case .azureCLI(let settings): return settings
        case .chain(let settings): return settings
        }
    }

    public var kind: CredentialKind { type(of: settings).kind }

    /// The `type:` value in the file.
    public var typeName: String { kind.rawValue }

    /// The scope tokens are requested for.
    public var scope: String { settings.scope }

    /// The Entra ID authority tokens come from; nil for the types that do not name one (managed
    /// identity, the Azure CLI).
    public var authority: String? {
        switch self {
        case .clientSecret(let settings): return settings.authority
        case .clientCertificate(let settings): return settings.authority
        case .workloadIdentity(let settings): return settings.authority
        case .chain(let settings): return settings.authority
        case .managedIdentity, .azureCLI: return nil
        }
    }

    /// The same credential, asking for tokens for another scope (the control plane's).
    public func withScope(_ scope: String) -> CredentialSettings {
        switch self {
        case .clientSecret(var settings):
            settings.scope = scope
            return .clientSecret(settings)
        case .clientCertificate(var settings):
            settings.scope = scope
            return .clientCertificate(settings)
        case .workloadIdentity(var settings):
            settings.scope = scope
            return .workloadIdentity(settings)
        case .managedIdentity(var settings):
            settings.scope = scope
            return .managedIdentity(settings)
        case .azureCLI(var settings):
            settings.scope = scope
            return .azureCLI(settings)
        case .chain(var settings):
            settings.scope = scope
            return .chain(settings)
        }
    }
}

/// The default scope and authority every type starts from.
public enum CredentialDefaults {
    public static let scope = "https://cognitiveservices.azure.com/.default"
    public static let authority = "https://login.microsoftonline.com"
}

/// An app registration's client id and secret (the OAuth client credentials flow).
public struct ClientSecretSettings: KindedCredentialSettings, Equatable {
    public static let kind = CredentialKind.clientSecret
    public var tenantID: String
    public var clientID: String
    public var secret: Secret
    public var secretSource: SecretSource
    public var scope: String
    public var authority: String
    /// When the secret expires (Unix time of `secret_expires`, a date), so alerts can warn first.
    public var secretExpires: Double?

    public init(
        tenantID: String, clientID: String, secret: Secret, secretSource: SecretSource, scope: String = CredentialDefaults.scope,
        authority: String = CredentialDefaults.authority, secretExpires: Double? = nil
    ) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.secret = secret
        self.secretSource = secretSource
        self.scope = scope
        self.authority = authority
        self.secretExpires = secretExpires
    }
}

/// An app registration with a certificate: a signed JWT client assertion instead of a secret.
/// The certificate and its key are parsed once, when the file is loaded.
public struct ClientCertificateSettings: KindedCredentialSettings, Equatable {
    public static let kind = CredentialKind.clientCertificate
    public var tenantID: String
    public var clientID: String
    public var certificate: Certificate
    public var certificatePath: String
    public var privateKey: PrivateKey
    /// nil when the key came from `certificatePath` too.
    public var privateKeyPath: String?
    /// RS256 (with `x5t`) or PS256 (with `x5t#S256`).
    public var algorithm: SignatureAlgorithm
    public var scope: String
    public var authority: String

    public init(
        tenantID: String, clientID: String, certificate: Certificate, certificatePath: String, privateKey: PrivateKey, privateKeyPath: String?,
        algorithm: SignatureAlgorithm = .rs256, scope: String = CredentialDefaults.scope, authority: String = CredentialDefaults.authority
    ) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.certificate = certificate
        self.certificatePath = certificatePath
        self.privateKey = privateKey
        self.privateKeyPath = privateKeyPath
        self.algorithm = algorithm
        self.scope = scope
        self.authority = authority
    }

    /// The certificate's notAfter as Unix time.
    public var certificateNotAfter: Double? { certificate.notAfter }
}

/// Kubernetes workload identity: a projected service-account token exchanged for an Entra ID token.
public struct WorkloadIdentitySettings: KindedCredentialSettings, Equatable {
    public static let kind = CredentialKind.workloadIdentity
    public var tenantID: String
    public var clientID: String
    public var tokenFile: String
    public var scope: String
    public var authority: String
}

/// Where a managed identity's tokens come from.
public enum ManagedIdentityKind: String, Sendable, Equatable, CaseIterable {
    case auto
    case imds
    case appService = "app_service"
    case arc
}

/// Which managed identity to use when the host has several.
public enum ManagedIdentitySelector: Sendable, Equatable {
    case systemAssigned
    case clientID(String)
    case objectID(String)
    case resourceID(String)
}

/// A managed identity: Azure VM IMDS, App Service and friends, or Azure Arc.
public struct ManagedIdentitySettings: KindedCredentialSettings, Equatable {
    public static let kind = CredentialKind.managedIdentity
    /// Resolved at load time: `auto` picks by environment the way azure-identity does.
    public var kind: ManagedIdentityKind
    public var selector: ManagedIdentitySelector
    /// The token endpoint (the default for the kind, or the override).
    public var endpoint: String
    /// `IDENTITY_HEADER` for App Service.
    public var identityHeader: Secret?
    public var scope: String
    /// Where Arc's challenge key files must lie (`/var/opt/azcmagent/tokens/` unless overridden).
    public var arcKeyDirectory: String

    public static let imdsEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token"
    public static let arcEndpoint = "http://localhost:40342/metadata/identity/oauth2/token"
    public static let arcKeyDirectory = "/var/opt/azcmagent/tokens/"

    /// The resource (audience) a managed identity endpoint wants: the scope without `/.default`.
    public var resource: String { resourceFromScope(scope) }
}

/// The Azure CLI's logged-in account (`az account get-access-token`).
public struct AzureCLISettings: KindedCredentialSettings, Equatable {
    public static let kind = CredentialKind.azureCLI
    public var azPath: String
    public var tenantID: String?
    public var scope: String
    /// The CLI's own timeout: it is slower than an HTTP call.
    public var timeoutSeconds: Double

    package init(azPath: String, tenantID: String? = nil, scope: String, timeoutSeconds: Double) {
        self.azPath = azPath
        self.tenantID = tenantID
        self.scope = scope
        self.timeoutSeconds = timeoutSeconds
    }
}

/// DefaultAzureCredential's order: environment, workload identity, managed identity, Azure CLI.
public struct DefaultChainSettings: KindedCredentialSettings, Equatable {
    public static let kind = CredentialKind.chain
    public var scope: String
    public var authority: String
    /// The candidates found in the environment at load time, in order.
    public var candidates: [CredentialSettings]
}

/// `https://cognitiveservices.azure.com/.default` -> `https://cognitiveservices.azure.com`.
public func resourceFromScope(_ scope: String) -> String {
    scope.hasSuffix("/.default") ? String(scope.dropLast("/.default".count)) : scope
}
