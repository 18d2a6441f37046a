// The simulator's shared state behind one Mutex, and the request router the server's threads call.
import Crypto
import FoundationEssentials
import HTTPServer
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Everything the simulator knows. Keys are lowercased: tenant ids, client ids, host names and
/// object ids are case-insensitive in Azure.
struct SimulatorState: Sendable {
    var tenants: Set<String> = []
    /// By lowercased client id.
    var applications: [String: SimulatedApplication] = [:]
    /// By lowercased resource name.
    var resources: [String: SimulatedResource] = [:]
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
}

/// A certificate credential on an application, with what assertion checks need precomputed.
struct RegisteredCertificate: Sendable {
    var certificate: Certificate
    var publicKey: PublicKey
    var sha1Thumbprint: [UInt8]
    var sha256Thumbprint: [UInt8]
}

/// A federated identity credential: tokens from `issuer` about `subject` stand in for a secret.
struct FederatedCredential: Sendable, Equatable {
    var issuer: String
    var subject: String
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

    /// Routes by Host: `<resource>.openai.localhost` is the data plane, anything else the token
    /// endpoint and the admin API.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        if let resource = Self.resourceName(fromHost: request.header("Host")) {
            return handleDataPlane(request, resourceKey: resource)
        }
        if request.path == "/_simulator" || request.path.hasPrefix("/_simulator/") {
            return handleAdmin(request)
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

    /// Sleeps for `seconds` of real time in short slices (the injected clock may be frozen in
    /// tests); false when the simulator began stopping meanwhile.
    func pause(seconds: Double) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64((seconds * 1000).rounded())))
        while clock.now < deadline {
            if isStopping { return false }
            usleep(10_000)
        }
        return !isStopping
    }

    /// Blocks until the simulator stops: a request that is accepted and never answered.
    func holdUntilStopped() {
        while !isStopping { usleep(10_000) }
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
