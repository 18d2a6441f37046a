// The admin API under /_simulator/: read the state and change scenarios over HTTP, for the demo and manual play.
import HTTPServer
import JSON

/// Why an admin request was refused; the description goes back in the body's `error`.
enum SimulatorAdminError: Error, CustomStringConvertible, Equatable {
    /// No admin route for this method and path.
    case noRoute(method: String, path: String)
    /// The body is not a JSON object.
    case notAnObject
    /// A field the target cannot change (or that does not exist).
    case unknownField(String)
    /// A field with a value of the wrong JSON type.
    case wrongType(field: String, expected: String)
    /// No resource of that name.
    case unknownResource(String)
    /// No application with that client id.
    case unknownApplication(String)
    /// No gateway of that name.
    case unknownGateway(String)
    /// A resource of that name exists already.
    case resourceExists(String)

    var description: String {
        switch self {
        case .noRoute(let method, let path): return "no admin route for \(method) \(path)"
        case .notAnObject: return "the body must be a JSON object"
        case .unknownField(let field): return "unknown field \"\(field)\""
        case .wrongType(let field, let expected): return "field \"\(field)\" must be \(expected)"
        case .unknownResource(let name): return "unknown resource \"\(name)\""
        case .unknownApplication(let clientID): return "unknown application \"\(clientID)\""
        case .resourceExists(let name): return "a resource named \"\(name)\" exists"
        case .unknownGateway(let name): return "unknown gateway \"\(name)\""
        }
    }

    /// The HTTP status the error is answered with.
    var status: Int {
        switch self {
        case .noRoute, .unknownResource, .unknownApplication, .unknownGateway: return 404
        case .notAnObject, .unknownField, .wrongType: return 400
        case .resourceExists: return 409
        }
    }
}

