// A fake Microsoft Entra ID token endpoint, managed-identity endpoints and Azure OpenAI data plane on one loopback HTTP server.
import Crypto
import FoundationEssentials
import HTTPServer
import Posix
import Synchronization

/// Why the simulator could not start.
public enum AzureSimulatorError: Error, CustomStringConvertible, Equatable {
    /// The temporary folder for Arc challenge key files could not be created.
    case cannotCreateArcKeyDirectory(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotCreateArcKeyDirectory(let path, let errno):
            return "cannot create the Arc key directory \(path): \(Errno(code: errno))"
        }
    }
}

/// A real HTTP server that plays Entra ID's token endpoint, the managed-identity endpoints and
/// the Azure OpenAI data plane, for the canary's tests and its `demo` command. Requests whose
/// Host is `<resource>.openai.localhost:<port>` reach that resource's data plane (curl resolves
/// `*.localhost` to loopback by itself); any other Host reaches the token endpoint
/// `POST /{tenant}/oauth2/v2.0/token`, IMDS at `/metadata/identity/oauth2/token`, App Service at
/// `/msi/token`, Azure Arc at `/arc/metadata/identity/oauth2/token`, and the admin API under
/// `/_simulator/`. All state sits behind one lock, so tests may change scenarios while requests
/// are in flight.
public final class AzureSimulator: Sendable {
    private let core: SimulatorCore
    private let server: HTTPServer
    /// True when the simulator created the Arc key directory, and so removes it on stop.
    private let ownsArcKeyDirectory: Bool
    /// `http`, or `https` when the simulator serves TLS.
    public let scheme: String

