// From a credential's settings to the TokenSource that implements its flow.
import Crypto

/// Builds token sources; the one place that maps each credential type to its implementation.
public enum TokenSourceFactory {
    public static func make(_ settings: CredentialSettings) -> any TokenSource {
        switch settings {
        case .clientSecret(let settings):
            return ClientSecretSource(settings: settings)
        case .clientCertificate(let settings):
            do {
                return try ClientCertificateSource(settings: settings)
            } catch {
                return UnavailableSource(error: .unavailable("certificate \(settings.certificatePath): \(error)"))
            }
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

/// A source that always fails with the same error (material that could not be loaded).
struct UnavailableSource: TokenSource {
    let error: TokenAcquisitionError

    func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        throw error
    }
}
