// The simulated managed-identity endpoints: Azure VM's IMDS, App Service (Functions, Container Apps) and Azure Arc.
import HTTPServer
import JSON
import Posix

/// Which managed-identity endpoint a request reached; each has its own path, authentication,
/// selector name and answer shape (AZURE_AUTH_FACTS.md §1).
enum ManagedIdentityFlavor: Equatable {
    /// Azure VM: `GET /metadata/identity/oauth2/token` with `Metadata: true`.
    case imds
    /// App Service, Functions, Container Apps: `GET /msi/token` with `X-IDENTITY-HEADER`.
    case appService
    /// Azure Arc: `GET /arc/metadata/identity/oauth2/token` with `Metadata: true` and a key-file challenge.
    case arc

    /// The flavor served at `path`; nil for any other path.
    init?(path: String) {
        switch path {
        case "/metadata/identity/oauth2/token": self = .imds
        case "/msi/token": self = .appService
        case "/arc/metadata/identity/oauth2/token": self = .arc
        default: return nil
        }
    }

    /// The query parameter that names an identity by ARM id (App Service's 2019-08-01 API renamed it).
    var resourceIDSelector: String { self == .appService ? "mi_res_id" : "msi_res_id" }
}

/// What the scenario makes a managed-identity request meet before it is looked at.
private enum ManagedIdentityFault {
    case hang
    case gone
    case status(Int)
}

/// How long an Arc challenge secret stays good, in seconds of the injected clock.
private let arcKeyLifetimeSeconds = 300.0

