// From a credential's settings to the TokenSource that implements its flow.
import Config

/// Builds token sources; the one place that maps each credential type to its implementation.
public enum TokenSourceFactory {
    public static func make(_ settings: CredentialSettings) -> any TokenSource {
        switch settings {
        case .clientSecret(let settings):
            return ClientSecretSource(settings: settings)
        case .clientCertificate(let settings):
            return ClientCertificateSource(settings: settings)
        case .workloadIdentity(let settings):
            return WorkloadIdentitySource(settings: settings)
        case .managedIdentity(let settings):
            return ManagedIdentitySource(settings: settings)
        case .azureCLI(let settings):
            return AzureCLISource(settings: settings)
        case .chain(let settings):
            return DefaultChainSource(settings: settings, makeSource: make)
        }
    }
}
