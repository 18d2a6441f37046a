// From a credential's settings to the TokenSource that implements its flow.

/// Builds token sources; the one place that maps each credential type to its implementation.
public enum TokenSourceFactory {
    public static func make(_ settings: CredentialSettings) -> any TokenSource {
        switch settings {
        case .clientSecret(let settings): return ClientSecretSource(settings: settings)
        }
    }
}
