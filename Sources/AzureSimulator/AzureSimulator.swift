// A fake Microsoft Entra ID token endpoint and Azure OpenAI data plane on one loopback HTTP server.
import FoundationEssentials
import HTTPServer
import Synchronization

/// A real HTTP server that plays Entra ID's token endpoint and the Azure OpenAI data plane, for
/// the canary's tests and its `demo` command. Requests whose Host is
/// `<resource>.openai.localhost:<port>` reach that resource's data plane (curl resolves
/// `*.localhost` to loopback by itself); any other Host reaches the token endpoint
/// `POST /{tenant}/oauth2/v2.0/token` and the admin API under `/_simulator/`.
/// All state sits behind one lock, so tests may change scenarios while requests are in flight.
public final class AzureSimulator: Sendable {
    private let core: SimulatorCore
    private let server: HTTPServer

    /// Starts serving on `host:port` (port 0 picks a free one). `now` is the clock, in epoch
    /// seconds, that tokens are issued, checked and role assignments propagated by; inject one to
    /// test expiry and propagation without sleeping.
    public init(host: String = "127.0.0.1", port: Int = 0, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        let core = SimulatorCore(now: now)
        self.core = core
        // A thread per connection: slow and hanging scenarios sleep in the handler.
        self.server = try HTTPServer(host: host, port: port, threading: .threadPerConnection) { request in
            core.handle(request)
        }
        core.port.store(server.boundAddress.port, ordering: .relaxed)
    }

    deinit { stop() }

    /// The port the server listens on.
    public var port: Int { server.boundAddress.port }

    /// The Entra ID authority, e.g. `http://127.0.0.1:41234`; the token URL is
    /// `"\(authority)/\(tenant)/oauth2/v2.0/token"`.
    public var authority: String {
        let address = server.boundAddress
        let host: String
        switch address.host {
        case "0.0.0.0": host = "127.0.0.1"
        case "::": host = "[::1]"
        default: host = address.urlHost
        }
        return "http://\(host):\(address.port)"
    }

    /// The data-plane endpoint of a resource, e.g. `http://myres.openai.localhost:41234/`.
    public func endpoint(for resource: String) -> String {
        "http://\(resource).openai.localhost:\(port)/"
    }

    /// Makes a directory known to the token endpoint; requests to any other tenant get AADSTS90002.
    public func addTenant(_ tenantID: String) {
        core.state.withLock { _ = $0.tenants.insert(tenantID.lowercased()) }
    }

    /// Registers an application (and its tenant), replacing one with the same client id.
    public func addApplication(_ app: SimulatedApplication) {
        core.state.withLock { state in
            state.tenants.insert(app.tenantID.lowercased())
            state.applications[app.clientID.lowercased()] = app
        }
    }

    /// Registers a resource (and its tenant), replacing one with the same name.
    public func addResource(_ resource: SimulatedResource) {
        core.state.withLock { state in
            state.tenants.insert(resource.tenantID.lowercased())
            state.resources[resource.name.lowercased()] = resource
        }
    }

    /// Changes a resource in place (set scenario flags); does nothing for an unknown name.
    public func updateResource(_ name: String, _ change: (inout SimulatedResource) -> Void) {
        core.state.withLock { state in
            let key = name.lowercased()
            guard var resource = state.resources[key] else { return }
            change(&resource)
            let newKey = resource.name.lowercased()
            if newKey != key {
                state.resources[key] = nil
                if let roles = state.roles.removeValue(forKey: key) { state.roles[newKey] = roles }
            }
            state.resources[newKey] = resource
        }
    }

    /// Changes an application in place (set token faults); does nothing for an unknown client id.
    public func updateApplication(clientID: String, _ change: (inout SimulatedApplication) -> Void) {
        core.state.withLock { state in
            let key = clientID.lowercased()
            guard var app = state.applications[key] else { return }
            change(&app)
            state.applications[key] = nil
            state.tenants.insert(app.tenantID.lowercased())
            state.applications[app.clientID.lowercased()] = app
        }
    }

    /// Assigns a data-plane role (think Cognitive Services OpenAI User) on `resource` to the
    /// principal `objectID`. It takes effect `effectiveAfterSeconds` after `now()`, as real
    /// assignments take minutes to propagate; an assignment already in place stays in place.
    public func grantRole(resource: String, objectID: String, effectiveAfterSeconds: Double = 0) {
        let effectiveAt = core.now() + effectiveAfterSeconds
        core.state.withLock { state in
            SimulatorCore.grant(&state, resourceKey: resource.lowercased(), objectID: objectID, effectiveAt: effectiveAt)
        }
    }

    /// Removes the principal's role assignment on `resource`, effective at once.
    public func revokeRole(resource: String, objectID: String) {
        core.state.withLock { state in
            _ = state.roles[resource.lowercased()]?.removeValue(forKey: objectID.lowercased())
        }
    }

    /// How many data-plane requests reached `resource`'s host, answered or not.
    public func requestCount(resource: String) -> Int {
        core.state.withLock { $0.requestCounts[resource.lowercased()] ?? 0 }
    }

    /// How many token requests carried `client_id` = `clientID`, answered or not.
    public func tokenRequestCount(clientID: String) -> Int {
        core.state.withLock { $0.tokenRequestCounts[clientID.lowercased()] ?? 0 }
    }

    /// Stops the server. Hanging and delayed requests give up and their connections close, so
    /// this returns promptly. Safe to call more than once.
    public func stop() {
        core.markStopping()
        server.stop()
    }
}
