// The simulator's shared state behind one Mutex, and the request router the server's threads call.
import Crypto
import FoundationEssentials
import HTTPServer
import Posix
import Synchronization

/// Everything the simulator knows. Keys are lowercased: tenant ids, client ids, host names and
/// object ids are case-insensitive in Azure.
struct SimulatorState: Sendable {
    var tenants: Set<String> = []
    /// By lowercased client id.
    var applications: [String: SimulatedApplication] = [:]
    /// By lowercased resource name.
    var resources: [String: SimulatedResource] = [:]
    /// API Management gateways by lowercased name.
    var gateways: [String: SimulatedGateway] = [:]
    /// Lowercased resource name -> lowercased object id -> the time (epoch seconds) the assignment takes effect.
    var roles: [String: [String: Double]] = [:]
    /// Data-plane requests seen, by lowercased resource name (known or not).
    var requestCounts: [String: Int] = [:]
    /// Token requests seen, by lowercased `client_id`.
    var tokenRequestCounts: [String: Int] = [:]
    /// Certificate credentials, by lowercased client id.
    var certificates: [String: [RegisteredCertificate]] = [:]
    /// Federated identity credentials, by lowercased client id.
    var federatedCredentials: [String: [FederatedCredential]] = [:]
    /// The host's managed identities, at most one of them system-assigned.
    var managedIdentities: [SimulatedManagedIdentity] = []
    var managedIdentityScenario = ManagedIdentityScenario()
    /// Requests seen by the IMDS, App Service and Arc endpoints together.
    var managedIdentityRequestCount = 0
    /// Arc challenge secrets handed out, by the key file's path.
    var arcKeys: [String: ArcKey] = [:]
    /// Resource Manager's role assignments: a data-plane grant is one of Cognitive Services
    /// OpenAI User at the account; others (Owner, Reader) grant no data action.
    var roleAssignments: [SimulatedRoleAssignment] = []
    var nextAssignment = 1
    /// Resource Manager requests seen.
    var resourceManagerRequestCount = 0
    /// When set, Resource Manager answers every request with this status (it is down).
    var resourceManagerStatus: Int? = nil
    /// Resource Manager's user-assigned managed identities.
    var userAssignedIdentities: [SimulatedUserAssignedIdentity] = []
    /// Microsoft Graph requests seen.
    var graphRequestCount = 0
    /// When set, Microsoft Graph answers every request with this status (429 throttles, with
    /// Retry-After; others are an outage).
    var graphStatus: Int? = nil
    /// Federated identity credentials per page of a Graph listing.
    var graphPageSize = 100
}

/// A certificate credential on an application, with what assertion checks need precomputed.
struct RegisteredCertificate: Sendable {
    var certificate: Certificate
    var publicKey: PublicKey
    var sha1Thumbprint: [UInt8]
    var sha256Thumbprint: [UInt8]
}

/// A federated identity credential: tokens from `issuer` about `subject` stand in for a secret.
/// Microsoft Graph lists it by `name` and `id`, with the `audiences` it accepts.
struct FederatedCredential: Sendable, Equatable {
    var issuer: String
    var subject: String
    var name: String
    var id: String = SimulatorCore.uuid()
    var audiences: [String] = [federatedTokenAudience]
}

/// A secret the Arc endpoint wrote to a key file for a challenge.
struct ArcKey: Sendable, Equatable {
    var secret: String
    var issuedAt: Double
}

/// The part of the simulator the server's handler threads share with the public API.
final class SimulatorCore: Sendable {
    let state = Mutex(SimulatorState())
    let now: @Sendable () -> Double
    /// The bound port, set once the server listens; used to print endpoints in the admin state.
    let port = Atomic<Int>(0)
    /// The authority URL (`http://127.0.0.1:41234`), set once the server listens; client
    /// assertions must be addressed to its token URL.
    let authority = Mutex("")
    /// The secret App Service requests must carry in `X-IDENTITY-HEADER`.
    let identityHeader: String
    /// Where the Arc endpoint writes its challenge key files.
    let arcKeyDirectory: String
    private let stopping = Atomic<Bool>(false)

    init(now: @escaping @Sendable () -> Double, identityHeader: String, arcKeyDirectory: String) {
        self.now = now
        self.identityHeader = identityHeader
        self.arcKeyDirectory = arcKeyDirectory
    }

    /// True once `AzureSimulator.stop()` has begun: waiting handlers give up.
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Tells waiting handlers to give up; called before the server is stopped so that its
    /// threads can be joined.
    func markStopping() { stopping.store(true, ordering: .releasing) }

