// The simulator's shared state behind one Mutex, and the request router the server's threads call.
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
}

/// The part of the simulator the server's handler threads share with the public API.
final class SimulatorCore: Sendable {
    let state = Mutex(SimulatorState())
    let now: @Sendable () -> Double
    /// The bound port, set once the server listens; used to print endpoints in the admin state.
    let port = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)

    init(now: @escaping @Sendable () -> Double) {
        self.now = now
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
}