extension SimulatorCore {
    /// Answers a request to one of the managed-identity endpoints.
    func handleManagedIdentity(_ request: HTTPRequest, flavor: ManagedIdentityFlavor) -> HTTPResponse {
        let current = now()
        let fault: ManagedIdentityFault? = state.withLock { state in
            state.managedIdentityRequestCount += 1
            let scenario = state.managedIdentityScenario
            if scenario.hang { return .hang }
            if let goneUntil = scenario.goneUntil, current < goneUntil { return .gone }
            if let status = scenario.failureStatus, scenario.failureCount > 0 {
                if scenario.failureCount != .max { state.managedIdentityScenario.failureCount -= 1 }
                return .status(status)
            }
            return nil
        }
        switch fault {
        case .hang?:
            holdUntilStopped()
            return .connectionClosed
        case .gone?:
            return managedIdentityError(
                flavor, status: 410, error: "service_unavailable",
                description: "The instance metadata service is being updated. Retry the request in a little while.")
        case .status(let status)?:
            return managedIdentityError(
                flavor, status: status, error: Self.managedIdentityErrorName(status),
                description: Self.managedIdentityErrorText(status))
        case nil:
            break
        }

        guard request.method == "GET" else {
            return managedIdentityError(
                flavor, status: 405, error: "invalid_request",
                description: "The endpoint only accepts GET requests. Received a \(request.method) request.")
        }
        switch flavor {
        case .imds, .arc:
            guard request.header("Metadata")?.lowercased() == "true" else {
                return managedIdentityError(flavor, status: 400, error: "invalid_request", description: "Required metadata header not specified")
            }
        case .appService:
            guard request.header("X-IDENTITY-HEADER") == identityHeader else {
                return managedIdentityError(
                    flavor, status: 401, error: "unauthorized_client",
                    description: "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
            }
        }
        if flavor == .arc, let challenge = arcChallenge(request, now: current) { return challenge }

        guard let apiVersion = request.queryValue("api-version"), !apiVersion.isEmpty else {
            return managedIdentityError(flavor, status: 400, error: "invalid_request", description: "Required api-version parameter not specified")
        }
        guard let resource = request.queryValue("resource"), !resource.isEmpty else {
            return managedIdentityError(flavor, status: 400, error: "invalid_request", description: "Required audience parameter not specified")
        }
        let selectors = ["client_id", "object_id", flavor.resourceIDSelector].compactMap { name in
            request.queryValue(name).map { (name: name, value: $0.lowercased()) }
        }
        guard selectors.count <= 1 else {
            return managedIdentityError(
                flavor, status: 400, error: "invalid_request",
                description: "Only one of client_id, object_id and \(flavor.resourceIDSelector) may be specified")
        }
        let found = state.withLock { state in
            state.managedIdentities.first { identity in
                guard let selector = selectors.first else { return !identity.userAssigned }
                switch selector.name {
                case "client_id": return identity.clientID.lowercased() == selector.value
                case "object_id": return identity.objectID.lowercased() == selector.value
                default: return identity.resourceID.lowercased() == selector.value
                }
            }
        }
        guard let identity = found else {
            return managedIdentityError(flavor, status: 400, error: "invalid_request", description: "Identity not found")
        }

        var audience = resource
        if audience.hasSuffix("/.default") { audience.removeLast("/.default".count) }
        let issuedAt = Int(current.rounded(.down))
        let token = SimulatedToken.mint(for: identity, audience: audience, now: current)
        let expiresOn = String(issuedAt + identity.tokenLifetimeSeconds)
        let members: [(String, JSONValue)]
        switch flavor {
        case .imds, .arc:
            members = [
                ("access_token", .string(token)),
                ("refresh_token", .string("")),
                ("expires_in", .string(String(identity.tokenLifetimeSeconds))),
                ("expires_on", .string(expiresOn)),
                ("ext_expires_in", .string(String(identity.tokenLifetimeSeconds))),
                ("not_before", .string(String(issuedAt))),
                ("resource", .string(resource)),
                ("token_type", .string("Bearer")),
            ]
        case .appService:
            members = [
                ("access_token", .string(token)),
                ("expires_on", .string(expiresOn)),
                ("resource", .string(resource)),
                ("token_type", .string("Bearer")),
                ("client_id", .string(identity.clientID)),
            ]
        }
        return managedIdentityResponse(status: 200, body: JSONValue.object(members).rendered)
    }

    /// Nil when the request carries a live Arc secret; otherwise a 401 whose `WWW-Authenticate`
    /// realm names a fresh key file holding the secret to send back.
    private func arcChallenge(_ request: HTTPRequest, now current: Double) -> HTTPResponse? {
        var presented: String?
        if let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("basic ") {
            presented = String(authorization.dropFirst("basic ".count)).trimmingSpaces
        }
        let (accepted, expired) = state.withLock { state -> (Bool, [String]) in
            let expired = state.arcKeys.filter { current - $0.value.issuedAt > arcKeyLifetimeSeconds }.map(\.key)
            for path in expired { state.arcKeys[path] = nil }
            let accepted = presented.map { secret in state.arcKeys.values.contains { $0.secret == secret } } ?? false
            return (accepted, expired)
        }
        for path in expired { try? System.removeFile(path) }
        if accepted { return nil }

        let secret = Self.randomHex(bytes: 32)
        let path = arcKeyDirectory + "/" + Self.randomHex(bytes: 16) + ".key"
        if let failure = Self.writeKeyFile(path, secret) {
            return managedIdentityError(
                .arc, status: 500, error: "unknown",
                description: "Cannot write the challenge key file \(path) (errno \(failure)).")
        }
        state.withLock { $0.arcKeys[path] = ArcKey(secret: secret, issuedAt: current) }
        var response = managedIdentityError(
            .arc, status: 401, error: "unauthorized_client",
            description: presented == nil
                ? "Authorization required: send the content of the file named in WWW-Authenticate as Basic credentials."
                : "The secret is wrong or expired: read the new file named in WWW-Authenticate.")
        response.headers.append(("WWW-Authenticate", "Basic realm=\(path)"))
        return response
    }

    /// Removes the Arc key files still on disk (called when the simulator stops).
    func removeArcKeyFiles() {
        let paths = state.withLock { state -> [String] in
            defer { state.arcKeys = [:] }
            return Array(state.arcKeys.keys)
        }
        for path in paths { try? System.removeFile(path) }
    }

    /// Creates `path` readable by its owner only (0600) holding `secret`; the errno on failure.
    private static func writeKeyFile(_ path: String, _ secret: String) -> Int32? {
        do throws(Errno) {
            let fd = try System.createExclusive(path, mode: 0o600)
            defer { System.close(fd) }
            do throws(Errno) {
                try System.write(fd, Array(secret.utf8))
            } catch {
                try? System.removeFile(path)
                throw error
            }
            return nil
        } catch {
            return error.code
        }
    }

    /// The `error` code IMDS sends with an injected status.
    private static func managedIdentityErrorName(_ status: Int) -> String {
        switch status {
        case 404: return "not_found"
        case 429: return "too_many_requests"
        case 503: return "service_unavailable"
        default: return "unknown"
        }
    }

    /// The description sent with an injected status.
    private static func managedIdentityErrorText(_ status: Int) -> String {
        switch status {
        case 404: return "The requested identity has not been assigned to this resource yet."
        case 429: return "Too many requests: IMDS throttled the caller."
        case 500: return "Failed to retrieve token"
        case 503: return "The managed identity service is temporarily unavailable."
        default: return "The simulator was told to fail this request with status \(status)."
        }
    }

    /// An error in the flavor's shape: `{"error":..,"error_description":..}` for IMDS and Arc,
    /// `{"statusCode":..,"message":..,"correlationId":..}` for App Service.
    private func managedIdentityError(_ flavor: ManagedIdentityFlavor, status: Int, error: String, description: String) -> HTTPResponse {
        let body: JSONValue
        switch flavor {
        case .imds, .arc:
            body = .object([("error", .string(error)), ("error_description", .string(description))])
        case .appService:
            body = .object([("statusCode", .int(status)), ("message", .string(description)), ("correlationId", .string(Self.uuid()))])
        }
        return managedIdentityResponse(status: status, body: body.rendered)
    }

    /// A managed-identity answer with the headers the endpoints send.
    private func managedIdentityResponse(status: Int, body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, contentType: "application/json; charset=utf-8", body: body,
            headers: [
                ("Date", HTTPDate.imfFixdate(now()))
            ])
    }
}
