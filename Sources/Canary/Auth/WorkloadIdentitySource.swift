// Kubernetes workload identity: the projected service-account token, exchanged at Entra ID.
import Config
import HTTPClient
import Posix
import Support
import Synchronization

/// Exchanges the federated token in `token_file` for an access token. The file is re-read when it
/// changes or when the last read is over 600 s old (kubelet rotates it), as azure-identity does.
public final class WorkloadIdentitySource: TokenSource {
    public let settings: WorkloadIdentitySettings
    private struct FileState {
        var assertion: String
        var readAt: Double
        var identity: FileIdentity?
        var expiresAt: Double?
    }
    private let state = Mutex<FileState?>(nil)
    static let rereadAfter: Double = 600

    public init(settings: WorkloadIdentitySettings) {
        self.settings = settings
    }

    /// The federated token, from memory or re-read from the file.
    func federatedToken(now: Double) throws(TokenAcquisitionError) -> String {
        let identity = FileIdentity(path: settings.tokenFile)
        let cached = state.withLock { $0 }
        let fresh = cached.map { now - $0.readAt < Self.rereadAfter } ?? false
        if let cached, fresh, cached.identity == identity {
            return cached.assertion
        }
        let text: String
        do {
            text = try FileIO.readText(settings.tokenFile).trimmingTrailingWhitespace()
        } catch {
            // Mid-rotation the file can be briefly missing: a recent read still serves.
            if let cached, fresh { return cached.assertion }
            throw .unavailable("cannot read the federated token file \(settings.tokenFile): \(error)")
        }
        guard !text.isEmpty else { throw .unavailable("the federated token file \(settings.tokenFile) is empty") }
        let expiresAt = (try? TokenClaims.decode(jwt: text))?.expiresAt
        state.withLock { $0 = FileState(assertion: text, readAt: now, identity: identity, expiresAt: expiresAt) }
        return text
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        let assertion = try federatedToken(now: context.clock.wallSeconds)
        return try await EntraTokenEndpoint(authority: settings.authority, tenantID: settings.tenantID).requestToken(
            clientID: settings.clientID, scope: settings.scope, credential: EntraTokenEndpoint.assertion(assertion),
            source: "workload_identity", context: context)
    }

    public func credentialExpiries() -> [CredentialExpiry] {
        state.withLock { $0?.expiresAt }.map { [CredentialExpiry(kind: "federated_token", timestamp: $0, source: "token_file")] } ?? []
    }
}

/// What tells a changed file apart: device, inode, size and modification time.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
        guard let info = try? System.status(path: path) else { return nil }
        device = info.device
        inode = info.inode
        size = info.size
        modified = info.modifiedSeconds
        modifiedNanoseconds = info.modifiedNanoseconds
    }
}