    /// Starts serving on `host:port` (port 0 picks a free one). `now` is the clock, in epoch
    /// seconds, that tokens are issued, checked and role assignments propagated by; inject one to
    /// test expiry and propagation without sleeping. Arc challenge key files go to
    /// `arcKeyDirectory`; nil creates a fresh temporary folder, removed again by `stop()`.
    /// With `tls`, the simulator serves HTTPS only (and its authority and endpoints say `https`).
    public init(
        host: String = "127.0.0.1", port: Int = 0, arcKeyDirectory: String? = nil, tls: HTTPServerTLS? = nil,
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws {
        let directory = try arcKeyDirectory.map(Self.absolutePath) ?? Self.makeTemporaryDirectory()
        let ownsDirectory = arcKeyDirectory == nil
        ownsArcKeyDirectory = ownsDirectory
        let core = SimulatorCore(now: now, identityHeader: SimulatorCore.randomHex(bytes: 24), arcKeyDirectory: directory)
        self.core = core
        do {
            // A thread per connection: slow and hanging scenarios sleep in the handler.
            self.server = try HTTPServer(host: host, port: port, threading: .threadPerConnection, tls: tls) { request in
                core.handle(request)
            }
        } catch {
            if ownsDirectory { try? System.removeDirectory(directory) }
            throw error
        }
        core.port.store(server.boundAddress.port, ordering: .relaxed)
        scheme = tls == nil ? "http" : "https"
        let authority = Self.authority(of: server.boundAddress, scheme: scheme)
        core.authority.withLock { $0 = authority }
    }

    deinit { stop() }

    /// The port the server listens on.
    public var port: Int { server.boundAddress.port }

    /// The Entra ID authority, e.g. `http://127.0.0.1:41234`; the token URL is
    /// `"\(authority)/\(tenant)/oauth2/v2.0/token"`. The managed-identity endpoints live here too.
    public var authority: String { Self.authority(of: server.boundAddress, scheme: scheme) }

    /// The authority URL for a bound address; a wildcard address is reached over loopback.
    private static func authority(of address: SocketAddress, scheme: String) -> String {
        let host: String
        switch address.host {
        case "0.0.0.0": host = "127.0.0.1"
        case "::": host = "[::1]"
        default: host = address.urlHost
        }
        return "\(scheme)://\(host):\(address.port)"
    }

    /// The data-plane endpoint of a resource, e.g. `http://myres.openai.localhost:41234/`: its
    /// own host name, as a custom subdomain is, for clients that resolve `*.localhost` to
    /// loopback (curl does; Python's resolver does not).
    public func endpoint(for resource: String) -> String {
        "\(scheme)://\(resource).openai.localhost:\(port)/"
    }

    /// The data-plane endpoint of a resource on the authority's own host, e.g.
    /// `https://127.0.0.1:41234/resources/myres/`: reached by any client with no resolver help.
    public func pathEndpoint(for resource: String) -> String {
        "\(authority)\(SimulatorCore.resourcePathPrefix)\(resource)/"
    }

    /// The dated versions Azure OpenAI's data-plane REST specifications publish, up to
    /// `latestPublishedAPIVersion` (Azure/azure-rest-api-specs, AzureOpenAI inference and
    /// authoring); the agent's `APIVersion.published` is held to the same list by a test.
    public static let publishedAPIVersions: Set<String> = [
        "2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21",
        "2022-03-01-preview", "2022-06-01-preview", "2023-03-15-preview", "2023-04-01-preview", "2023-04-15-preview", "2023-06-01-preview",
        "2023-07-01-preview", "2023-08-01-preview", "2023-09-01-preview", "2023-10-01-preview", "2023-11-01-preview", "2023-12-01-preview",
        "2024-02-15-preview", "2024-03-01-preview", "2024-04-01-preview", "2024-05-01-preview", "2024-07-01-preview", "2024-08-01-preview",
        "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview", "2025-01-01-preview", "2025-02-01-preview", "2025-03-01-preview",
        "2025-04-01-preview",
    ]
    public static let latestPublishedAPIVersion = "2025-04-01"

    /// The endpoint clients of a gateway's API use: the gateway's URL and the API's suffix, e.g.
    /// `http://127.0.0.1:41234/gateways/contoso-apim/openai-prod/`.
    public func gatewayEndpoint(for gateway: String) -> String {
        let suffix = core.state.withLock { $0.gateways[gateway.lowercased()]?.apiSuffix } ?? ""
        return "\(authority)\(SimulatorCore.gatewayPathPrefix)\(gateway)/\(suffix)/"
    }

    /// Puts an API Management gateway in front of a resource, replacing one with the same name.
    public func addGateway(_ gateway: SimulatedGateway) {
        core.state.withLock { $0.gateways[gateway.name.lowercased()] = gateway }
    }

    /// Changes a gateway's policies in place; does nothing for an unknown name.
    public func updateGateway(_ name: String, _ change: (inout SimulatedGateway) -> Void) {
        core.state.withLock { state in
            guard var gateway = state.gateways[name.lowercased()] else { return }
            change(&gateway)
            state.gateways[name.lowercased()] = gateway
        }
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
    public func grantRole(
        resource: String, objectID: String, effectiveAfterSeconds: Double = 0, role: SimulatedRole = .openAIUser,
        at scope: SimulatedRoleScope = .account
    ) {
        let current = core.now()
        core.state.withLock { state in
            SimulatorCore.grant(
                &state, resourceKey: resource.lowercased(), objectID: objectID, effectiveAt: current + effectiveAfterSeconds,
                createdAt: current, role: role, at: scope)
        }
    }

    /// How many requests Resource Manager got.
    public var resourceManagerRequestCount: Int { core.state.withLock { $0.resourceManagerRequestCount } }

    /// Takes Resource Manager down (every request answered with `status`), or back up with nil.
    public func setResourceManagerStatus(_ status: Int?) {
        core.state.withLock { $0.resourceManagerStatus = status }
    }

    /// The simulator's clock (Unix time).
    public var now: Double { core.now() }

    /// Adds a user-assigned managed identity to Resource Manager, replacing one of that name in
    /// its resource group.
    public func addUserAssignedIdentity(_ identity: SimulatedUserAssignedIdentity) {
        core.add(identity)
    }

    /// How many requests Microsoft Graph got.
    public var graphRequestCount: Int { core.state.withLock { $0.graphRequestCount } }

    /// Throttles Microsoft Graph (429, with Retry-After) or takes it down (any other status), or
    /// brings it back with nil.
    public func setGraphStatus(_ status: Int?) {
        core.state.withLock { $0.graphStatus = status }
    }

    /// Federated identity credentials per page of Graph's listings (default 100).
    public func setGraphPageSize(_ size: Int) {
        core.state.withLock { $0.graphPageSize = max(1, size) }
    }

    /// Removes the principal's role assignment on `resource`, effective at once.
    public func revokeRole(resource: String, objectID: String) {
        core.state.withLock { state in
            _ = state.roles[resource.lowercased()]?.removeValue(forKey: objectID.lowercased())
            SimulatorCore.removeAssignments(&state, resourceKey: resource.lowercased(), objectID: objectID)
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

    /// Registers a certificate credential (the first certificate in `certificatePEM`) on the
    /// application `clientID`: client assertions naming its thumbprint must be signed by its key.
    /// Throws the Crypto module's error when the PEM holds no usable certificate.
    public func addCertificate(clientID: String, certificatePEM: [UInt8]) throws {
        try core.addCertificate(clientID: clientID, certificatePEM: certificatePEM)
    }

    /// Adds a federated identity credential on the application `clientID`: tokens issued by
    /// `issuer` about `subject` for one of `audiences` stand in for its secret. Microsoft Graph
    /// lists it under `name` (default `fic-N`).
    public func addFederatedCredential(
        clientID: String, issuer: String, subject: String, name: String? = nil, audiences: [String] = ["api://AzureADTokenExchange"]
    ) {
        core.addFederatedCredential(clientID: clientID, issuer: issuer, subject: subject, name: name, audiences: audiences)
    }

    /// A token like a Kubernetes projected service-account token, issued at `now()`, for
    /// `AZURE_FEDERATED_TOKEN_FILE`. It is not signed: the token endpoint checks its claims only.
    public func makeFederatedToken(issuer: String, subject: String, audience: String = "api://AzureADTokenExchange", lifetimeSeconds: Int = 3600) -> String {
        SimulatedToken.federated(issuer: issuer, subject: subject, audience: audience, lifetimeSeconds: lifetimeSeconds, now: core.now())
    }

    /// Adds a managed identity to the simulated host, replacing one with the same client id; a
    /// system-assigned identity replaces the previous system-assigned one.
    public func addManagedIdentity(_ identity: SimulatedManagedIdentity) {
        core.addManagedIdentity(identity)
    }

    /// Changes how the managed-identity endpoints misbehave (410, injected statuses, hangs).
    public func updateManagedIdentityScenario(_ change: (inout ManagedIdentityScenario) -> Void) {
        core.state.withLock { change(&$0.managedIdentityScenario) }
    }

    /// How many requests reached the IMDS, App Service and Arc endpoints together, answered or not.
    public var managedIdentityRequestCount: Int {
        core.state.withLock { $0.managedIdentityRequestCount }
    }

    /// The secret App Service requests must send in `X-IDENTITY-HEADER` (what the platform puts
    /// in `IDENTITY_HEADER`): random, fixed for the simulator's life.
    public var appServiceIdentityHeader: String { core.identityHeader }

    /// The absolute folder the Arc endpoint writes its challenge key files to.
    public var arcKeyDirectory: String { core.arcKeyDirectory }

    /// Stops the server. Hanging and delayed requests give up and their connections close, so
    /// this returns promptly. Removes the Arc key files it wrote (and their folder when the
    /// simulator created it). Safe to call more than once.
    public func stop() {
        core.markStopping()
        server.stop()
        core.removeArcKeyFiles()
        if ownsArcKeyDirectory { try? System.removeDirectory(core.arcKeyDirectory) }
    }

    /// `path` made absolute against the working directory, as a `realm` must be.
    private static func absolutePath(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        guard let directory = System.currentDirectory() else { return path }
        return (directory.hasSuffix("/") ? directory : directory + "/") + path
    }

    /// A fresh private folder under `$TMPDIR` (or /tmp) for Arc key files.
    private static func makeTemporaryDirectory() throws(AzureSimulatorError) -> String {
        var base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        let template = absolutePath(base) + "/aoai-canary-arc-XXXXXX"
        do throws(Errno) {
            return try System.makeTemporaryDirectory(template: template)
        } catch {
            throw .cannotCreateArcKeyDirectory(path: template, errno: error.code)
        }
    }
}
