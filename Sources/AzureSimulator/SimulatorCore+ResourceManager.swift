// The simulated Azure Resource Manager: accounts, deployments, keys, role assignments, role
// definitions and the caller's permissions, with Resource Manager's shapes and errors
// (Microsoft.CognitiveServices 2024-10-01, Microsoft.Authorization 2022-04-01).
import HTTPServer
import JSON

extension HTTPDate {
    /// Resource Manager's timestamp, e.g. `2022-01-15T21:08:45.4904312Z` (7 fraction digits).
    static func resourceManagerTimestamp(_ epochSeconds: Double) -> String {
        let time = CivilTime(epochSeconds)
        let fraction = Int(((epochSeconds - epochSeconds.rounded(.down)) * 10_000_000).rounded(.down))
        let digits = String(fraction)
        return "\(time.year)-\(time.pad(time.month))-\(time.pad(time.day))T\(time.pad(time.hour)):\(time.pad(time.minute)):\(time.pad(time.second))."
            + String(repeating: "0", count: max(0, 7 - digits.count)) + digits + "Z"
    }
}

extension SimulatorCore {
    /// The audiences Resource Manager (public cloud) accepts, from its own 401 message.
    /// Accounts per page of a listing.
    static let accountsPageSize = 5

    static let resourceManagerAudiences = [
        "https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com",
    ]