    /// Routes by Host and path: `<resource>.openai.localhost` and `/resources/<resource>/...` are
    /// the data plane, `/gateways/<gateway>/...` an API Management gateway in front of it; discovery documents, managed identity, the admin API and the token
    /// endpoint share the rest.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        if let resource = Self.resourceName(fromHost: request.header("Host")) {
            return handleDataPlane(request, resourceKey: resource, path: request.path)
        }
        if let (resource, path) = Self.route(Self.resourcePathPrefix, fromPath: request.path) {
            return handleDataPlane(request, resourceKey: resource, path: path)
        }
        if let (gateway, path) = Self.route(Self.gatewayPathPrefix, fromPath: request.path) {
            return handleGateway(request, gatewayKey: gateway, path: path)
        }
        if let discovery = handleDiscovery(request) { return discovery }
        if request.path == "/_simulator" || request.path.hasPrefix("/_simulator/") {
            return handleAdmin(request)
        }
        if request.path.lowercased().hasPrefix("/subscriptions/") {
            return handleResourceManager(request)
        }
        if request.path.hasPrefix("/v1.0/") {
            return handleGraph(request)
        }
        if let flavor = ManagedIdentityFlavor(path: request.path) {
            return handleManagedIdentity(request, flavor: flavor)
        }
        return handleTokenEndpoint(request)
    }

    /// The resource named by a `Host` header of the form `<resource>.openai.localhost[:port]`, lowercased.
    static func resourceName(fromHost host: String?) -> String? {
        guard var host = host?.lowercased(), !host.hasPrefix("[") else { return nil }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host.hasSuffix(".") { host.removeLast() }
        let suffix = ".openai.localhost"
        guard host.hasSuffix(suffix), host.count > suffix.count else { return nil }
        return String(host.dropLast(suffix.count))
    }

    /// The path prefix of resources reached by path rather than by host name, so that stock
    /// clients reach each at a distinct endpoint on 127.0.0.1 with no resolver help.
    static let resourcePathPrefix = "/resources/"

    /// The name (lowercased) and the rest of the path of `<prefix><name>/<rest>`, as resources
    /// (`/resources/`) and gateways (`/gateways/`) are reached.
    static func route(_ prefix: String, fromPath path: String) -> (String, String)? {
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/"), slash > rest.startIndex else { return nil }
        return (FormEncoding.pathSegment(rest[..<slash]).lowercased(), String(rest[slash...]))
    }

    /// Sleeps for `seconds` of real time in short slices (the injected clock may be frozen in
    /// tests); false when the simulator began stopping meanwhile.
    func pause(seconds: Double) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64((seconds * 1000).rounded())))
        while clock.now < deadline {
            if isStopping { return false }
            System.sleep(seconds: 0.01)
        }
        return !isStopping
    }

    /// Blocks until the simulator stops: a request that is accepted and never answered.
    func holdUntilStopped() {
        while !isStopping { System.sleep(seconds: 0.01) }
    }

    /// Registers a certificate credential (the first certificate in `certificatePEM`) on the
    /// application `clientID`, replacing one with the same thumbprint.
    func addCertificate(clientID: String, certificatePEM: [UInt8]) throws {
        let certificate = try Certificate(pem: certificatePEM)
        let registered = RegisteredCertificate(
            certificate: certificate, publicKey: try certificate.publicKey(),
            sha1Thumbprint: certificate.sha1Thumbprint, sha256Thumbprint: certificate.sha256Thumbprint)
        state.withLock { state in
            var list = state.certificates[clientID.lowercased(), default: []]
            list.removeAll { $0.sha1Thumbprint == registered.sha1Thumbprint }
            list.append(registered)
            state.certificates[clientID.lowercased()] = list
        }
    }

    /// Adds a federated identity credential on the application `clientID`, once per issuer and
    /// subject (as Entra ID keeps them unique); `name` defaults to `fic-N`.
    func addFederatedCredential(clientID: String, issuer: String, subject: String, name: String? = nil, audiences: [String] = [federatedTokenAudience]) {
        state.withLock { state in
            let key = clientID.lowercased()
            var list = state.federatedCredentials[key, default: []]
            guard !list.contains(where: { $0.issuer == issuer && $0.subject == subject }) else { return }
            list.append(FederatedCredential(issuer: issuer, subject: subject, name: name ?? "fic-\(list.count + 1)", audiences: audiences))
            state.federatedCredentials[key] = list
        }
    }

    /// Adds a managed identity, replacing one with the same client id; a system-assigned
    /// identity replaces the previous system-assigned one.
    func addManagedIdentity(_ identity: SimulatedManagedIdentity) {
        state.withLock { state in
            state.managedIdentities.removeAll { existing in
                existing.clientID.lowercased() == identity.clientID.lowercased() || (!identity.userAssigned && !existing.userAssigned)
            }
            state.managedIdentities.append(identity)
        }
    }

    /// A fresh lowercase UUID, as Azure prints request and trace ids.
    static func uuid() -> String { UUID().uuidString.lowercased() }

    /// `count` random bytes as lowercase hex, for secrets and file names.
    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return hex((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Bytes as lowercase hex.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var out = ""
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return out
    }
}
