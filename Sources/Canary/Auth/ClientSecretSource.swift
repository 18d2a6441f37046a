// The client credentials flow with a client secret.
import Config
import HTTPClient

/// Gets tokens for an app registration with its client id and secret.
public struct ClientSecretSource: TokenSource {
    public let settings: ClientSecretSettings

    public init(settings: ClientSecretSettings) {
        self.settings = settings
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        try await EntraTokenEndpoint(authority: settings.authority, tenantID: settings.tenantID).requestToken(
            clientID: settings.clientID, scope: settings.scope,
            credential: [("client_secret", settings.secret.exposedValue)], source: "client_secret", context: context)
    }

    public func credentialExpiries() -> [CredentialExpiry] {
        settings.secretExpires.map { [CredentialExpiry(kind: "client_secret", timestamp: $0, source: "config")] } ?? []
    }
}
