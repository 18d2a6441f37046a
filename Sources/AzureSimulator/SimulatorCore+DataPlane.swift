// The simulated Azure OpenAI data plane: chat completions and models, behind key or Entra ID auth.
import HTTPServer

/// The data-plane operations the simulator serves.
enum DataPlaneRoute: Equatable {
    /// `POST /openai/deployments/{deployment}/chat/completions`
    case chatCompletions(deployment: String)
    /// `GET /openai/models` or `GET /openai/v1/models`
    case models

    /// The route for a method and path; nil for anything the service would answer 404.
    init?(method: String, path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if method == "POST", parts.count == 6, parts[0].isEmpty, parts[1] == "openai", parts[2] == "deployments",
           !parts[3].isEmpty, parts[4] == "chat", parts[5] == "completions" {
            self = .chatCompletions(deployment: FormEncoding.pathSegment(parts[3]))
        } else if method == "GET", path == "/openai/models" || path == "/openai/v1/models" {
            self = .models
        } else {
            return nil
        }
    }

    /// The RBAC data action the operation needs.
    var dataAction: String {
        switch self {
        case .chatCompletions: return "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
        case .models: return "Microsoft.CognitiveServices/accounts/OpenAI/models/read"
        }
    }

    /// The operation as the PermissionDenied message names it.
    var operation: String {
        switch self {
        case .chatCompletions: return "POST /openai/deployments/{deployment-id}/chat/completions"
        case .models: return "GET /openai/models"
        }
    }
}

extension SimulatorCore {
    /// Answers a request sent to `<resourceKey>.openai.localhost`.
    func handleDataPlane(_ request: HTTPRequest, resourceKey: String) -> HTTPResponse {
        let found = state.withLock { state in
            state.requestCounts[resourceKey, default: 0] += 1
            return state.resources[resourceKey]
        }
        guard let resource = found else { return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound) }
        var response = answer(request, resource: resource, resourceKey: resourceKey)
        if resource.clockSkewSeconds != 0 {
            // The resource's clock is off: its Date header says so.
            response.headers = response.headers.map { $0.name == "Date" ? ("Date", HTTPDate.imfFixdate(now() + resource.clockSkewSeconds)) : $0 }
        }
        return response
    }

    private func answer(_ request: HTTPRequest, resource: SimulatedResource, resourceKey: String) -> HTTPResponse {

        if resource.closeConnection { return .connectionClosed }
        if resource.hang {
            holdUntilStopped()
            return .connectionClosed
        }
        if resource.delaySeconds > 0, !pause(seconds: resource.delaySeconds) { return .connectionClosed }
        if resource.networkDenied {
            return dataPlaneResponse(403, AzureOpenAIResponses.networkDenied, extra: [("policy-id", "ThrowExceptionDueToTrafficDenied")])
        }
        guard let route = DataPlaneRoute(method: request.method, path: request.path) else {
            return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound)
        }
        if let refusal = authenticate(request, resource: resource, resourceKey: resourceKey, route: route) { return refusal }

        if let retryAfter = resource.throttleRetryAfterSeconds {
            return dataPlaneResponse(429, AzureOpenAIResponses.throttled(retryAfterSeconds: retryAfter), extra: [
                ("retry-after", String(retryAfter)),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-remaining-tokens", "1000"),
            ])
        }
        if let status = resource.serverErrorStatus {
            return dataPlaneResponse(status, AzureOpenAIResponses.serverError(status: status))
        }
        let created = Int(now().rounded(.down))
        switch route {
        case .chatCompletions(let deployment):
            guard !resource.deploymentMissing, resource.deployments.contains(deployment) else {
                return dataPlaneResponse(404, AzureOpenAIResponses.deploymentNotFound)
            }
            let id = "chatcmpl-" + String(Self.uuid().filter { $0 != "-" }.prefix(29))
            return dataPlaneResponse(200, AzureOpenAIResponses.chatCompletion(deployment: deployment, created: created, id: id))
        case .models:
            return dataPlaneResponse(200, AzureOpenAIResponses.modelsList(deployments: resource.deployments, created: created))
        }
    }

    /// Nil when the request may proceed; otherwise the refusal the service would send.
    private func authenticate(_ request: HTTPRequest, resource: SimulatedResource, resourceKey: String, route: DataPlaneRoute) -> HTTPResponse? {
        if let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("bearer") {
            if resource.regionalEndpoint { return dataPlaneResponse(400, AzureOpenAIResponses.regionalEndpoint) }
            let token = String(authorization.dropFirst("bearer".count)).trimmingSpaces
            let current = now() + resource.clockSkewSeconds
            let invalid = dataPlaneResponse(401, AzureOpenAIResponses.invalidToken(expectedAudience: resource.expectedAudience))
            guard let claims = SimulatedToken.verify(token),
                  let audience = claims.aud, Self.sameAudience(audience, resource.expectedAudience),
                  let expiry = claims.exp, expiry > current,
                  (claims.nbf ?? 0) <= current,
                  let tenant = claims.tid, let objectID = claims.oid else { return invalid }
            if tenant.lowercased() != resource.tenantID.lowercased() {
                return dataPlaneResponse(400, AzureOpenAIResponses.wrongTenant(tokenTenant: tenant))
            }
            let effectiveAt = state.withLock { $0.roles[resourceKey]?[objectID.lowercased()] }
            guard let effectiveAt, effectiveAt <= current else {
                return dataPlaneResponse(401, AzureOpenAIResponses.permissionDenied(
                    objectID: objectID, dataAction: route.dataAction, operation: route.operation))
            }
            return nil
        }
        if let key = request.header("api-key") {
            if resource.localAuthDisabled { return dataPlaneResponse(403, AzureOpenAIResponses.authenticationTypeDisabled) }
            if resource.keyInvalid || key != resource.apiKey { return dataPlaneResponse(401, AzureOpenAIResponses.invalidKey) }
            return nil
        }
        return dataPlaneResponse(401, AzureOpenAIResponses.invalidKey)
    }

    /// Audiences compared as the service does: exact, but a trailing slash does not matter.
    static func sameAudience(_ lhs: String, _ rhs: String) -> Bool {
        func trimmed(_ text: String) -> Substring {
            var text = Substring(text)
            while text.hasSuffix("/") { text = text.dropLast() }
            return text
        }
        return trimmed(lhs) == trimmed(rhs)
    }

    /// A data-plane answer with the headers every Azure OpenAI response carries.
    func dataPlaneResponse(_ status: Int, _ body: String, extra: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: body, headers: [
            ("apim-request-id", Self.uuid()),
            ("x-ms-region", "East US"),
            ("Date", HTTPDate.imfFixdate(now())),
        ] + extra)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
