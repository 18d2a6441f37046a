// DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI, in order.
import Config

/// Tries each candidate in azure-identity's order and reports which one answered. A candidate
/// that is merely absent (no IMDS on this host, no `az` or not logged in) passes to the next; a
/// configured one that fails (a wrong secret in the environment) ends the chain, as
/// azure-identity does.
public struct DefaultChainSource: TokenSource {
    public let settings: DefaultChainSettings
    private let candidates: [(name: String, source: any TokenSource)]

    public init(settings: DefaultChainSettings, makeSource: (CredentialSettings) -> any TokenSource) {
        self.settings = settings
        candidates = settings.candidates.map { candidate in
            // A secret or certificate came from the environment's AZURE_* variables.
            let name = [.clientSecret, .clientCertificate].contains(candidate.kind) ? "environment" : candidate.kind.rawValue
            if case .managedIdentity(let mi) = candidate {
                // The chain probes IMDS once, without the retries, so a host without it moves on quickly.
                return (name, ManagedIdentitySource(settings: mi, retryPolicy: .none))
            }
            return (name, makeSource(candidate))
        }
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        var attempts: [String] = []
        var last = TokenAcquisitionError.unavailable("no candidates")
        for (name, source) in candidates {
            do {
                var token = try await source.acquireToken(candidateContext(name, context))
                token.source = name
                return token
            } catch {
                attempts.append("\(name): \(error)")
                last = error
                if !Self.passesOn(name, error) { break }
            }
        }
        throw .chainExhausted(attempts, last: last)
    }

    /// Managed identity gets a short timeout in the chain: on a host without IMDS it must not
    /// hold up the Azure CLI for the full timeout.
    private func candidateContext(_ name: String, _ context: AcquisitionContext) -> AcquisitionContext {
        guard name == "managed_identity" else { return context }
        var probe = context
        probe.timeoutSeconds = min(context.timeoutSeconds, 2)
        return probe
    }

    /// Absent rather than broken: the chain goes on.
    static func passesOn(_ name: String, _ error: TokenAcquisitionError) -> Bool {
        switch (name, error) {
        case ("managed_identity", .transport), ("managed_identity", .imdsUnavailable), ("managed_identity", .managedIdentity(400, _)),
            ("managed_identity", .unavailable), ("azure_cli", _), ("workload_identity", .unavailable):
            return true
        default:
            return false
        }
    }

    public func credentialExpiries() -> [CredentialExpiry] {
        candidates.flatMap { $0.source.credentialExpiries() }
    }
}
