// Reading one resource's facts from Azure Resource Manager: the account, its deployments, the
// principal's role assignments (expanded through their definitions) and, when the reader is that
// principal, its own permissions.
import Auth
import Config
import HTTPClient
import HTTPServer
import JSON
import Probe
import Support

/// Reads facts with one Resource Manager token. Every request's outcome goes to `observe`
/// ("success" or "failure"), for `aoai_canary_control_plane_requests_total`.
public struct ControlPlaneReader: Sendable {
    /// Microsoft.CognitiveServices: the version Microsoft's REST reference defaults to; the
    /// fields read are the same through 2026-03-01.
    public static let accountsAPIVersion = "2024-10-01"
    /// Microsoft.Authorization: role assignments, role definitions and permissions.
    public static let authorizationAPIVersion = "2022-04-01"

    public let client: HTTPClient
    /// Resource Manager, without a trailing slash.
    public let endpoint: String
    public let timeoutSeconds: Double
    /// The service's name in what a failure says: Resource Manager, or Microsoft Graph (whose
    /// errors have the same `{"error": {"code", "message"}}` shape).
    public let service: String
    public let observe: @Sendable (_ result: String) -> Void

    public init(
        client: HTTPClient, endpoint: String, timeoutSeconds: Double, service: String = "Resource Manager",
        observe: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.client = client
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.service = service
        self.observe = observe
    }

    /// The most permission patterns weighed in one role definition (the largest built-in roles
    /// have a few hundred).
    public static let maxPatternsPerRole = 2_000

    /// Role definitions already read, by GUID: built-in roles do not change between passes.
    public typealias RoleCache = [String: (name: String, permissions: [RolePermission])]

    /// Reads everything it can about a resource whose canary runs with `canaryCredential`, as
    /// `settings.credential` (whose token is `armToken`): the canary's principal is that of its
    /// token, or, when the two credentials are the same one, that of the Resource Manager token.
    public func read(
        _ armID: ARMResourceID, armToken: CachedToken, settings: ControlPlaneConfig, canaryCredential: String?, canaryPrincipal: String?,
        now: Double, roleCache: inout RoleCache
    ) async -> ControlPlaneFacts {
        let callerIsPrincipal = canaryCredential == settings.credential
        return await read(
            armID, token: armToken.accessToken.exposedValue, principal: canaryPrincipal ?? (callerIsPrincipal ? armToken.claims?.objectID : nil),
            callerIsPrincipal: callerIsPrincipal, now: now, roleCache: &roleCache)
    }

