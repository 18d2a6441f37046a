// The simulated Microsoft Graph v1.0: applications, their service principals and federated
// identity credentials, read by appId or object id, with Graph's shapes, paging and errors
// (docs/azure-answers.md, "Microsoft Graph", gives the source of each).
import FoundationEssentials
import HTTPServer
import JSON

extension SimulatorCore {
    /// The application permissions (app roles) that let a caller read applications.
    static let graphReadRoles: Set<String> = ["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"]

    func handleGraph(_ request: HTTPRequest) -> HTTPResponse {
        let (fault, pageSize) = state.withLock { state -> (Int?, Int) in
            state.graphRequestCount += 1
            return (state.graphStatus, state.graphPageSize)
        }
        if fault == 429 {
            // Graph's throttling answer; Retry-After in whole seconds (the SDKs parse an integer).
            var response = graphError(429, "TooManyRequests", "Too many requests.", request)
            response.headers.append(("Retry-After", "7"))
            return response
        }
        if let fault {
            return graphError(fault, "serviceNotAvailable", "The service is temporarily unavailable. Please try again later.", request)
        }
        guard request.method == "GET" else {
            return graphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", request)
        }
        guard let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("bearer ") else {
            return graphError(401, "InvalidAuthenticationToken", "Access token is empty.", request)
        }
        let token = String(authorization.dropFirst("bearer ".count).filter { $0 != " " })
        guard let claims = SimulatedToken.verify(token) else {
            return graphError(401, "InvalidAuthenticationToken", "Access token validation failure.", request)
        }
        guard let audience = claims.aud, SimulatedToken.graphAudiences.contains(audience) else {
            return graphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", request)
        }
        if let expiry = claims.exp, expiry <= now() {
            return graphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", request)
        }
        let roles = SimulatedToken.unverifiedPayload(token)?["roles"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard !Self.graphReadRoles.isDisjoint(with: roles) else {
            return graphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", request)
        }

        var path = request.path
        while path.contains("//") { path = path.replacing("//", with: "/") }
        let segments = path.split(separator: "/").map(String.init)
        // ["v1.0", "applications(appId='…')" | "applications" + id | "servicePrincipals(appId='…')", ...]
        guard segments.count >= 2 else { return graphError(400, "BadRequest", "Invalid request.", request) }
        var rest = Array(segments.dropFirst())
        let collection: String
        let key: (byAppID: Bool, value: String)
        if let open = rest[0].firstIndex(of: "("), rest[0].hasSuffix(")") {
            collection = String(rest[0][..<open])
            let inside = rest[0][rest[0].index(after: open)..<rest[0].index(before: rest[0].endIndex)]
            guard inside.hasPrefix("appId='"), inside.hasSuffix("'"), inside.count >= "appId=''".count else {
                return graphError(400, "BadRequest", "Invalid object identifier '\(inside)'.", request)
            }
            key = (true, FormEncoding.pathSegment(inside.dropFirst("appId='".count).dropLast()))
            rest = Array(rest.dropFirst())
        } else if rest.count >= 2 {
            collection = rest[0]
            key = (false, rest[1])
            rest = Array(rest.dropFirst(2))
        } else {
            return graphError(400, "BadRequest", "Listing \(rest[0]) is not simulated.", request)
        }
        let apps = state.withLock { $0.applications.values }
        let found: SimulatedApplication?
        switch (collection, key.byAppID) {
        case ("applications", true), ("servicePrincipals", true): found = apps.first { $0.clientID.lowercased() == key.value.lowercased() }
        case ("applications", false): found = apps.first { $0.applicationObjectID == key.value.lowercased() }
        case ("servicePrincipals", false): found = apps.first { $0.objectID.lowercased() == key.value.lowercased() }
        default: return graphError(400, "BadRequest", "Resource not found for the segment '\(collection)'.", request)
        }
        // A managed identity has a service principal and no application.
        if found == nil, collection == "servicePrincipals", rest.isEmpty, let identity = managedIdentityPrincipal(key.value, byAppID: key.byAppID) {
            let base = authority.withLock { $0 } + "/v1.0"
            return graphOK(
                .object([
                    ("@odata.context", .string("\(base)/$metadata#servicePrincipals/$entity")),
                    ("id", .string(identity.objectID)),
                    ("accountEnabled", .bool(true)),
                    ("alternativeNames", .array([.string("isExplicit=True"), .string(identity.armID)])),
                    ("appId", .string(identity.clientID)),
                    ("displayName", .string(identity.name)),
                    ("servicePrincipalType", .string("ManagedIdentity")),
                ]), request)
        }
        guard let app = found else {
            return graphError(
                404, "Request_ResourceNotFound",
                "Resource '\(key.value)' does not exist or one of its queried reference-property objects are not present.", request)
        }
        let base = authority.withLock { $0 } + "/v1.0"
        switch (collection, rest) {
        case ("applications", []):
            return graphOK(applicationJSON(app, base: base), request)
        case ("servicePrincipals", []):
            return graphOK(servicePrincipalJSON(app, base: base), request)
        case ("applications", ["federatedIdentityCredentials"]):
            let all = state.withLock { $0.federatedCredentials[app.clientID.lowercased()] ?? [] }
            let skip = request.queryValue("$skiptoken").flatMap(Int.init) ?? 0
            let size = min(request.queryValue("$top").flatMap(Int.init) ?? pageSize, pageSize)
            let page = all.dropFirst(skip).prefix(max(1, size))
            var members: [(String, JSONValue)] = [
                ("@odata.context", .string("\(base)/$metadata#applications('\(app.applicationObjectID)')/federatedIdentityCredentials")),
                ("value", .array(page.map(Self.federatedCredentialJSON))),
            ]
            if skip + page.count < all.count {
                let next = "\(base)/applications(appId='\(app.clientID)')/federatedIdentityCredentials?$top=\(size)&$skiptoken=\(skip + page.count)"
                members.append(("@odata.nextLink", .string(next)))
            }
            return graphOK(.object(members), request)
        default:
            return graphError(400, "BadRequest", "Resource not found for the segment '\(rest.first ?? "")'.", request)
        }
    }

    /// A managed identity's service principal as Graph knows it, by client id or object id: the
    /// user-assigned identities Resource Manager holds, and the host's own.
    func managedIdentityPrincipal(_ id: String, byAppID: Bool) -> (objectID: String, clientID: String, name: String, armID: String)? {
        let key = id.lowercased()
        return state.withLock { state in
            if let user = state.userAssignedIdentities.first(where: { (byAppID ? $0.clientID : $0.principalID).lowercased() == key }) {
                return (user.principalID, user.clientID, user.name, user.armID)
            }
            return state.managedIdentities.first { (byAppID ? $0.clientID : $0.objectID).lowercased() == key }.map { host in
                (host.objectID, host.clientID, host.resourceID.split(separator: "/").last.map(String.init) ?? host.resourceID, host.resourceID)
            }
        }
    }

    /// An application as `GET /applications(appId='…')` returns it: its secrets by hint (never
    /// their values), its certificates by thumbprint.
    func applicationJSON(_ app: SimulatedApplication, base: String) -> JSONValue {
        let certificates = state.withLock { $0.certificates[app.clientID.lowercased()] ?? [] }
        let created = HTTPDate.graphTimestamp(app.secretExpiresAt - 2 * 365 * 86400)
        var passwords = [SimulatedPasswordCredential(hint: String(app.clientSecret.prefix(3)), keyID: app.secretKeyID, expiresAt: app.secretExpiresAt)]
        passwords += app.otherSecrets
        return .object([
            ("@odata.context", .string("\(base)/$metadata#applications/$entity")),
            ("id", .string(app.applicationObjectID)),
            ("appId", .string(app.clientID)),
            ("displayName", .string(app.displayName)),
            ("createdDateTime", .string(created)),
            ("signInAudience", .string("AzureADMyOrg")),
            (
                "keyCredentials",
                .array(
                    certificates.map { registered in
                        .object([
                            // Graph fills it with the certificate's SHA-1 thumbprint, base64.
                            ("customKeyIdentifier", .string(Data(registered.sha1Thumbprint).base64EncodedString())),
                            ("displayName", .string("CN=aoai-canary")),
                            ("endDateTime", .string(HTTPDate.graphTimestamp(registered.certificate.notAfter ?? 0))),
                            ("key", .null),
                            ("keyId", .string(Self.keyID(registered.sha1Thumbprint))),
                            ("startDateTime", .string(created)),
                            ("type", .string("AsymmetricX509Cert")),
                            ("usage", .string("Verify")),
                        ])
                    })
            ),
            (
                "passwordCredentials",
                .array(
                    passwords.map { password in
                        .object([
                            ("customKeyIdentifier", .null),
                            ("displayName", password.displayName.isEmpty ? .null : .string(password.displayName)),
                            ("endDateTime", .string(HTTPDate.graphTimestamp(password.expiresAt))),
                            ("hint", .string(password.hint)),
                            ("keyId", .string(password.keyID)),
                            ("secretText", .null),
                            ("startDateTime", .string(created)),
                        ])
                    })
            ),
        ])
    }

    func servicePrincipalJSON(_ app: SimulatedApplication, base: String) -> JSONValue {
        .object([
            ("@odata.context", .string("\(base)/$metadata#servicePrincipals/$entity")),
            ("id", .string(app.objectID)),
            ("accountEnabled", .bool(app.servicePrincipalEnabled)),
            ("appDisplayName", .string(app.displayName)),
            ("appId", .string(app.clientID)),
            ("appOwnerOrganizationId", .string(app.tenantID)),
            ("displayName", .string(app.displayName)),
            ("servicePrincipalType", .string("Application")),
            ("signInAudience", .string("AzureADMyOrg")),
            ("keyCredentials", .array([])),
            ("passwordCredentials", .array([])),
        ])
    }

    static func federatedCredentialJSON(_ credential: FederatedCredential) -> JSONValue {
        .object([
            ("audiences", .array(credential.audiences.map(JSONValue.string))),
            ("description", .null),
            ("id", .string(credential.id)),
            ("issuer", .string(credential.issuer)),
            ("name", .string(credential.name)),
            ("subject", .string(credential.subject)),
        ])
    }

    /// A GUID-shaped key id derived from a thumbprint, stable across reads.
    static func keyID(_ bytes: [UInt8]) -> String {
        let hex = Self.hex(Array(bytes.prefix(16)) + [UInt8](repeating: 0, count: max(0, 16 - bytes.count)))
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }

    func graphOK(_ body: JSONValue, _ request: HTTPRequest) -> HTTPResponse {
        graphResponse(200, body.rendered, request)
    }

    /// Graph's error: `{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.
    func graphError(_ status: Int, _ code: String, _ message: String, _ request: HTTPRequest) -> HTTPResponse {
        let requestID = request.header("client-request-id") ?? Self.uuid()
        let body = JSONValue.object([
            (
                "error",
                .object([
                    ("code", .string(code)),
                    ("message", .string(message)),
                    (
                        "innerError",
                        .object([
                            ("date", .string(String(HTTPDate.graphTimestamp(now()).dropLast()))),
                            ("request-id", .string(requestID)),
                            ("client-request-id", .string(requestID)),
                        ])
                    ),
                ])
            )
        ])
        return graphResponse(status, body.rendered, request, requestID: requestID)
    }

    private func graphResponse(_ status: Int, _ body: String, _ request: HTTPRequest, requestID: String? = nil) -> HTTPResponse {
        let id = requestID ?? request.header("client-request-id") ?? Self.uuid()
        return HTTPResponse(
            status: status, contentType: "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
            body: body,
            headers: [
                ("request-id", id), ("client-request-id", id), ("OData-Version", "4.0"), ("Date", HTTPDate.imfFixdate(now())),
            ])
    }
}

extension HTTPDate {
    /// Graph's timestamp, e.g. `2030-01-01T00:00:00Z` (whole seconds).
    static func graphTimestamp(_ epochSeconds: Double) -> String {
        let time = CivilTime(epochSeconds.rounded(.down))
        return "\(time.year)-\(time.pad(time.month))-\(time.pad(time.day))T\(time.pad(time.hour)):\(time.pad(time.minute)):\(time.pad(time.second))Z"
    }
}
