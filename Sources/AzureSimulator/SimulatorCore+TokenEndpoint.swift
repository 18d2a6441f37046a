// The simulated Entra ID token endpoint: POST /{tenant}/oauth2/v2.0/token, client credentials grant.
import HTTPServer
import JSON

extension SimulatorCore {
    /// Answers a request to the authority host that is not for the admin API.
    func handleTokenEndpoint(_ request: HTTPRequest) -> HTTPResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 5, segments[0].isEmpty, !segments[1].isEmpty,
            segments[2] == "oauth2", segments[3] == "v2.0", segments[4] == "token"
        else {
            return entraNotFound(request)
        }
        guard request.method == "POST" else {
            return entraError(
                code: 900561, status: 400, error: "invalid_request",
                description: "The endpoint only accepts POST requests. Received a \(request.method) request.")
        }
        let tenant = FormEncoding.pathSegment(segments[1])
        let form = FormEncoding.decode(request.body)
        func field(_ name: String) -> String? { form.first { $0.name == name }?.value }
        let clientID = field("client_id") ?? ""

        let (tenantKnown, found) = state.withLock { state in
            state.tokenRequestCounts[clientID.lowercased(), default: 0] += 1
            // A user-assigned identity answers for itself when a workload presents a federated token.
            let identity = state.userAssignedIdentities.first { $0.clientID.lowercased() == clientID.lowercased() }.map { identity in
                SimulatedApplication(
                    tenantID: identity.tenantID, clientID: identity.clientID, clientSecret: SimulatorCore.randomHex(bytes: 16), objectID: identity.principalID)
            }
            return (state.tenants.contains(tenant.lowercased()), state.applications[clientID.lowercased()] ?? identity)
        }
        guard tenantKnown else { return entraError(code: 90002, tenant: tenant, clientID: clientID, assertion: nil) }
        guard let app = found, app.tenantID.lowercased() == tenant.lowercased() else {
            return entraError(code: 700016, tenant: tenant, clientID: clientID, assertion: nil)
        }

        if app.tokenEndpointHang {
            holdUntilStopped()
            return .connectionClosed
        }
        if app.tokenEndpointDelaySeconds > 0, !pause(seconds: app.tokenEndpointDelaySeconds) {
            return .connectionClosed
        }
        if let status = app.tokenEndpointStatus {
            return status == 503
                ? entraError(code: 90033, status: status, error: "temporarily_unavailable", description: "A transient error has occurred. Please try again.")
                : entraError(
                    code: 50000, status: status, error: "server_error",
                    description: "There was an error issuing a token or an issue with our sign-in service. Please try again later.")
        }
        if let code = app.tokenError ?? (app.servicePrincipalEnabled ? nil : 7_000_112) {
            let error = entraError(code: code, tenant: tenant, clientID: app.clientID, assertion: field("client_assertion"))
            return app.echoForm ? Self.echoingForm(error, form: String(decoding: request.body, as: UTF8.self)) : error
        }

        let scope = field("scope") ?? ""
        guard field("grant_type") == "client_credentials" else {
            return entraError(
                code: 70011, status: 400, error: "invalid_scope",
                description: "The provided value for the input parameter 'scope' isn't valid. The scope \(scope) isn't valid.")
        }
        guard !scope.contains(" "), scope.hasSuffix("/.default"), scope.count > "/.default".count else {
            return entraError(
                code: 1_002_012, status: 400, error: "invalid_scope",
                description:
                    "The provided value for scope \(scope) is not valid. Client credential flows must have a scope value with /.default suffixed to the "
                    + "resource identifier (application ID URI)."
            )
        }
        let resource = String(scope.dropLast("/.default".count))
        guard Self.knownResources.contains(where: { Self.sameAudience($0, resource) }) || resource.hasPrefix("api://") else {
            return entraError(
                code: 500011, status: 400, error: "invalid_resource",
                description:
                    "The resource principal named \(resource) was not found in the tenant named \(tenant). This can happen if the application has not been "
                    + "installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication "
                    + "request to the wrong tenant."
            )
        }