    /// Reads everything it can. `principal` is the canary token's object id (nil: roles are not
    /// read); `callerIsPrincipal` adds the permissions API, which needs no role to read.
    public func read(
        _ armID: ARMResourceID, token: String, principal: String?, callerIsPrincipal: Bool, now: Double,
        roleCache: inout RoleCache
    ) async -> ControlPlaneFacts {
        var facts = ControlPlaneFacts(armID: armID, readAt: now, principal: principal)
        let resource = armID.description
        func throttled(_ problem: ControlPlaneProblem) -> Bool {
            guard let wait = problem.retryAfter else { return false }
            facts.retryAfter = max(facts.retryAfter ?? 0, wait)
            return true
        }
        switch await get(resource, api: Self.accountsAPIVersion, token: token) {
        case .success(let json): facts.account = Self.account(json)
        case .failure(let problem):
            facts.problems.append("account: \(problem)")
            if throttled(problem) { return facts }
        }
        switch await get(resource + "/deployments", api: Self.accountsAPIVersion, token: token) {
        case .success(let json): facts.deployments = Self.deployments(json)
        case .failure(let problem):
            facts.problems.append("deployments: \(problem)")
            if throttled(problem) { return facts }
        }
        if let principal {
            let filter = formEncode("assignedTo('\(principal)')")
            switch await get(
                resource + "/providers/Microsoft.Authorization/roleAssignments", api: Self.authorizationAPIVersion, token: token, extra: "&$filter=" + filter)
            {
            case .success(let json):
                var grants: [RoleGrant] = []
                for assignment in json["value"]?.arrayValue ?? [] {
                    let properties = assignment["properties"]
                    guard let definition = properties?["roleDefinitionId"]?.stringValue,
                        (properties?["principalId"]?.stringValue?.lowercased() ?? principal.lowercased()) == principal.lowercased()
                    else { continue }
                    let scope = properties?["scope"]?.stringValue ?? ""
                    // Only assignments at the resource or above it apply to it.
                    guard Self.covers(scope, resource) else { continue }
                    let id = definition.split(separator: "/").last.map { String($0).lowercased() } ?? definition
                    if roleCache[id] == nil {
                        // Read at the resource, where the canary's principal is most likely to
                        // hold roleDefinitions/read (Cognitive Services OpenAI User has it there);
                        // a built-in role's GUID is the same at every scope.
                        switch await get(resource + "/providers/Microsoft.Authorization/roleDefinitions/" + id, api: Self.authorizationAPIVersion, token: token)
                        {
                        case .success(let role):
                            let permissions = (role["properties"]?["permissions"]?.arrayValue ?? []).map(Self.permission)
                            let patterns = permissions.reduce(0) {
                                $0 + $1.actions.count + $1.notActions.count + $1.dataActions.count + $1.notDataActions.count
                            }
                            // Matching costs per pattern and per failing round: a definition
                            // larger than any real role is not weighed, and says so.
                            guard patterns <= Self.maxPatternsPerRole else {
                                facts.problems.append(
                                    "role definition \(id): \(patterns) permission patterns, more than the \(Self.maxPatternsPerRole) weighed")
                                facts.unreadRoles.append(role["properties"]?["roleName"]?.stringValue.map { Redaction.clean(String($0.prefix(100))) } ?? id)
                                continue
                            }
                            roleCache[id] = (role["properties"]?["roleName"]?.stringValue ?? id, permissions)
                        case .failure(let problem):
                            facts.problems.append("role definition \(id): \(problem)")
                            facts.unreadRoles.append(id)
                            continue
                        }
                    }
                    guard let role = roleCache[id] else { continue }
                    grants.append(
                        RoleGrant(
                            roleID: id, roleName: role.name, scope: scope,
                            createdOn: properties?["createdOn"]?.stringValue.flatMap(Self.timestamp), permissions: role.permissions))
                }
                facts.roles = grants
            case .failure(let problem):
                facts.problems.append("role assignments: \(problem)")
                if throttled(problem) { return facts }
            }
        }
        if callerIsPrincipal {
            switch await get(resource + "/providers/Microsoft.Authorization/permissions", api: Self.authorizationAPIVersion, token: token) {
            case .success(let json): facts.callerPermissions = (json["value"]?.arrayValue ?? []).map(Self.permission)
            case .failure(let problem): facts.problems.append("permissions: \(problem)")
            }
        }
        return facts
    }

    /// One GET; a failure says what Resource Manager answered, its error code and message.
    /// `path` is a path under the endpoint (starting with `/`), to which `api` is added, or a
    /// whole URL (a `nextLink`, with its own api-version) that must be on the endpoint itself.
    func get(_ path: String, api: String, token: String, extra: String = "", method: String = "GET") async -> Result<JSONValue, ControlPlaneProblem> {
        var bytes = 0
        return await get(path, api: api, token: token, extra: extra, method: method, bytes: &bytes)
    }

