// The simulated Azure OpenAI data plane: chat completions, embeddings, responses and models, behind key or Entra ID auth.
import HTTPServer
import JSON

extension SimulatorCore {
    /// Answers a request for the resource `resourceKey`, with `path` the request's path below
    /// the resource's endpoint (from `/openai/` on).
    func handleDataPlane(_ request: HTTPRequest, resourceKey: String, path: String) -> HTTPResponse {
        let found = state.withLock { state in
            state.requestCounts[resourceKey, default: 0] += 1
            return state.resources[resourceKey]
        }
        guard let resource = found else { return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound) }
        var response = answer(request, path: path, resource: resource, resourceKey: resourceKey)
        if resource.clockSkewSeconds != 0 {
            // The resource's clock is off: its Date header says so.
            response.headers = response.headers.map { $0.name == "Date" ? ("Date", HTTPDate.imfFixdate(now() + resource.clockSkewSeconds)) : $0 }
        }
        return response
    }

    private func answer(_ request: HTTPRequest, path: String, resource: SimulatedResource, resourceKey: String) -> HTTPResponse {
        if resource.closeConnection { return .connectionClosed }
        if resource.hang {
            holdUntilStopped()
            return .connectionClosed
        }
        if resource.delaySeconds > 0, !pause(seconds: resource.delaySeconds) { return .connectionClosed }
        if resource.networkDenied {
            return dataPlaneResponse(403, AzureOpenAIResponses.networkDenied, extra: [("policy-id", "ThrowExceptionDueToTrafficDenied")])
        }
        guard let route = DataPlaneRoute(method: request.method, path: path) else {
            return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound)
        }
        if let refusal = authenticate(request, resource: resource, resourceKey: resourceKey, route: route) { return refusal }

        if let retryAfter = resource.throttleRetryAfterSeconds {
            var headers: [(name: String, value: String)] = [("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-remaining-tokens", "0")]
            switch resource.throttleHeaders {
            case .both: headers += [("retry-after", String(retryAfter)), ("retry-after-ms", String(retryAfter * 1000))]
            case .seconds: headers.append(("retry-after", String(retryAfter)))
            case .milliseconds: headers.append(("retry-after-ms", String(retryAfter * 1000)))
            case .none: break
            }
            return dataPlaneResponse(429, AzureOpenAIResponses.throttled(retryAfterSeconds: retryAfter), extra: headers)
        }
        if let status = resource.serverErrorStatus {
            return dataPlaneResponse(status, AzureOpenAIResponses.serverError(status: status))
        }
        if route.operation == .models {
            return dataPlaneResponse(
                200, AzureOpenAIResponses.modelsList(deployments: resource.deployments.map { ($0, resource.model(of: $0)) }, created: Int(now().rounded(.down)))
            )
        }
        return inference(request, route: route, resource: resource)
    }

    /// Chat completions, embeddings and responses: the deployment, the model's rules, the answer.
    private func inference(_ request: HTTPRequest, route: DataPlaneRoute, resource: SimulatedResource) -> HTTPResponse {
        guard let body = JSONValue.parse(request.body), case .object = body else {
            return dataPlaneResponse(400, AzureOpenAIResponses.unparsableBody)
        }
        let deployment: String
        if let name = route.pathDeployment {
            deployment = name
        } else if let name = body["model"]?.stringValue, !name.isEmpty {
            deployment = name
        } else {
            return dataPlaneResponse(400, AzureOpenAIResponses.missingModel)
        }
        guard !resource.deploymentMissing, resource.deployments.contains(deployment) else {
            return dataPlaneResponse(404, AzureOpenAIResponses.deploymentNotFound)
        }
        let model = resource.model(of: deployment)
        // The dated API's version decides which parameters exist; v1 has them all.
        let version = route.v1 ? nil : request.queryValue("api-version").map { String($0.prefix(10)) }
        if let refusal = Self.refusal(of: body, route: route, model: model, apiVersion: version) {
            return dataPlaneResponse(400, refusal)
        }
        let created = Int(now().rounded(.down))
        let rateHeaders: [(name: String, value: String)] = [("x-ratelimit-remaining-requests", "249"), ("x-ratelimit-remaining-tokens", "249984")]
        switch route.operation {
        case .chatCompletions:
            let id = "chatcmpl-" + String(Self.uuid().filter { $0 != "-" }.prefix(29))
            if case .bool(true)? = body["stream"] {
                var usage = false
                if case .bool(true)? = body["stream_options"]?["include_usage"] { usage = true }
                return dataPlaneResponse(
                    200, AzureOpenAIResponses.chatCompletionStream(model: model, created: created, id: id, includeUsage: usage),
                    contentType: "text/event-stream; charset=utf-8", extra: rateHeaders)
            }
            return dataPlaneResponse(200, AzureOpenAIResponses.chatCompletion(model: model, created: created, id: id), extra: rateHeaders)
        case .embeddings:
            let base64 = body["encoding_format"]?.stringValue == "base64"
            return dataPlaneResponse(200, AzureOpenAIResponses.embeddings(model: model, base64: base64), extra: rateHeaders)
        case .responses:
            let id = "resp_" + Self.uuid().filter { $0 != "-" }
            return dataPlaneResponse(
                200,
                AzureOpenAIResponses.response(
                    model: model, created: created, id: id,
                    maxOutputTokens: body["max_output_tokens"]?.numberValue.map { Int($0) }), extra: rateHeaders)
        case .models:
            return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound)
        }
    }

    /// The 400 the service sends for a request the model or API version does not take; nil
    /// when the request is fine.
    static func refusal(of body: JSONValue, route: DataPlaneRoute, model: SimulatedDeployment, apiVersion: String?) -> String? {
        switch (route.operation, model.family) {
        case (.embeddings, .chat), (.embeddings, .reasoning), (.chatCompletions, .embeddings), (.responses, .embeddings):
            return AzureOpenAIResponses.operationNotSupported(operation: route.operationName, model: model.model)
        default:
            break
        }
        if route.operation == .responses, let apiVersion, apiVersion < "2025-03-01" {
            return AzureOpenAIResponses.responsesVersionTooOld
        }
        if model.family == .reasoning, let apiVersion, apiVersion < "2024-12-01" {
            return AzureOpenAIResponses.apiVersionTooOld(model: model.model, since: "2024-12-01-preview")
        }
        switch route.operation {
        case .chatCompletions:
            if body["max_completion_tokens"] != nil, let apiVersion, apiVersion < "2024-09-01" {
                return AzureOpenAIResponses.unrecognizedArgument("max_completion_tokens")
            }
            if model.family == .reasoning {
                if body["max_tokens"] != nil { return AzureOpenAIResponses.unsupportedParameter("max_tokens", instead: "max_completion_tokens") }
                if let temperature = body["temperature"]?.numberValue, temperature != 1 {
                    return AzureOpenAIResponses.unsupportedValue("temperature")
                }
            }
            guard case .array(let messages)? = body["messages"], !messages.isEmpty else {
                return AzureOpenAIResponses.missingMessages
            }
        case .responses:
            if let limit = body["max_output_tokens"]?.numberValue, limit < 16 {
                return AzureOpenAIResponses.belowMinimum("max_output_tokens", minimum: 16, got: Int(limit))
            }
            if body["input"] == nil { return AzureOpenAIResponses.missingInput }
        case .embeddings:
            if body["input"] == nil { return AzureOpenAIResponses.missingInput }
        case .models:
            break
        }
        return nil
    }

    /// Nil when the request may proceed; otherwise the refusal the service would send.
    private func authenticate(_ request: HTTPRequest, resource: SimulatedResource, resourceKey: String, route: DataPlaneRoute) -> HTTPResponse? {
        var key = request.header("api-key")
        if let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("bearer") {
            let token = String(authorization.dropFirst("bearer".count)).trimmingSpaces
            // The v1 API takes the key as a bearer token too: the stock OpenAI client sends it so.
            if route.v1, key == nil, !token.contains(".") {
                key = token
            } else {
                return authenticate(bearer: token, resource: resource, resourceKey: resourceKey, route: route)
            }
        }
        if let key {
            if resource.localAuthDisabled { return dataPlaneResponse(403, AzureOpenAIResponses.authenticationTypeDisabled) }
            if resource.keyInvalid || key != resource.apiKey {
                if resource.echoCredentials { return dataPlaneResponse(401, AzureOpenAIResponses.echoing("api-key: " + key)) }
                return dataPlaneResponse(401, AzureOpenAIResponses.invalidKey)
            }
            return nil
        }
        return dataPlaneResponse(401, AzureOpenAIResponses.invalidKey)
    }

    /// Nil when the bearer token may call `route`; otherwise the refusal.
    private func authenticate(bearer token: String, resource: SimulatedResource, resourceKey: String, route: DataPlaneRoute) -> HTTPResponse? {
        if resource.regionalEndpoint { return dataPlaneResponse(400, AzureOpenAIResponses.regionalEndpoint) }
        let current = now() + resource.clockSkewSeconds
        let invalid =
            resource.echoCredentials
            ? dataPlaneResponse(401, AzureOpenAIResponses.echoing("Authorization: Bearer " + String(token.prefix(40))))
            : dataPlaneResponse(401, AzureOpenAIResponses.invalidToken(expectedAudience: resource.expectedAudience))
        guard let claims = SimulatedToken.verify(token),
            let audience = claims.aud,
            Self.sameAudience(audience, resource.expectedAudience) || (route.v1 && Self.sameAudience(audience, Self.foundryAudience)),
            let expiry = claims.exp, expiry > current,
            (claims.nbf ?? 0) <= current,
            let tenant = claims.tid, let objectID = claims.oid
        else { return invalid }
        if tenant.lowercased() != resource.tenantID.lowercased() {
            return dataPlaneResponse(400, AzureOpenAIResponses.wrongTenant(tokenTenant: tenant))
        }
        let effectiveAt = state.withLock { $0.roles[resourceKey]?[objectID.lowercased()] }
        guard let effectiveAt, effectiveAt <= current else {
            return dataPlaneResponse(
                401,
                AzureOpenAIResponses.permissionDenied(
                    objectID: objectID, dataAction: route.dataAction, operation: route.operationText))
        }
        return nil
    }

    /// The audience Microsoft's v1 examples ask tokens for (`https://ai.azure.com/.default`),
    /// which v1 routes take beside the resource's own.
    static let foundryAudience = "https://ai.azure.com"

    /// Audiences compared as the service does: exact, but a trailing slash does not matter.
    static func sameAudience(_ lhs: String, _ rhs: String) -> Bool {
        func trimmed(_ text: String) -> Substring {
            var text = Substring(text)
            while text.hasSuffix("/") { text = text.dropLast() }
            return text
        }
        return trimmed(lhs) == trimmed(rhs)
    }

    /// A data-plane answer with the headers every Azure OpenAI response carries: one request id
    /// as both `apim-request-id` and `x-request-id` (which the openai SDK reads), the region.
    func dataPlaneResponse(_ status: Int, _ body: String, contentType: String = "application/json", extra: [(name: String, value: String)] = []) -> HTTPResponse
    {
        let requestID = Self.uuid()
        return HTTPResponse(
            status: status, contentType: contentType, body: body,
            headers: [
                ("apim-request-id", requestID),
                ("x-request-id", requestID),
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