        if let secret = field("client_secret") {
            guard secret == app.clientSecret else {
                return entraError(code: 7_000_215, tenant: tenant, clientID: app.clientID, assertion: nil)
            }
        } else if field("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            let assertion = field("client_assertion"), !assertion.isEmpty
        {
            if let refusal = checkClientAssertion(assertion, app: app, tenant: tenant, host: request.header("Host")) { return refusal }
        } else {
            return entraError(
                code: 7_000_218, status: 401, error: "invalid_client",
                description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        }

        let audience = String(scope.dropLast("/.default".count))
        let token = SimulatedToken.mint(for: app, audience: audience, now: now())
        var members: [(String, JSONValue)] = [
            ("token_type", .string("Bearer")),
            ("expires_in", .int(app.tokenLifetimeSeconds)),
            ("ext_expires_in", .int(app.tokenLifetimeSeconds)),
        ]
        if let refreshIn = app.refreshInSeconds { members.append(("refresh_in", .int(refreshIn))) }
        members.append(("access_token", .string(token)))
        return entraResponse(status: 200, body: JSONValue.object(members).rendered, requestID: Self.uuid())
    }

    /// The resources (application ID URIs) every simulated tenant has a service principal for;
    /// a scope naming any other gets AADSTS500011.
    static let knownResources = [
        "https://cognitiveservices.azure.com", "https://cognitiveservices.azure.us", "https://cognitiveservices.azure.cn",
        "https://ai.azure.com", "https://management.azure.com", "https://management.core.windows.net",
        "https://management.usgovcloudapi.net", "https://management.chinacloudapi.cn", "https://graph.microsoft.com",
        "https://vault.azure.net", "https://storage.azure.com",
    ]

    /// The Entra error for an AADSTS code, with the wording and status the real service uses
    /// (docs/azure-answers.md gives each one's source).
    func entraError(code: Int, tenant: String, clientID: String, assertion: String?) -> HTTPResponse {
        let claims = assertion.map(Self.assertionClaims) ?? [:]
        let wif =
            "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. "
            + "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
        switch code {
        case 700211:
            return entraError(
                code: code, status: 401, error: "invalid_client",
                description: "No matching federated identity record found for presented assertion issuer '\(claims["iss"] ?? "")'. \(wif)")
        case 700212:
            return entraError(
                code: code, status: 401, error: "invalid_client",
                description: "No matching federated identity record found for presented assertion audience '\(claims["aud"] ?? "")'. \(wif)")
        case 700213:
            return entraError(
                code: code, status: 401, error: "invalid_client",
                description: "No matching federated identity record found for presented assertion subject '\(claims["sub"] ?? "")'. \(wif)")
        case 900023:
            return entraError(
                code: code, status: 400, error: "invalid_request",
                description: "Specified tenant identifier '\(tenant)' is neither a valid DNS name, nor a valid external domain.")
        case 7_000_112:
            return entraError(
                code: code, status: 400, error: "unauthorized_client",
                description:
                    "Application '\(clientID)'(\(state.withLock { $0.applications[clientID.lowercased()]?.displayName } ?? "aoai-canary")) is disabled.")
        case 53003:
            return entraError(
                code: code, status: 400, error: "interaction_required",
                description: "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
                suberror: "message_only")
        case 90061:
            return entraError(code: code, status: 400, error: "invalid_request", description: "Request to External OIDC endpoint failed.")
        case 500011:
            return entraError(
                code: code, status: 400, error: "invalid_resource",
                description:
                    "The resource principal named https://cognitiveservices.azure.com was not found in the tenant named \(tenant). This can happen if the "
                    + "application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have "
                    + "sent your authentication request to the wrong tenant."
            )
        case 90002:
            return entraError(
                code: code, status: 400, error: "invalid_request",
                description:
                    "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your "
                    + "subscription administrator, this may happen if there are no active subscriptions for the tenant."
            )
        case 700016:
            return entraError(
                code: code, status: 400, error: "unauthorized_client",
                description:
                    "Application with identifier '\(clientID)' was not found in the directory '\(tenant)'. This can happen if the application has not been "
                    + "installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication "
                    + "request to the wrong tenant."
            )
        case 7_000_215:
            return entraError(
                code: code, status: 401, error: "invalid_client",
                description:
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a "
                    + "secret added to app '\(clientID)'."
            )
        case 7_000_222:
            return entraError(
                code: code, status: 401, error: "invalid_client",
                description:
                    "The provided client secret keys for app '\(clientID)' are expired. Visit the Azure portal to create new keys for your app: "
                    + "https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
            )
        case 700024:
            let current = now()
            return assertionTimeError(validFrom: current - 7200, expiresAt: current - 5400)
        case 70021:
            return entraError(
                code: code, status: 400, error: "invalid_request",
                description:
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '\(claims["iss"] ?? "")'. Assertion Subject: "
                    + "'\(claims["sub"] ?? "")'. Assertion Audience: '\(claims["aud"] ?? "")'. "
                    + "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
            )
        default:
            return entraError(
                code: code, status: 400, error: "invalid_request",
                description: "The simulator was told to fail this request with AADSTS\(code).")
        }
    }

    /// An error whose description also quotes the posted form, as a misbehaving endpoint might.
    static func echoingForm(_ response: HTTPResponse, form: String) -> HTTPResponse {
        guard var json = JSONValue.parse(response.body), case .object(var members) = json else { return response }
        members = members.map { name, value in
            guard name == "error_description", let text = value.stringValue else { return (name, value) }
            return (name, .string(text + " Request body: " + form))
        }
        json = .object(members)
        var echoed = response
        echoed.body = Array(json.rendered.utf8)
        echoed.headers = echoed.headers.filter { $0.name.lowercased() != "content-length" }
        return echoed
    }

    /// The string claims of an unverified assertion, by name; a list of strings (`aud` may be
    /// one) joined with ", ".
    static func assertionClaims(_ assertion: String) -> [String: String] {
        guard case .object(let members)? = SimulatedToken.unverifiedPayload(assertion) else { return [:] }
        var claims: [String: String] = [:]
        for (name, value) in members {
            switch value {
            case .string(let text): claims[name] = text
            case .array(let items): claims[name] = items.compactMap(\.stringValue).joined(separator: ", ")
            default: break
            }
        }
        return claims
    }

    /// An error in Entra ID's shape: `error`, `error_description` (code, text, trace, correlation,
    /// time), `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`, and
    /// `suberror` where Entra ID adds one.
    func entraError(code: Int, status: Int, error: String, description: String, suberror: String? = nil) -> HTTPResponse {
        let traceID = Self.uuid()
        let correlationID = Self.uuid()
        let timestamp = HTTPDate.entraTimestamp(now())
        let body = JSONValue.object(
            [
                ("error", .string(error)),
                ("error_description", .string("AADSTS\(code): \(description) Trace ID: \(traceID) Correlation ID: \(correlationID) Timestamp: \(timestamp)")),
                ("error_codes", .array([.int(code)])),
                ("timestamp", .string(timestamp)),
                ("trace_id", .string(traceID)),
                ("correlation_id", .string(correlationID)),
                ("error_uri", .string("https://login.microsoftonline.com/error?code=\(code)")),
            ] + (suberror.map { [("suberror", JSONValue.string($0))] } ?? [])
        ).rendered
        return entraResponse(status: status, body: body, requestID: traceID)
    }

    /// 404 for paths the authority host does not serve.
    private func entraNotFound(_ request: HTTPRequest) -> HTTPResponse {
        entraResponse(status: 404, body: AzureOpenAIResponses.resourceNotFound, requestID: Self.uuid())
    }

    /// A token endpoint answer with the headers Entra ID sends.
    private func entraResponse(status: Int, body: String, requestID: String) -> HTTPResponse {
        HTTPResponse(
            status: status, contentType: "application/json; charset=utf-8", body: body,
            headers: [
                ("Cache-Control", "no-store, no-cache"),
                ("Pragma", "no-cache"),
                ("x-ms-request-id", requestID),
                ("Date", HTTPDate.imfFixdate(now())),
            ])
    }
}
