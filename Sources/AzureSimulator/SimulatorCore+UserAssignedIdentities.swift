// Resource Manager's user-assigned managed identities (Microsoft.ManagedIdentity 2024-11-30): the
// identities of a subscription or resource group, one identity, and its federated identity
// credentials, with the shapes of the REST specification's examples.
import HTTPServer
import JSON

extension SimulatorCore {
    /// Adds a user-assigned identity, replacing one of that name in its resource group. Its
    /// federated credentials let a workload exchange its token for the identity's, as an
    /// application's do (an identity is no application: Graph does not list it).
    func add(_ identity: SimulatedUserAssignedIdentity) {
        state.withLock { state in
            state.userAssignedIdentities.removeAll { $0.armID.lowercased() == identity.armID.lowercased() }
            state.userAssignedIdentities.append(identity)
            state.federatedCredentials[identity.clientID.lowercased()] = identity.federatedCredentials.map {
                FederatedCredential(issuer: $0.issuer, subject: $0.subject, name: $0.name, audiences: $0.audiences)
            }
        }
    }

    static let managedIdentityAPIVersions: Set<String> = ["2024-11-30", "2023-01-31", "2018-11-30"]

    /// Answers `/subscriptions/SUB[/resourceGroups/RG]/providers/Microsoft.ManagedIdentity/
    /// userAssignedIdentities[/NAME[/federatedIdentityCredentials[/FIC]]]`; nil for any other path.
    func handleUserAssignedIdentities(_ request: HTTPRequest, path: String, parts: [String], objectID: String, client: String, apiVersion: String)
        -> HTTPResponse?
    {
        let lower = parts.map { $0.lowercased() }
        let providerAt = lower.firstIndex(of: "microsoft.managedidentity")
        guard let providerAt, providerAt + 1 < lower.count, lower[providerAt + 1] == "userassignedidentities", providerAt >= 3,
            lower[providerAt - 1] == "providers"
        else { return nil }
        guard request.method == "GET" else {
            return armError(405, "MethodNotAllowed", "The simulator serves user-assigned identities read-only.")
        }
        guard Self.managedIdentityAPIVersions.contains(apiVersion) else {
            return armError(
                400, "InvalidApiVersionParameter",
                "The api-version '\(apiVersion)' is invalid. The supported versions are '\(Self.managedIdentityAPIVersions.sorted().joined(separator: ","))'.")
        }
        let subscription = lower[1]
        let group: String? = providerAt == 5 && lower[2] == "resourcegroups" ? lower[3] : nil
        guard providerAt == 3 || group != nil else { return nil }
        let rest = Array(parts.dropFirst(providerAt + 2))
        let identities = state.withLock { state in
            state.userAssignedIdentities.filter {
                $0.subscriptionID.lowercased() == subscription && (group == nil || $0.resourceGroup.lowercased() == group)
            }.sorted { $0.name.lowercased() < $1.name.lowercased() }
        }
        let read = "Microsoft.ManagedIdentity/userAssignedIdentities/read"
        if rest.isEmpty {
            let readable = identities.filter { mayPerform(objectID, read, at: $0.armID) }
            let start = request.queryValue("$skiptoken").flatMap(Int.init) ?? 0
            let page = Array(readable.dropFirst(start).prefix(Self.accountsPageSize))
            var members: [(String, JSONValue)] = [("value", .array(page.map(Self.identityJSON)))]
            if start + page.count < readable.count {
                members.append(("nextLink", .string(authority.withLock { $0 } + path + "?api-version=\(apiVersion)&$skiptoken=\(start + page.count)")))
            }
            return armOK(.object(members))
        }
        guard let group, let identity = identities.first(where: { $0.name.lowercased() == rest[0].lowercased() }) else {
            return armError(
                404, "ResourceNotFound",
                "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/\(rest[0])' under resource group '\(group ?? "")' was not found. "
                    + "For more details please go to https://aka.ms/ARMResourceNotFoundFix")
        }
        guard mayPerform(objectID, read, at: identity.armID) else {
            return authorizationFailed(client: client, objectID: objectID, action: read, scope: identity.armID)
        }
        switch rest.count {
        case 1:
            return armOK(Self.identityJSON(identity))
        case 2 where rest[1].lowercased() == "federatedidentitycredentials":
            let credentials = identity.federatedCredentials
            let start = request.queryValue("$skiptoken").flatMap(Int.init) ?? 0
            let size = min(request.queryValue("$top").flatMap(Int.init) ?? Self.accountsPageSize, Self.accountsPageSize)
            let page = Array(credentials.dropFirst(start).prefix(max(1, size)))
            var members: [(String, JSONValue)] = [("value", .array(page.map { Self.federatedCredentialJSON($0, identity: identity) }))]
            if start + page.count < credentials.count {
                members.append(("nextLink", .string(authority.withLock { $0 } + path + "?api-version=\(apiVersion)&$skiptoken=\(start + page.count)")))
            }
            return armOK(.object(members))
        case 3 where rest[1].lowercased() == "federatedidentitycredentials":
            guard let credential = identity.federatedCredentials.first(where: { $0.name.lowercased() == rest[2].lowercased() }) else {
                return armError(404, "NotFound", "Federated identity credential '\(rest[2])' not found.")
            }
            return armOK(Self.federatedCredentialJSON(credential, identity: identity))
        default:
            return armError(404, "InvalidResourceType", "The resource type could not be found for api version '\(apiVersion)'.")
        }
    }

    static func identityJSON(_ identity: SimulatedUserAssignedIdentity) -> JSONValue {
        .object([
            ("id", .string(identity.armID)),
            ("location", .string(identity.location)),
            ("name", .string(identity.name)),
            (
                "properties",
                .object([
                    ("clientId", .string(identity.clientID)), ("isolationScope", .string("None")), ("principalId", .string(identity.principalID)),
                    ("tenantId", .string(identity.tenantID)),
                ])
            ),
            ("tags", .object([])),
            ("type", .string("Microsoft.ManagedIdentity/userAssignedIdentities")),
        ])
    }

    static func federatedCredentialJSON(
        _ credential: (name: String, issuer: String, subject: String, audiences: [String]), identity: SimulatedUserAssignedIdentity
    ) -> JSONValue {
        .object([
            ("id", .string(identity.armID + "/federatedIdentityCredentials/" + credential.name)),
            ("name", .string(credential.name)),
            (
                "properties",
                .object([
                    ("audiences", .array(credential.audiences.map(JSONValue.string))), ("issuer", .string(credential.issuer)),
                    ("subject", .string(credential.subject)),
                ])
            ),
            ("type", .string("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")),
        ])
    }
}
