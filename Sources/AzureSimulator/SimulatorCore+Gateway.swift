// The simulated API Management gateway: its policies in the order a request meets them, its own
// answers in API Management's shape (no request id), and the backend call it makes.
import HTTPServer
import JSON

/// API Management's own answers, each as published (docs/azure-answers.md, "Behind API Management").
enum GatewayAnswers {
    static func body(_ status: Int, _ message: String) -> String {
        JSONValue.object([("statusCode", .int(status)), ("message", .string(message))]).rendered
    }

    static let missingKey = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
    static let invalidKey = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
    static let jwtNotPresent = "JWT not present."
    static let invalidJWT = "Invalid JWT."
    static let forbidden = "Forbidden"
    static let notFound = "Resource not found"
    /// Not published: the status is (one user's report and the policy's documentation), the words
    /// are API Management's generic ones.
    static let internalError = "Internal server error"

    static func rateLimited(_ seconds: Int) -> String { "Rate limit is exceeded. Try again in \(seconds) seconds." }
    static func tokenLimited(_ seconds: Int) -> String { "Token limit is exceeded. Try again in \(seconds) seconds." }

    /// The quota's renewal as .NET prints a TimeSpan: `hh:mm:ss`, with `d.` before it past a day.
    static func quotaExceeded(_ seconds: Int) -> String {
        let (days, rest) = (seconds / 86_400, seconds % 86_400)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        let time = "\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))"
        return "Out of call volume quota. Quota will be replenished in \(days > 0 ? "\(days)." : "")\(time)."
    }
}

extension SimulatorCore {
    /// The path prefix of gateways: `/gateways/<gateway>/<api suffix>/openai/...`.
    static let gatewayPathPrefix = "/gateways/"

    /// Answers a request to a gateway: its policies first (network, subscription, limits, token),
    /// then the backend call.
    func handleGateway(_ request: HTTPRequest, gatewayKey: String, path: String) -> HTTPResponse {
        guard let gateway = state.withLock({ $0.gateways[gatewayKey] }) else {
            return gatewayResponse(404, GatewayAnswers.notFound)
        }
        // No API at this URL suffix (or a method the API has no operation for).
        let prefix = "/" + gateway.apiSuffix + "/"
        guard path.lowercased().hasPrefix(prefix.lowercased()) else { return gatewayResponse(404, GatewayAnswers.notFound) }
        let backendPath = "/" + path.dropFirst(prefix.count)
        guard DataPlaneRoute(method: request.method, path: backendPath) != nil else { return gatewayResponse(404, GatewayAnswers.notFound) }

        if gateway.ipFiltered { return gatewayResponse(403, GatewayAnswers.forbidden) }
        let key = request.header(gateway.keyHeader) ?? request.queryValue("subscription-key")
        if gateway.subscriptionRequired {
            guard let key, !key.isEmpty else {
                return gatewayResponse(
                    401, GatewayAnswers.missingKey,
                    extra: [
                        (
                            "WWW-Authenticate",
                            "AzureApiManagementKey realm=\"\(authority.withLock { $0 })/gateways/\(gateway.name)/\(gateway.apiSuffix)\",name=\"\(gateway.keyHeader)\",type=\"header\""
                        )
                    ])
            }
            guard gateway.subscriptionKeys.contains(key) else { return gatewayResponse(401, GatewayAnswers.invalidKey) }
        }
        if let seconds = gateway.rateLimitRetrySeconds {
            return gatewayResponse(429, GatewayAnswers.rateLimited(seconds), extra: [("Retry-After", String(seconds))])
        }
        if let seconds = gateway.quotaRenewalSeconds {
            return gatewayResponse(403, GatewayAnswers.quotaExceeded(seconds), extra: [("Retry-After", String(seconds))])
        }
        let bearer = request.header("Authorization").flatMap { value -> String? in
            guard value.lowercased().hasPrefix("bearer ") else { return nil }
            return String(value.dropFirst("bearer ".count)).trimmingSpaces
        }
        if gateway.validateJWT, bearer != nil || gateway.jwtRequired {
            guard let bearer, !bearer.isEmpty else { return gatewayResponse(401, gateway.jwtFailureMessage ?? GatewayAnswers.jwtNotPresent) }
            let backendTenant = state.withLock { $0.resources[gateway.backend.lowercased()]?.tenantID.lowercased() }
            guard let claims = SimulatedToken.verify(bearer), let audience = claims.aud, Self.sameAudience(audience, gateway.jwtAudience),
                let expiry = claims.exp, expiry > now(), claims.tid?.lowercased() == backendTenant
            else { return gatewayResponse(401, gateway.jwtFailureMessage ?? GatewayAnswers.invalidJWT) }
        }
        if let seconds = gateway.tokenLimitRetrySeconds {
            return gatewayResponse(429, GatewayAnswers.tokenLimited(seconds), extra: [("Retry-After", String(seconds))])
        }

        // The backend call: the subscription key stays at the gateway.
        var forwarded = request
        forwarded.headers.removeAll { $0.name.lowercased() == gateway.keyHeader.lowercased() }
        forwarded.query.removeAll { $0.name == "subscription-key" }
        if gateway.backendAuth == .managedIdentity {
            if gateway.identityFailing { return gatewayResponse(500, GatewayAnswers.internalError) }
            let tenant = state.withLock { $0.resources[gateway.backend.lowercased()]?.tenantID } ?? ""
            let identity = SimulatedManagedIdentity(
                tenantID: tenant, clientID: gateway.identityClientID, objectID: gateway.identityObjectID,
                resourceID:
                    "/subscriptions/\(SimulatedResource.defaultSubscription)/resourceGroups/rg-gateway/providers/Microsoft.ApiManagement/service/\(gateway.name)",
                userAssigned: false)
            let token = SimulatedToken.mint(for: identity, audience: "https://cognitiveservices.azure.com", now: now())
            forwarded.headers.removeAll { ["authorization", "api-key"].contains($0.name.lowercased()) }
            forwarded.headers.append(("Authorization", "Bearer \(token)"))
        }
        return handleDataPlane(forwarded, resourceKey: gateway.backend.lowercased(), path: backendPath)
    }

    /// One of the gateway's own answers: API Management's shape, and none of the request ids
    /// Azure OpenAI's answers carry.
    func gatewayResponse(_ status: Int, _ message: String, extra: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(
            status: status, contentType: "application/json", body: GatewayAnswers.body(status, message),
            headers: [("Date", HTTPDate.imfFixdate(now()))] + extra)
    }
}