    /// The same, adding the size of the body read to `bytes`.
    func get(_ path: String, api: String, token: String, extra: String = "", method: String = "GET", bytes: inout Int) async -> Result<
        JSONValue, ControlPlaneProblem
    > {
        let url: String
        if path.hasPrefix("/"), !path.hasPrefix("//") {
            url = endpoint + path + "?api-version=" + api + extra
        } else if Self.sameOrigin(path, endpoint) {
            url = path
        } else {
            // The bearer token goes only where it was meant to: never to another host.
            observe("failure")
            return .failure(ControlPlaneProblem(text: "a link that is not on \(endpoint) was not followed"))
        }
        if Task.isCancelled { return .failure(ControlPlaneProblem(text: "cancelled")) }
        let request = HTTPClientRequest(
            method: method, url: url,
            headers: [("Authorization", "Bearer " + token), ("Accept", "application/json")],
            body: method == "POST" ? [] : nil, timeoutSeconds: timeoutSeconds, maxBodyBytes: 4 << 20)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request)
            bytes += response.body.count
        } catch {
            // A pass cancelled by a reload or a stop is no failure of Resource Manager's.
            if error != .cancelled { observe("failure") }
            return .failure(ControlPlaneProblem(text: "no answer (\(error))"))
        }
        let json = JSONValue.parse(response.body)
        // Throttled: Resource Manager says how long to wait (Retry-After), and the reads stop.
        if response.status == 429 {
            observe("failure")
            let wait = ResponseClassifier.retryAfter(response.headers) ?? 60
            return .failure(
                ControlPlaneProblem(
                    status: 429, code: json?["error"]?["code"]?.stringValue, text: "HTTP 429: throttled by \(service), retry after \(Int(wait)) s",
                    retryAfter: wait))
        }
        guard response.status == 200, let json else {
            observe("failure")
            let code = json?["error"]?["code"]?.stringValue
            // Text from outside: secrets the agent holds are cut out, and it is bounded.
            let message = json?["error"]?["message"]?.stringValue.map { text -> String in
                let clean = Redaction.clean(text)
                return clean.count > 400 ? String(clean.prefix(400)) + "…" : clean
            }
            return .failure(
                ControlPlaneProblem(
                    status: response.status, code: code,
                    text: "HTTP \(response.status)" + (code.map { " \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")))
        }
        observe("success")
        return .success(json)
    }

    /// Whether `link` is a whole http(s) URL on the same scheme, host and port as `endpoint`,
    /// with nothing that could move it elsewhere: no user part, no spaces or control characters.
    /// Every paged API's next link (Resource Manager's `nextLink`, Graph's `@odata.nextLink`)
    /// is followed only then.
    public static func sameOrigin(_ link: String, _ endpoint: String) -> Bool {
        guard link.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\\") }) else { return false }
        let base = link.prefix { $0 != "?" && $0 != "#" }
        guard let target = EndpointURL(String(base)), let origin = EndpointURL(endpoint) else { return false }
        func port(_ url: EndpointURL) -> Int { url.port ?? (url.scheme == "https" ? 443 : 80) }
        return target.scheme == origin.scheme && target.host == origin.host && port(target) == port(origin)
    }

    /// Where a page's next link leads: a whole URL on the endpoint, or a path starting with `/`
    /// on it; nil for anything else.
    public static func nextPage(_ link: String, endpoint: String) -> String? {
        if link.hasPrefix("/"), !link.hasPrefix("//") {
            let whole = endpoint + link
            return sameOrigin(whole, endpoint) ? whole : nil
        }
        return sameOrigin(link, endpoint) ? link : nil
    }

    /// Whether an assignment at `outer` applies at `inner`.
    static func covers(_ outer: String, _ inner: String) -> Bool {
        let (a, b) = (outer.lowercased(), inner.lowercased())
        return a.isEmpty || a == "/" || b == a || b.hasPrefix(a.hasSuffix("/") ? a : a + "/")
    }

    static func account(_ json: JSONValue) -> AccountFacts {
        let properties = json["properties"]
        var tags: [String: String] = [:]
        for (key, value) in json["tags"]?.objectMembers ?? [] { if let text = value.stringValue { tags[key] = text } }
        return AccountFacts(
            kind: json["kind"]?.stringValue ?? "", location: json["location"]?.stringValue ?? "",
            endpoint: properties?["endpoint"]?.stringValue,
            customSubDomain: properties?["customSubDomainName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            localAuthDisabled: { if case .bool(true)? = properties?["disableLocalAuth"] { return true } else { return false } }(),
            publicNetworkAccess: properties?["publicNetworkAccess"]?.stringValue,
            networkDefaultAction: properties?["networkAcls"]?["defaultAction"]?.stringValue,
            tags: tags)
    }

    static func deployments(_ json: JSONValue) -> [DeploymentFacts] {
        (json["value"]?.arrayValue ?? []).compactMap { item in
            guard let name = item["name"]?.stringValue else { return nil }
            let model = item["properties"]?["model"]
            return DeploymentFacts(
                name: name, model: model?["name"]?.stringValue, version: model?["version"]?.stringValue,
                state: item["properties"]?["provisioningState"]?.stringValue)
        }
    }

    static func permission(_ json: JSONValue) -> RolePermission {
        func strings(_ key: String) -> [String] { (json[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        return RolePermission(
            actions: strings("actions"), notActions: strings("notActions"), dataActions: strings("dataActions"), notDataActions: strings("notDataActions"))
    }

    /// `2022-01-15T21:08:45.4904312Z` as Unix time; nil for anything else.
    static func timestamp(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            var scale = 0.1
            for byte in bytes[20...] where byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                fraction += Double(byte - UInt8(ascii: "0")) * scale
                scale /= 10
            }
        }
        let days = CivilTime.days(year: year, month: month, day: day)
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction
    }
}

/// What went wrong reading one part.
public struct ControlPlaneProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int = 0
    public var code: String?
    public var text: String
    /// Seconds Resource Manager asked to wait (a 429's Retry-After).
    public var retryAfter: Double? = nil
    public var description: String { text }
}