    func handleResourceManager(_ request: HTTPRequest) -> HTTPResponse {
        let (down, _) = state.withLock { state -> (Int?, Void) in
            state.resourceManagerRequestCount += 1
            return (state.resourceManagerStatus, ())
        }
        if down == 429 {
            var response = armError(429, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Read.")
            response.headers.append(("Retry-After", "17"))
            return response
        }
        if let down {
            return armError(down, "ServiceUnavailable", "The server is currently unable to handle the request. Please retry the request later.")
        }
        guard let apiVersion = request.queryValue("api-version"), !apiVersion.isEmpty else {
            return armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
        }
        // The caller, from its bearer token.
        guard let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("bearer ") else {
            return armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        }
        let token = String(authorization.dropFirst("bearer ".count).filter { $0 != " " })
        guard let claims = SimulatedToken.verify(token), let objectID = claims.oid?.lowercased() else {
            return armError(401, "InvalidAuthenticationToken", "The access token is invalid.")
        }
        guard let audience = claims.aud, Self.resourceManagerAudiences.contains(audience) else {
            return armError(
                401, "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource '\(claims.aud ?? "")'. It should exactly match with one of the allowed "
                    + "audiences "
                    + Self.resourceManagerAudiences.map { "'\($0)'" }.joined(separator: ",") + ".")
        }
        let current = now()
        if let expiry = claims.exp, expiry <= current {
            return armError(
                401, "ExpiredAuthenticationToken",
                "The access token expiry UTC time '\(HTTPDate.imfFixdate(expiry))' is earlier than current UTC time '\(HTTPDate.imfFixdate(current))'.")
        }
        let client = SimulatedToken.unverifiedPayload(token).flatMap { $0["appid"]?.stringValue ?? $0["azp"]?.stringValue } ?? objectID

        // Resource Manager reads an empty segment as none: the SDKs send `{namespace}//accounts`
        // when a resource has no parent path.
        var path = request.path
        while path.contains("//") { path = path.replacing("//", with: "/") }
        let lower = path.lowercased()
        let authorizationMarker = "/providers/microsoft.authorization/"
        if let range = lower.firstRange(of: authorizationMarker) {
            let scope = String(path.prefix(lower.distance(from: lower.startIndex, to: range.lowerBound)))
            let rest = lower[range.upperBound...]
            let deny: (String, String) -> HTTPResponse? = { action, over in
                self.mayPerform(objectID, action, at: scope) ? nil : self.authorizationFailed(client: client, objectID: objectID, action: action, scope: over)
            }
            switch request.method {
            case "GET" where rest == "roleassignments":
                if let refusal = deny("Microsoft.Authorization/roleAssignments/read", scope + "/providers/Microsoft.Authorization") { return refusal }
                return armOK(roleAssignments(at: scope, filter: request.queryValue("$filter")))
            case "GET" where rest.hasPrefix("roledefinitions/"):
                if let refusal = deny("Microsoft.Authorization/roleDefinitions/read", scope) { return refusal }
                let id = String(rest.dropFirst("roledefinitions/".count))
                guard let role = SimulatedRole.named(id), role.id == id else {
                    return armError(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '\(id)' does not exist.")
                }
                return armOK(roleDefinitionJSON(role, scope: scope))
            case "GET" where rest == "permissions":
                // The caller's own permissions need no permission.
                return armOK(.object([("value", .array(permissions(of: objectID, at: scope).map(Self.permissionJSON)))]))
            default:
                return armError(
                    404, "InvalidResourceType",
                    "The resource type could not be found in the namespace 'Microsoft.Authorization' for api version '\(apiVersion)'.")
            }
        }

        // /subscriptions/SUB[/resourceGroups/RG]/providers/Microsoft.CognitiveServices/accounts: the accounts the caller may read.
        let parts = path.split(separator: "/").map(String.init)
        if let identities = handleUserAssignedIdentities(request, path: path, parts: parts, objectID: objectID, client: client, apiVersion: apiVersion) {
            return identities
        }
        let listing =
            (parts.count == 5 && parts[2].lowercased() == "providers" && parts[3].lowercased() == "microsoft.cognitiveservices"
                && parts[4].lowercased() == "accounts")
            || (parts.count == 7 && parts[2].lowercased() == "resourcegroups" && parts[4].lowercased() == "providers"
                && parts[5].lowercased() == "microsoft.cognitiveservices" && parts[6].lowercased() == "accounts")
        if listing, request.method == "GET" {
            let subscription = parts[1].lowercased()
            let group = parts.count == 7 ? parts[3].lowercased() : nil
            let resources = state.withLock { state in
                state.resources.values.filter { $0.subscriptionID.lowercased() == subscription && (group == nil || $0.resourceGroup.lowercased() == group) }
                    .sorted { $0.name < $1.name }
            }
            if let group, resources.isEmpty, !state.withLock({ $0.resources.values.contains { $0.resourceGroup.lowercased() == group } }) {
                return armError(404, "ResourceGroupNotFound", "Resource group '\(parts[3])' could not be found.")
            }
            let readable = resources.filter { mayPerform(objectID, "Microsoft.CognitiveServices/accounts/read", at: $0.armID) }
            // Pages of five, with a nextLink as Resource Manager gives it: the whole URL, its
            // api-version and a $skipToken, so that clients must follow it.
            let start = request.queryValue("$skipToken").flatMap { Int($0) } ?? 0
            let page = Array(readable.dropFirst(start).prefix(Self.accountsPageSize))
            var members: [(String, JSONValue)] = [("value", .array(page.map(accountJSON)))]
            if start + page.count < readable.count {
                members.append(("nextLink", .string(authority.withLock { $0 } + path + "?api-version=\(apiVersion)&$skipToken=\(start + page.count)")))
            }
            return armOK(.object(members))
        }

        // /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.CognitiveServices/accounts/NAME[/deployments|/listKeys]
        guard parts.count >= 8, parts[2].lowercased() == "resourcegroups", parts[4].lowercased() == "providers",
            parts[5].lowercased() == "microsoft.cognitiveservices", parts[6].lowercased() == "accounts"
        else {
            return armError(404, "InvalidResourceType", "The resource type could not be found for api version '\(apiVersion)'.")
        }
        let (subscription, group, name) = (parts[1], parts[3], parts[7])
        let accountScope = "/subscriptions/\(subscription)/resourceGroups/\(group)/providers/Microsoft.CognitiveServices/accounts/\(name)"
        let operation = parts.count > 8 ? parts[8].lowercased() : ""
        let action: String
        switch (request.method, operation, parts.count) {
        case ("GET", "", 8): action = "Microsoft.CognitiveServices/accounts/read"
        case ("GET", "deployments", 9): action = "Microsoft.CognitiveServices/accounts/deployments/read"
        case ("POST", "listkeys", 9): action = "Microsoft.CognitiveServices/accounts/listKeys/action"
        default:
            return armError(
                404, "InvalidResourceType",
                "The resource type could not be found in the namespace 'Microsoft.CognitiveServices' for api version '\(apiVersion)'.")
        }
        // Resource Manager authorizes before it looks: without the action, a missing account is a 403 too.
        guard mayPerform(objectID, action, at: accountScope) else {
            return authorizationFailed(client: client, objectID: objectID, action: action, scope: accountScope)
        }
        let (resource, groupExists) = state.withLock { state -> (SimulatedResource?, Bool) in
            let found = state.resources[name.lowercased()].flatMap {
                $0.subscriptionID.lowercased() == subscription.lowercased() && $0.resourceGroup.lowercased() == group.lowercased() ? $0 : nil
            }
            let exists = state.resources.values.contains {
                $0.subscriptionID.lowercased() == subscription.lowercased() && $0.resourceGroup.lowercased() == group.lowercased()
            }
            return (found, exists)
        }
        guard groupExists else { return armError(404, "ResourceGroupNotFound", "Resource group '\(group)' could not be found.") }
        guard let resource else {
            return armError(
                404, "ResourceNotFound",
                "The Resource 'Microsoft.CognitiveServices/accounts/\(name)' under resource group '\(group)' was not found. For more details please go to "
                    + "https://aka.ms/ARMResourceNotFoundFix"
            )
        }
        switch operation {
        case "deployments": return armOK(deploymentsJSON(resource))
        case "listkeys": return armOK(.object([("key1", .string(resource.apiKey)), ("key2", .string(String(resource.apiKey.reversed())))]))
        default: return armOK(accountJSON(resource))
        }
    }

    /// Whether the principal holds a role, at the scope or above it, that allows the action.
    func mayPerform(_ objectID: String, _ action: String, at scope: String) -> Bool {
        state.withLock { state in
            state.roleAssignments.contains { assignment in
                assignment.principalID == objectID && Self.covers(assignment.scope, scope)
                    && SimulatedRole.named(assignment.roleID)?.allows(action: action) == true
            }
        }
    }

    /// Whether an assignment at `outer` applies at `inner` (the same scope or one below it).
    static func covers(_ outer: String, _ inner: String) -> Bool {
        let (a, b) = (outer.lowercased(), inner.lowercased())
        return b == a || b.hasPrefix(a.hasSuffix("/") ? a : a + "/")
    }

    func permissions(of objectID: String, at scope: String) -> [SimulatedRole] {
        state.withLock { state in
            state.roleAssignments.filter { $0.principalID == objectID && Self.covers($0.scope, scope) }.compactMap { SimulatedRole.named($0.roleID) }
        }
    }

    /// Assignments at, above or below the scope; `assignedTo('ID')` or `principalId eq 'ID'` keeps one principal's.
    func roleAssignments(at scope: String, filter: String?) -> JSONValue {
        var principal: String?
        if let filter {
            let lower = filter.lowercased()
            if let open = lower.firstIndex(of: "'"), let close = lower[lower.index(after: open)...].firstIndex(of: "'") {
                principal = String(lower[lower.index(after: open)..<close])
            }
        }
        let assignments = state.withLock { state in
            state.roleAssignments.filter { ($0.principalID == principal || principal == nil) && (Self.covers($0.scope, scope) || Self.covers(scope, $0.scope)) }
        }
        let subscription = scope.split(separator: "/").dropFirst().first.map(String.init) ?? ""
        return .object([
            (
                "value",
                .array(
                    assignments.map { assignment in
                        .object([
                            (
                                "properties",
                                .object([
                                    (
                                        "roleDefinitionId",
                                        .string("/subscriptions/\(subscription)/providers/Microsoft.Authorization/roleDefinitions/\(assignment.roleID)")
                                    ),
                                    ("principalId", .string(assignment.principalID)),
                                    ("principalType", .string("ServicePrincipal")),
                                    ("scope", .string(assignment.scope)),
                                    ("condition", .null),
                                    ("conditionVersion", .null),
                                    ("createdOn", .string(HTTPDate.resourceManagerTimestamp(assignment.createdOn))),
                                    ("updatedOn", .string(HTTPDate.resourceManagerTimestamp(assignment.createdOn))),
                                    ("createdBy", .string("00000000-0000-4000-8000-00000000ad01")),
                                    ("updatedBy", .string("00000000-0000-4000-8000-00000000ad01")),
                                    ("delegatedManagedIdentityResourceId", .null),
                                    ("description", .null),
                                ])
                            ),
                            ("id", .string("\(assignment.scope)/providers/Microsoft.Authorization/roleAssignments/\(assignment.id)")),
                            ("type", .string("Microsoft.Authorization/roleAssignments")),
                            ("name", .string(assignment.id)),
                        ])
                    })
            )
        ])
    }

    func roleDefinitionJSON(_ role: SimulatedRole, scope: String) -> JSONValue {
        .object([
            (
                "properties",
                .object([
                    ("roleName", .string(role.name)),
                    ("type", .string("BuiltInRole")),
                    ("description", .string(role.name)),
                    ("assignableScopes", .array([.string("/")])),
                    ("permissions", .array([Self.permissionJSON(role)])),
                    ("createdOn", .string("2015-02-02T21:55:09.8806423Z")),
                    ("updatedOn", .string("2024-12-12T00:00:00.0000000Z")),
                    ("createdBy", .null),
                    ("updatedBy", .null),
                ])
            ),
            ("id", .string("\(scope)/providers/Microsoft.Authorization/roleDefinitions/\(role.id)")),
            ("type", .string("Microsoft.Authorization/roleDefinitions")),
            ("name", .string(role.id)),
        ])
    }

    static func permissionJSON(_ role: SimulatedRole) -> JSONValue {
        .object([
            ("actions", .array(role.actions.map(JSONValue.string))),
            ("notActions", .array(role.notActions.map(JSONValue.string))),
            ("dataActions", .array(role.dataActions.map(JSONValue.string))),
            ("notDataActions", .array(role.notDataActions.map(JSONValue.string))),
        ])
    }

    /// The account as `az cognitiveservices account show` gets it; settings left unset are null.
    func accountJSON(_ resource: SimulatedResource) -> JSONValue {
        // The resource's own data-plane endpoint on this simulator (its custom subdomain under
        // .openai.localhost, which resolves to loopback), as Resource Manager gives the real one;
        // a regional endpoint's is shared.
        let base = authority.withLock { $0 }
        let scheme = base.hasPrefix("https") ? "https" : "http"
        let port = base.split(separator: ":").last.map(String.init) ?? ""
        let endpoint =
            resource.regionalEndpoint
            ? "https://\(resource.location).api.cognitive.microsoft.com/"
            : "\(scheme)://\(resource.name.lowercased()).openai.localhost:\(port)/"
        return .object([
            ("id", .string(resource.armID)),
            ("name", .string(resource.name)),
            ("type", .string("Microsoft.CognitiveServices/accounts")),
            ("etag", .string("\"4207bbe6-0000-0100-0000-674b228f0000\"")),
            ("location", .string(resource.location)),
            ("sku", .object([("name", .string("S0"))])),
            ("kind", .string(resource.kind)),
            ("tags", .object(resource.tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            (
                "properties",
                .object([
                    ("endpoint", .string(endpoint)),
                    ("provisioningState", .string("Succeeded")),
                    ("customSubDomainName", resource.regionalEndpoint ? .null : .string(resource.name)),
                    ("privateEndpointConnections", .array([])),
                    ("publicNetworkAccess", .string(resource.publicNetworkAccessDisabled ? "Disabled" : "Enabled")),
                    ("disableLocalAuth", resource.localAuthDisabled ? .bool(true) : .null),
                    (
                        "networkAcls",
                        resource.networkDenied
                            ? .object([("defaultAction", .string("Deny")), ("virtualNetworkRules", .array([])), ("ipRules", .array([]))]) : .null
                    ),
                    ("endpoints", .object([("OpenAI Language Model Instance API", .string(endpoint)), ("Token Service API", .string(endpoint))])),
                ])
            ),
        ])
    }

    func deploymentsJSON(_ resource: SimulatedResource) -> JSONValue {
        let names = resource.deploymentMissing ? [] : resource.deployments
        return .object([
            (
                "value",
                .array(
                    names.map { name in
                        let model = resource.model(of: name)
                        return .object([
                            ("id", .string("\(resource.armID)/deployments/\(name)")),
                            ("type", .string("Microsoft.CognitiveServices/accounts/deployments")),
                            ("name", .string(name)),
                            ("sku", .object([("name", .string("Standard")), ("capacity", .int(10))])),
                            (
                                "properties",
                                .object([
                                    ("model", .object([("format", .string("OpenAI")), ("name", .string(model.model)), ("version", .string(model.version))])),
                                    ("provisioningState", .string("Succeeded")),
                                ])
                            ),
                        ])
                    })
            )
        ])
    }

    func authorizationFailed(client: String, objectID: String, action: String, scope: String) -> HTTPResponse {
        armError(
            403, "AuthorizationFailed",
            "The client '\(client)' with object id '\(objectID)' does not have authorization to perform action '\(action)' over scope '\(scope)' or the scope "
                + "is invalid. If access was recently granted, please refresh your credentials."
        )
    }

    func armOK(_ body: JSONValue) -> HTTPResponse {
        armResponse(200, body.rendered)
    }

    func armError(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        armResponse(status, JSONValue.object([("error", .object([("code", .string(code)), ("message", .string(message))]))]).rendered)
    }

    private func armResponse(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, contentType: "application/json; charset=utf-8", body: body,
            headers: [
                ("x-ms-request-id", Self.uuid()),
                ("x-ms-ratelimit-remaining-subscription-reads", "11999"),
                ("Date", HTTPDate.imfFixdate(now())),
            ])
    }
}