extension SimulatorCore {
    /// Answers `/_simulator/...` requests.
    func handleAdmin(_ request: HTTPRequest) -> HTTPResponse {
        let parts = request.path.split(separator: "/").dropFirst().map(FormEncoding.pathSegment)
        do {
            switch (request.method, parts.count) {
            case ("GET", 1) where parts[0] == "state":
                break
            case ("POST", 2) where parts[0] == "resources":
                let members = try Self.objectMembers(request.body)
                try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) in
                    let key = parts[1].lowercased()
                    guard var resource = state.resources[key] else { throw .unknownResource(parts[1]) }
                    try Self.apply(members, to: &resource)
                    state.resources[key] = resource
                }
            case ("POST", 3) where parts[0] == "resources" && parts[2] == "copies":
                // {"names": [...]}: resources like this one, with its principals' roles at the account, for an estate of any size.
                var names: [String] = []
                for (name, value) in try Self.objectMembers(request.body) {
                    guard name == "names" else { throw SimulatorAdminError.unknownField(name) }
                    names = try Self.strings(value, name)
                }
                let added = try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) -> Int in
                    try Self.copy(&state, resourceKey: parts[1].lowercased(), as: names)
                }
                return adminResponse(200, JSONValue.object([("added", .int(added))]).rendered)
            case ("POST", 2) where parts[0] == "gateways":
                let members = try Self.objectMembers(request.body)
                try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) in
                    let key = parts[1].lowercased()
                    guard var gateway = state.gateways[key] else { throw .unknownGateway(parts[1]) }
                    try Self.apply(members, to: &gateway)
                    state.gateways[key] = gateway
                }
            case ("POST", 2) where parts[0] == "applications":
                let members = try Self.objectMembers(request.body)
                try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) in
                    let key = parts[1].lowercased()
                    guard var app = state.applications[key] else { throw .unknownApplication(parts[1]) }
                    try Self.apply(members, to: &app)
                    state.applications[key] = app
                }
            case ("POST", 3) where parts[0] == "applications" && parts[2] == "certificates":
                var pem: String?
                for (name, value) in try Self.objectMembers(request.body) {
                    guard name == "pem" else { throw SimulatorAdminError.unknownField(name) }
                    pem = try Self.string(value, name)
                }
                guard let pem else { throw SimulatorAdminError.wrongType(field: "pem", expected: "a string") }
                guard state.withLock({ $0.applications[parts[1].lowercased()] != nil }) else { throw SimulatorAdminError.unknownApplication(parts[1]) }
                do {
                    try addCertificate(clientID: parts[1], certificatePEM: Array(pem.utf8))
                } catch {
                    throw SimulatorAdminError.wrongType(field: "pem", expected: "a PEM certificate (\(error))")
                }
            case ("POST", 3) where parts[0] == "applications" && parts[2] == "federated-credentials":
                var issuer: String?
                var subject: String?
                var credentialName: String?
                var audiences = [federatedTokenAudience]
                for (name, value) in try Self.objectMembers(request.body) {
                    switch name {
                    case "issuer": issuer = try Self.string(value, name)
                    case "subject": subject = try Self.string(value, name)
                    case "name": credentialName = try Self.string(value, name)
                    case "audiences": audiences = try Self.strings(value, name)
                    default: throw SimulatorAdminError.unknownField(name)
                    }
                }
                guard let issuer else { throw SimulatorAdminError.wrongType(field: "issuer", expected: "a string") }
                guard let subject else { throw SimulatorAdminError.wrongType(field: "subject", expected: "a string") }
                guard state.withLock({ $0.applications[parts[1].lowercased()] != nil }) else { throw SimulatorAdminError.unknownApplication(parts[1]) }
                addFederatedCredential(clientID: parts[1], issuer: issuer, subject: subject, name: credentialName, audiences: audiences)
            case ("GET", 1) where parts[0] == "federated-token":
                guard let issuer = request.queryValue("issuer"), let subject = request.queryValue("subject") else {
                    throw SimulatorAdminError.wrongType(field: "issuer and subject", expected: "query parameters")
                }
                let token = SimulatedToken.federated(
                    issuer: issuer, subject: subject, audience: request.queryValue("audience") ?? federatedTokenAudience,
                    lifetimeSeconds: 3600, now: now())
                return adminResponse(200, JSONValue.object([("token", .string(token))]).rendered)
            case ("POST", 1) where parts[0] == "managed-identities":
                let members = try Self.objectMembers(request.body)
                let tenant = state.withLock { $0.tenants.sorted().first ?? "" }
                var identity = SimulatedManagedIdentity(tenantID: tenant, clientID: "", objectID: "", resourceID: "", userAssigned: true)
                try Self.apply(members, to: &identity)
                guard !identity.clientID.isEmpty, !identity.objectID.isEmpty else {
                    throw SimulatorAdminError.wrongType(field: "clientID and objectID", expected: "strings")
                }
                if identity.resourceID.isEmpty {
                    identity.resourceID =
                        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/simulated/providers/"
                        + "Microsoft.ManagedIdentity/userAssignedIdentities/\(identity.clientID)"
                }
                addManagedIdentity(identity)
            case ("POST", 2) where parts[0] == "roles":
                var objectID: String?
                var delay = 0.0
                var role = SimulatedRole.openAIUser
                var level = SimulatedRoleScope.account
                for (name, value) in try Self.objectMembers(request.body) {
                    switch name {
                    case "objectID": objectID = try Self.string(value, name)
                    case "effectiveAfterSeconds": delay = try Self.double(value, name)
                    case "scope":
                        guard let found = SimulatedRoleScope(rawValue: try Self.string(value, name)) else {
                            throw SimulatorAdminError.wrongType(field: "scope", expected: "account, resourceGroup or subscription")
                        }
                        level = found
                    case "role":
                        let text = try Self.string(value, name)
                        guard let found = SimulatedRole.named(text) else {
                            throw SimulatorAdminError.wrongType(field: "role", expected: "a built-in role's id or name")
                        }
                        role = found
                    default: throw SimulatorAdminError.unknownField(name)
                    }
                }
                guard let objectID else { throw SimulatorAdminError.wrongType(field: "objectID", expected: "a string") }
                let current = now()
                try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) in
                    let key = parts[1].lowercased()
                    guard state.resources[key] != nil else { throw .unknownResource(parts[1]) }
                    Self.grant(&state, resourceKey: key, objectID: objectID, effectiveAt: current + delay, createdAt: current, role: role, at: level)
                }
            case ("POST", 1) where parts[0] == "resource-manager":
                // {"status": 503} takes Resource Manager down; {"status": null} brings it back.
                for (name, value) in try Self.objectMembers(request.body) {
                    guard name == "status" else { throw SimulatorAdminError.unknownField(name) }
                    let status = try Self.optionalInt(value, name)
                    state.withLock { $0.resourceManagerStatus = status }
                }
            case ("POST", 1) where parts[0] == "user-assigned-identities":
                // {"name", "resourceGroup", "clientID", "principalID", "federatedCredentials":
                // [{"name", "issuer", "subject"}]}: an identity Resource Manager holds.
                var fields: [String: String] = [:]
                var credentials: [(name: String, issuer: String, subject: String, audiences: [String])] = []
                for (name, value) in try Self.objectMembers(request.body) {
                    switch name {
                    case "name", "resourceGroup", "clientID", "principalID", "subscriptionID": fields[name] = try Self.string(value, name)
                    case "federatedCredentials":
                        guard case .array(let items) = value else { throw SimulatorAdminError.wrongType(field: name, expected: "an array") }
                        for item in items {
                            guard let name = item["name"]?.stringValue, let issuer = item["issuer"]?.stringValue, let subject = item["subject"]?.stringValue
                            else { throw SimulatorAdminError.wrongType(field: "federatedCredentials", expected: "[{name, issuer, subject}]") }
                            credentials.append((name, issuer, subject, [federatedTokenAudience]))
                        }
                    default: throw SimulatorAdminError.unknownField(name)
                    }
                }
                guard let name = fields["name"], let group = fields["resourceGroup"], let clientID = fields["clientID"], let principal = fields["principalID"]
                else { throw SimulatorAdminError.wrongType(field: "name, resourceGroup, clientID and principalID", expected: "strings") }
                let tenant = state.withLock { $0.tenants.sorted().first ?? "" }
                var identity = SimulatedUserAssignedIdentity(resourceGroup: group, name: name, clientID: clientID, principalID: principal, tenantID: tenant)
                if let subscription = fields["subscriptionID"] { identity.subscriptionID = subscription }
                identity.federatedCredentials = credentials
                add(identity)
            case ("POST", 1) where parts[0] == "graph":
                // {"status": 429} throttles Microsoft Graph, {"status": 503} takes it down, null
                // brings it back; {"pageSize": 2} pages its listings.
                for (name, value) in try Self.objectMembers(request.body) {
                    switch name {
                    case "status":
                        let status = try Self.optionalInt(value, name)
                        state.withLock { $0.graphStatus = status }
                    case "pageSize":
                        let size = try Self.int(value, name)
                        state.withLock { $0.graphPageSize = max(1, size) }
                    default: throw SimulatorAdminError.unknownField(name)
                    }
                }
            case ("POST", 1) where parts[0] == "managed-identity":
                let members = try Self.objectMembers(request.body)
                let current = now()
                try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) in
                    try Self.apply(members, to: &state.managedIdentityScenario, now: current)
                }
            case ("DELETE", 3) where parts[0] == "roles":
                try state.withLock { (state: inout SimulatorState) throws(SimulatorAdminError) in
                    let key = parts[1].lowercased()
                    guard state.resources[key] != nil else { throw .unknownResource(parts[1]) }
                    state.roles[key]?[parts[2].lowercased()] = nil
                    SimulatorCore.removeAssignments(&state, resourceKey: key, objectID: parts[2])
                }
            default:
                throw SimulatorAdminError.noRoute(method: request.method, path: request.path)
            }
        } catch let error as SimulatorAdminError {
            return adminResponse(error.status, JSONValue.object([("error", .string(error.description))]).rendered)
        } catch {
            return adminResponse(500, JSONValue.object([("error", .string("\(error)"))]).rendered)
        }
        return adminResponse(200, stateJSON().rendered)
    }

    /// Records a role assignment; an assignment already in place keeps its earlier effective time.
    static func grant(
        _ state: inout SimulatorState, resourceKey: String, objectID: String, effectiveAt: Double, createdAt: Double? = nil,
        role: SimulatedRole = .openAIUser, at level: SimulatedRoleScope = .account
    ) {
        let objectKey = objectID.lowercased()
        // Data roles are simulated at the account only: the data plane looks them up there.
        if level == .account, role.allows(dataAction: "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action") {
            let existing = state.roles[resourceKey]?[objectKey]
            state.roles[resourceKey, default: [:]][objectKey] = min(existing ?? effectiveAt, effectiveAt)
        }
        guard let resource = state.resources[resourceKey] else { return }
        let scope: String
        switch level {
        case .account: scope = resource.armID
        case .resourceGroup: scope = "/subscriptions/\(resource.subscriptionID)/resourceGroups/\(resource.resourceGroup)"
        case .subscription: scope = "/subscriptions/\(resource.subscriptionID)"
        }
        if !state.roleAssignments.contains(where: { $0.principalID == objectKey && $0.roleID == role.id && $0.scope == scope }) {
            state.roleAssignments.append(
                SimulatedRoleAssignment(
                    id: nextAssignmentID(&state), principalID: objectKey, roleID: role.id, scope: scope, createdOn: createdAt ?? effectiveAt))
        }
    }

    /// Adds a resource under each of `names` with the settings of `resourceKey`'s, and its role
    /// assignments at the account scope re-scoped to the copy. Refuses the whole batch when a name
    /// is taken. Linear in the assignments and the names.
    static func copy(_ state: inout SimulatorState, resourceKey: String, as names: [String]) throws(SimulatorAdminError) -> Int {
        guard let original = state.resources[resourceKey] else { throw .unknownResource(resourceKey) }
        var seen = Set<String>()
        for name in names where state.resources[name.lowercased()] != nil || !seen.insert(name.lowercased()).inserted {
            throw .resourceExists(name)
        }
        let assignments = state.roleAssignments.filter { $0.scope == original.armID }
        for name in names {
            var copy = original
            copy.name = name
            let key = name.lowercased()
            state.resources[key] = copy
            state.roles[key] = state.roles[resourceKey]
            for assignment in assignments {
                var moved = assignment
                moved.id = nextAssignmentID(&state)
                moved.scope = copy.armID
                state.roleAssignments.append(moved)
            }
        }
        return names.count
    }

    /// The next role assignment's id: a GUID whose last group counts the assignments made.
    static func nextAssignmentID(_ state: inout SimulatorState) -> String {
        let number = String(state.nextAssignment)
        state.nextAssignment += 1
        return "a1b2c3d4-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - number.count)) + number
    }

    /// Removes every role assignment of the principal at the account's own scope.
    static func removeAssignments(_ state: inout SimulatorState, resourceKey: String, objectID: String) {
        guard let scope = state.resources[resourceKey]?.armID else { return }
        state.roleAssignments.removeAll { $0.principalID == objectID.lowercased() && $0.scope == scope }
    }

    /// The whole state as JSON, with secrets and keys redacted.
    func stateJSON() -> JSONValue {
        let current = now()
        let port = self.port.load(ordering: .relaxed)
        let base = authority.withLock { $0 }
        let state = self.state.withLock { $0 }
        let applications: [JSONValue] = state.applications.keys.sorted().map { key in
            let app = state.applications[key]!
            return .object([
                ("clientID", .string(app.clientID)),
                ("tenantID", .string(app.tenantID)),
                ("objectID", .string(app.objectID)),
                ("clientSecret", .string("<redacted>")),
                ("tokenVersion", .string(app.tokenVersion)),
                ("tokenLifetimeSeconds", .int(app.tokenLifetimeSeconds)),
                ("refreshInSeconds", app.refreshInSeconds.map(JSONValue.int) ?? .null),
                ("tokenError", app.tokenError.map(JSONValue.int) ?? .null),
                ("tokenEndpointDelaySeconds", .double(app.tokenEndpointDelaySeconds)),
                ("tokenEndpointHang", .bool(app.tokenEndpointHang)),
                ("tokenEndpointStatus", app.tokenEndpointStatus.map(JSONValue.int) ?? .null),
                ("tokenRequests", .int(state.tokenRequestCounts[key] ?? 0)),
                ("certificates", .array((state.certificates[key] ?? []).map { .string(Self.hex($0.sha1Thumbprint).uppercased()) })),
                (
                    "federatedCredentials",
                    .array(
                        (state.federatedCredentials[key] ?? []).map { credential in
                            .object([
                                ("name", .string(credential.name)), ("issuer", .string(credential.issuer)), ("subject", .string(credential.subject)),
                                ("audiences", .array(credential.audiences.map(JSONValue.string))),
                            ])
                        })
                ),
            ])
        }
        let resources: [JSONValue] = state.resources.keys.sorted().map { key in
            let resource = state.resources[key]!
            let roles: [JSONValue] = (state.roles[key] ?? [:]).sorted { $0.key < $1.key }.map { objectID, effectiveAt in
                .object([
                    ("objectID", .string(objectID)),
                    ("effectiveAt", .double(effectiveAt)),
                    ("effective", .bool(effectiveAt <= current)),
                ])
            }
            return .object([
                ("name", .string(resource.name)),
                ("endpoint", .string("\(base)\(Self.resourcePathPrefix)\(resource.name)/")),
                ("hostEndpoint", .string("\(base.hasPrefix("https") ? "https" : "http")://\(resource.name).openai.localhost:\(port)/")),
                ("tenantID", .string(resource.tenantID)),
                ("apiKey", .string("<redacted>")),
                ("deployments", .array(resource.deployments.map(JSONValue.string))),
                ("expectedAudience", .string(resource.expectedAudience)),
                ("keyInvalid", .bool(resource.keyInvalid)),
                ("localAuthDisabled", .bool(resource.localAuthDisabled)),
                ("regionalEndpoint", .bool(resource.regionalEndpoint)),
                ("networkDenied", .bool(resource.networkDenied)),
                ("deploymentMissing", .bool(resource.deploymentMissing)),
                ("throttleRetryAfterSeconds", resource.throttleRetryAfterSeconds.map(JSONValue.int) ?? .null),
                ("throttleHeaders", .string(resource.throttleHeaders.rawValue)),
                ("serverErrorStatus", resource.serverErrorStatus.map(JSONValue.int) ?? .null),
                ("delaySeconds", .double(resource.delaySeconds)),
                ("hang", .bool(resource.hang)),
                ("closeConnection", .bool(resource.closeConnection)),
                ("clockSkewSeconds", .double(resource.clockSkewSeconds)),
                ("roles", .array(roles)),
                ("requests", .int(state.requestCounts[key] ?? 0)),
            ])
        }
        let gateways: [JSONValue] = state.gateways.keys.sorted().map { key in
            let gateway = state.gateways[key]!
            return .object([
                ("name", .string(gateway.name)),
                ("endpoint", .string("\(base)\(Self.gatewayPathPrefix)\(gateway.name)/\(gateway.apiSuffix)/")),
                ("backend", .string(gateway.backend)),
                ("subscriptionKeys", .string("<redacted>")),
                ("subscriptionRequired", .bool(gateway.subscriptionRequired)),
                ("keyHeader", .string(gateway.keyHeader)),
                ("validateJWT", .bool(gateway.validateJWT)),
                ("jwtRequired", .bool(gateway.jwtRequired)),
                ("jwtAudience", .string(gateway.jwtAudience)),
                ("jwtFailureMessage", gateway.jwtFailureMessage.map(JSONValue.string) ?? .null),
                ("rateLimitRetrySeconds", gateway.rateLimitRetrySeconds.map(JSONValue.int) ?? .null),
                ("quotaRenewalSeconds", gateway.quotaRenewalSeconds.map(JSONValue.int) ?? .null),
                ("tokenLimitRetrySeconds", gateway.tokenLimitRetrySeconds.map(JSONValue.int) ?? .null),
                ("ipFiltered", .bool(gateway.ipFiltered)),
                ("backendAuth", .string(gateway.backendAuth.rawValue)),
                ("identityObjectID", .string(gateway.identityObjectID)),
                ("identityFailing", .bool(gateway.identityFailing)),
            ])
        }
        let scenario = state.managedIdentityScenario
        let managedIdentity: JSONValue = .object([
            (
                "identities",
                .array(
                    state.managedIdentities.map { identity in
                        .object([
                            ("clientID", .string(identity.clientID)),
                            ("objectID", .string(identity.objectID)),
                            ("tenantID", .string(identity.tenantID)),
                            ("resourceID", .string(identity.resourceID)),
                            ("userAssigned", .bool(identity.userAssigned)),
                            ("tokenLifetimeSeconds", .int(identity.tokenLifetimeSeconds)),
                        ])
                    })
            ),
            ("goneUntil", scenario.goneUntil.map(JSONValue.double) ?? .null),
            ("failureStatus", scenario.failureStatus.map(JSONValue.int) ?? .null),
            ("failureCount", .int(scenario.failureCount)),
            ("hang", .bool(scenario.hang)),
            ("arcKeyDirectory", .string(arcKeyDirectory)),
            ("requests", .int(state.managedIdentityRequestCount)),
        ])
        return .object([
            ("now", .double(current)),
            ("tenants", .array(state.tenants.sorted().map(JSONValue.string))),
            ("applications", .array(applications)),
            ("resources", .array(resources)),
            ("gateways", .array(gateways)),
            ("managedIdentity", managedIdentity),
        ])
    }

    /// Sets the fields named in `members` on `resource`; nothing changes when one is refused.
    static func apply(_ members: [(String, JSONValue)], to resource: inout SimulatedResource) throws(SimulatorAdminError) {
        var changed = resource
        for (name, value) in members {
            switch name {
            case "tenantID": changed.tenantID = try string(value, name)
            case "apiKey": changed.apiKey = try string(value, name)
            case "deployments": changed.deployments = try strings(value, name)
            case "expectedAudience": changed.expectedAudience = try string(value, name)
            case "keyInvalid": changed.keyInvalid = try bool(value, name)
            case "localAuthDisabled": changed.localAuthDisabled = try bool(value, name)
            case "regionalEndpoint": changed.regionalEndpoint = try bool(value, name)
            case "networkDenied": changed.networkDenied = try bool(value, name)
            case "deploymentMissing": changed.deploymentMissing = try bool(value, name)
            case "throttleRetryAfterSeconds": changed.throttleRetryAfterSeconds = try optionalInt(value, name)
            case "throttleHeaders":
                guard let headers = ThrottleHeaders(rawValue: try string(value, name)) else {
                    throw .wrongType(field: name, expected: ThrottleHeaders.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
                }
                changed.throttleHeaders = headers
            case "serverErrorStatus": changed.serverErrorStatus = try optionalInt(value, name)
            case "delaySeconds": changed.delaySeconds = try double(value, name)
            case "hang": changed.hang = try bool(value, name)
            case "closeConnection": changed.closeConnection = try bool(value, name)
            case "clockSkewSeconds": changed.clockSkewSeconds = try double(value, name)
            case "echoCredentials": changed.echoCredentials = try bool(value, name)
            case "kind": changed.kind = try string(value, name)
            case "location": changed.location = try string(value, name)
            case "subscriptionID": changed.subscriptionID = try string(value, name)
            case "resourceGroup": changed.resourceGroup = try string(value, name)
            case "publicNetworkAccessDisabled": changed.publicNetworkAccessDisabled = try bool(value, name)
            case "tags":
                guard let members = value.objectMembers else { throw .wrongType(field: name, expected: "an object of strings") }
                var tags: [String: String] = [:]
                for (key, tag) in members { tags[key] = try string(tag, "tags.\(key)") }
                changed.tags = tags
            default: throw .unknownField(name)
            }
        }
        resource = changed
    }

    /// Sets the fields named in `members` on a gateway's policies; nothing changes when one is refused.
    static func apply(_ members: [(String, JSONValue)], to gateway: inout SimulatedGateway) throws(SimulatorAdminError) {
        var changed = gateway
        for (name, value) in members {
            switch name {
            case "apiSuffix": changed.apiSuffix = try string(value, name)
            case "subscriptionKeys": changed.subscriptionKeys = try strings(value, name)
            case "subscriptionRequired": changed.subscriptionRequired = try bool(value, name)
            case "keyHeader": changed.keyHeader = try string(value, name)
            case "validateJWT": changed.validateJWT = try bool(value, name)
            case "jwtRequired": changed.jwtRequired = try bool(value, name)
            case "jwtAudience": changed.jwtAudience = try string(value, name)
            case "jwtFailureMessage":
                if case .null = value { changed.jwtFailureMessage = nil } else { changed.jwtFailureMessage = try string(value, name) }
            case "rateLimitRetrySeconds": changed.rateLimitRetrySeconds = try optionalInt(value, name)
            case "quotaRenewalSeconds": changed.quotaRenewalSeconds = try optionalInt(value, name)
            case "tokenLimitRetrySeconds": changed.tokenLimitRetrySeconds = try optionalInt(value, name)
            case "ipFiltered": changed.ipFiltered = try bool(value, name)
            case "backendAuth":
                guard let auth = SimulatedGateway.BackendAuth(rawValue: try string(value, name)) else {
                    throw .wrongType(field: name, expected: "\"managedIdentity\" or \"passthrough\"")
                }
                changed.backendAuth = auth
            case "identityFailing": changed.identityFailing = try bool(value, name)
            default: throw .unknownField(name)
            }
        }
        gateway = changed
    }

    /// Sets the fields named in `members` on a managed identity being added.
    static func apply(_ members: [(String, JSONValue)], to identity: inout SimulatedManagedIdentity) throws(SimulatorAdminError) {
        for (name, value) in members {
            switch name {
            case "tenantID": identity.tenantID = try string(value, name)
            case "clientID": identity.clientID = try string(value, name)
            case "objectID": identity.objectID = try string(value, name)
            case "resourceID": identity.resourceID = try string(value, name)
            case "userAssigned": identity.userAssigned = try bool(value, name)
            case "tokenLifetimeSeconds": identity.tokenLifetimeSeconds = try int(value, name)
            default: throw .unknownField(name)
            }
        }
    }

    /// Sets the fields named in `members` on the managed-identity scenario; nothing changes when
    /// one is refused. `goneUntilSecondsFromNow` sets `goneUntil` relative to `now` (null clears it).
    static func apply(_ members: [(String, JSONValue)], to scenario: inout ManagedIdentityScenario, now: Double) throws(SimulatorAdminError) {
        var changed = scenario
        for (name, value) in members {
            switch name {
            case "goneUntilSecondsFromNow":
                if case .null = value { changed.goneUntil = nil } else { changed.goneUntil = now + (try double(value, name)) }
            case "failureStatus": changed.failureStatus = try optionalInt(value, name)
            case "failureCount": changed.failureCount = try int(value, name)
            case "hang": changed.hang = try bool(value, name)
            default: throw .unknownField(name)
            }
        }
        scenario = changed
    }

    /// Sets the fields named in `members` on `app`; nothing changes when one is refused.
    static func apply(_ members: [(String, JSONValue)], to app: inout SimulatedApplication) throws(SimulatorAdminError) {
        var changed = app
        for (name, value) in members {
            switch name {
            case "tokenVersion": changed.tokenVersion = try string(value, name)
            case "tokenError": changed.tokenError = try optionalInt(value, name)
            case "tokenLifetimeSeconds": changed.tokenLifetimeSeconds = try int(value, name)
            case "refreshInSeconds": changed.refreshInSeconds = try optionalInt(value, name)
            case "tokenEndpointDelaySeconds": changed.tokenEndpointDelaySeconds = try double(value, name)
            case "tokenEndpointHang": changed.tokenEndpointHang = try bool(value, name)
            case "tokenEndpointStatus": changed.tokenEndpointStatus = try optionalInt(value, name)
            case "echoForm": changed.echoForm = try bool(value, name)
            case "clientSecret": changed.clientSecret = try string(value, name)
            case "displayName": changed.displayName = try string(value, name)
            case "secretExpiresAt": changed.secretExpiresAt = try double(value, name)
            case "servicePrincipalEnabled": changed.servicePrincipalEnabled = try bool(value, name)
            case "graphRoles": changed.graphRoles = try strings(value, name)
            case "otherSecrets":
                // [{"hint": "xyz", "expiresAt": 1900000000}, ...]
                guard case .array(let items) = value else { throw .wrongType(field: name, expected: "an array of {hint, expiresAt}") }
                changed.otherSecrets = try items.map { (item: JSONValue) throws(SimulatorAdminError) -> SimulatedPasswordCredential in
                    guard let members = item.objectMembers,
                        let hint = members.first(where: { $0.0 == "hint" }).map({ $0.1.stringValue }) ?? nil,
                        let expiresAt = members.first(where: { $0.0 == "expiresAt" })?.1
                    else { throw .wrongType(field: name, expected: "an array of {hint, expiresAt}") }
                    return SimulatedPasswordCredential(hint: hint, expiresAt: try double(expiresAt, name))
                }
            default: throw .unknownField(name)
            }
        }
        app = changed
    }

    private func adminResponse(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: body, headers: [("Date", HTTPDate.imfFixdate(now()))])
    }

    private static func objectMembers(_ body: [UInt8]) throws(SimulatorAdminError) -> [(String, JSONValue)] {
        guard let members = JSONValue.parse(body)?.objectMembers else { throw .notAnObject }
        return members
    }

    private static func bool(_ value: JSONValue, _ field: String) throws(SimulatorAdminError) -> Bool {
        guard case .bool(let flag) = value else { throw .wrongType(field: field, expected: "true or false") }
        return flag
    }

    private static func int(_ value: JSONValue, _ field: String) throws(SimulatorAdminError) -> Int {
        switch value {
        case .int(let number): return number
        case .double(let number) where number == number.rounded() && abs(number) < 1e15: return Int(number)
        default: throw .wrongType(field: field, expected: "an integer")
        }
    }

    private static func optionalInt(_ value: JSONValue, _ field: String) throws(SimulatorAdminError) -> Int? {
        if case .null = value { return nil }
        do { return try int(value, field) } catch { throw .wrongType(field: field, expected: "an integer or null") }
    }

    private static func double(_ value: JSONValue, _ field: String) throws(SimulatorAdminError) -> Double {
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: throw .wrongType(field: field, expected: "a number")
        }
    }

    private static func string(_ value: JSONValue, _ field: String) throws(SimulatorAdminError) -> String {
        guard case .string(let text) = value else { throw .wrongType(field: field, expected: "a string") }
        return text
    }

    private static func strings(_ value: JSONValue, _ field: String) throws(SimulatorAdminError) -> [String] {
        guard case .array(let items) = value else { throw .wrongType(field: field, expected: "an array of strings") }
        var texts: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw .wrongType(field: field, expected: "an array of strings") }
            texts.append(text)
        }
        return texts
    }
}
