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
        guard let resource = found else { return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound, frontDoor: true) }
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
            return dataPlaneResponse(403, AzureOpenAIResponses.networkDenied, extra: [("policy-id", "ThrowExceptionDueToTrafficDenied")], frontDoor: true)
        }
        guard let route = DataPlaneRoute(method: request.method, path: path) else {
            return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound, frontDoor: true)
        }
        if let refusal = authenticate(request, resource: resource, resourceKey: resourceKey, route: route) { return refusal }
        // A dated route needs a version the service has: none is a path it does not know, and
        // one it never had is refused (docs/azure-answers.md).
        if !route.v1 {
            guard let version = request.queryValue("api-version"), !version.isEmpty else {
                return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound, frontDoor: true)
            }
            if !Self.isPublished(apiVersion: version) { return dataPlaneResponse(400, AzureOpenAIResponses.apiVersionUnsupported) }
        }

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
            // `n` choices, within what OpenAI's API allows (1 to 128).
            let choices = min(max(body["n"]?.numberValue.map { Int($0) } ?? 1, 1), 128)
            if case .bool(true)? = body["stream"] {
                var usage = false
                if case .bool(true)? = body["stream_options"]?["include_usage"] { usage = true }
                return dataPlaneResponse(
                    200, AzureOpenAIResponses.chatCompletionStream(model: model, created: created, id: id, includeUsage: usage, choices: choices),
                    contentType: "text/event-stream; charset=utf-8", extra: rateHeaders)
            }
            // A reasoning model thinks before it answers: a budget too small for that is refused
            // when tiny (1 and 16 were seen refused) and spent on thinking otherwise.
            var cut: Int?
            if model.family == .reasoning, let limit = body["max_completion_tokens"]?.numberValue.map({ Int($0) }),
                limit <= AzureOpenAIResponses.reasoningSpend
            {
                if limit <= 16 { return dataPlaneResponse(400, AzureOpenAIResponses.couldNotFinish) }
                cut = limit
            }
            return dataPlaneResponse(
                200, AzureOpenAIResponses.chatCompletion(model: model, created: created, id: id, choices: choices, cutAt: cut), extra: rateHeaders)
        case .embeddings:
            let base64 = body["encoding_format"]?.stringValue == "base64"
            return dataPlaneResponse(
                200, AzureOpenAIResponses.embeddings(model: model, base64: base64, inputs: Self.embeddingInputs(body["input"])), extra: rateHeaders)
        case .responses:
            let id = "resp_" + Self.uuid().filter { $0 != "-" }
            let limit = body["max_output_tokens"]?.numberValue.map { Int($0) }
            if case .bool(true)? = body["stream"] {
                return dataPlaneResponse(
                    200, AzureOpenAIResponses.responseStream(model: model, created: created, id: id, maxOutputTokens: limit),
                    contentType: "text/event-stream; charset=utf-8", extra: rateHeaders)
            }
            return dataPlaneResponse(
                200, AzureOpenAIResponses.response(model: model, created: created, id: id, maxOutputTokens: limit), extra: rateHeaders)
        case .models:
            return dataPlaneResponse(404, AzureOpenAIResponses.resourceNotFound, frontDoor: true)
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

    /// A published version, or one dated after the newest the specifications here hold (which
    /// the real service may well have).
    static func isPublished(apiVersion: String) -> Bool {
        AzureSimulator.publishedAPIVersions.contains(apiVersion) || String(apiVersion.prefix(10)) > AzureSimulator.latestPublishedAPIVersion
    }

    /// How many embeddings `input` asks for: one for a string or one list of token ids, one per
    /// item for a list of strings or of token lists.
    static func embeddingInputs(_ input: JSONValue?) -> Int {
        guard case .array(let items)? = input, !items.isEmpty else { return 1 }
        switch items.first {
        case .int?, .double?: return 1
        default: return items.count
        }
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
            if resource.localAuthDisabled { return dataPlaneResponse(403, AzureOpenAIResponses.authenticationTypeDisabled, frontDoor: true) }
            if resource.keyInvalid || key != resource.apiKey {
                if resource.echoCredentials { return dataPlaneResponse(401, AzureOpenAIResponses.echoing("api-key: " + key), frontDoor: true) }
                return dataPlaneResponse(401, AzureOpenAIResponses.invalidKey, frontDoor: true)
            }
            return nil
        }
        return dataPlaneResponse(401, AzureOpenAIResponses.invalidKey, frontDoor: true)
    }

    /// Nil when the bearer token may call `route`; otherwise the refusal.
    private func authenticate(bearer token: String, resource: SimulatedResource, resourceKey: String, route: DataPlaneRoute) -> HTTPResponse? {
        if resource.regionalEndpoint { return dataPlaneResponse(400, AzureOpenAIResponses.regionalEndpoint) }
        let current = now() + resource.clockSkewSeconds
        let invalid =
            resource.echoCredentials
            ? dataPlaneResponse(401, AzureOpenAIResponses.echoing("Authorization: Bearer " + String(token.prefix(40))), frontDoor: true)
            : dataPlaneResponse(401, AzureOpenAIResponses.invalidToken(expectedAudience: resource.expectedAudience), frontDoor: true)
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
                    objectID: objectID, dataAction: route.dataAction, operation: route.operationText), frontDoor: true)
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

    /// A data-plane answer with the headers Azure OpenAI's answers carry: from the model (a
    /// success, a refused request, a limit) its front door's `apim-request-id`, the model's own
    /// `x-request-id` (which the openai SDK reads; the two differ) and the region; from the front
    /// door alone (a key, a token, a principal, the network or a path refused) `apim-request-id`
    /// only, as captured (docs/azure-answers.md).
    func dataPlaneResponse(
        _ status: Int, _ body: String, contentType: String = "application/json", extra: [(name: String, value: String)] = [], frontDoor: Bool = false
    ) -> HTTPResponse {
        var headers: [(name: String, value: String)] = [("apim-request-id", Self.uuid())]
        if !frontDoor { headers += [("x-request-id", Self.uuid()), ("x-ms-region", "East US")] }
        headers.append(("Date", HTTPDate.imfFixdate(now())))
        return HTTPResponse(status: status, contentType: contentType, body: body, headers: headers + extra)
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
