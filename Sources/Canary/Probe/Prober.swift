// Making the canary calls: the request for a resource, and the paired round of key and token calls.
import Auth
import Config
import HTTPClient
import HTTPServer
import Support

/// One probe's outcome with everything metrics and logs need.
public struct ProbeResult: Sendable {
    public var resource: String
    public var auth: AuthMode
    public var verdict: ProbeVerdict
    /// 0 when there was no response.
    public var status: Int
    /// libcurl's timers; nil when no call was made or no response came.
    public var timings: HTTPTimings?
    /// Wall time when the probe finished.
    public var finishedAt: Double
    /// `retry-after` of a 429, in seconds.
    public var retryAfter: Double?
    /// The credential used by an Entra ID probe.
    public var credential: String?
    /// Seconds left on the token sent, for the log.
    public var tokenExpiresIn: Double?
    /// The `iat` of the token sent, for telling a role that postdates it.
    public var tokenIssuedAt: Double?
    /// The service's clock, from its `Date` header.
    public var serviceDate: Double?
    /// The claims of the token an Entra ID probe sent.
    public var claims: TokenClaims?
}

/// Both halves of one round for one resource.
public struct RoundResult: Sendable {
    public var resource: String
    public var apiKey: ProbeResult?
    public var entraID: ProbeResult?

    public var results: [ProbeResult] { [apiKey, entraID].compactMap { $0 } }

    /// The longest `retry-after` either half was told.
    public var retryAfter: Double? { results.compactMap(\.retryAfter).max() }
}

/// Runs probes through one shared HTTP client.
public struct Prober: Sendable {
    public let client: HTTPClient
    public let clock: any CanaryClock
    public let timeoutSeconds: Double
    /// The most of a body read for classification.
    public static let maxBodyBytes = 64 * 1024

    public init(client: HTTPClient, clock: any CanaryClock, timeoutSeconds: Double) {
        self.client = client
        self.clock = clock
        self.timeoutSeconds = timeoutSeconds
    }

    /// The request URL of a resource's probe.
    public static func url(for resource: ResourceConfig) -> String {
        ProbeCall(resource: resource).url
    }

    /// The auth headers of a resource's key canary: `api-key`, the gateway's subscription key, or
    /// both; nil when it has no key canary.
    public static func keyHeaders(_ resource: ResourceConfig) -> [(name: String, value: String)]? {
        var headers: [(name: String, value: String)] = []
        if let key = resource.apiKey { headers.append(("api-key", key.exposedValue)) }
        if let gateway = resource.gateway, let key = gateway.subscriptionKey { headers.append((gateway.keyHeader, key.exposedValue)) }
        return headers.isEmpty ? nil : headers
    }

    /// The auth headers of a resource's Entra ID canary: the bearer token, and the gateway's
    /// subscription key when its API asks callers for one.
    public static func tokenHeaders(_ resource: ResourceConfig, token: CachedToken) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(token.accessToken.exposedValue)")]
        if let gateway = resource.gateway, gateway.keyWithToken, let key = gateway.subscriptionKey { headers.append((gateway.keyHeader, key.exposedValue)) }
        return headers
    }

    /// The request a probe sends, with `authorization` as its auth headers.
    public func request(for resource: ResourceConfig, authorization: [(name: String, value: String)]) -> HTTPClientRequest {
        let call = ProbeCall(resource: resource)
        var headers: [(name: String, value: String)] = authorization + [("Accept", "application/json")]
        if call.body != nil { headers.append(("Content-Type", "application/json")) }
        return HTTPClientRequest(
            method: call.method, url: call.url, headers: headers, body: call.body, timeoutSeconds: timeoutSeconds,
            maxBodyBytes: Self.maxBodyBytes, caFile: resource.caFile)
    }

    /// Runs the key call and the Entra ID call of one round at the same moment.
    public func round(_ resource: ResourceConfig, tokens: TokenCache?) async -> RoundResult {
        var result = RoundResult(resource: resource.name)
        // One call: made in this task, without a child task to start and wait for.
        let keyHeaders = Self.keyHeaders(resource)
        switch (keyHeaders, tokens) {
        case (let headers?, nil):
            result.apiKey = await probe(resource, auth: .apiKey, headers: headers)
            return result
        case (nil, let tokens?):
            result.entraID = await probeWithToken(resource, tokens: tokens)
            return result
        default:
            break
        }
        await withTaskGroup(of: ProbeResult.self) { group in
            if let keyHeaders {
                group.addTask { await self.probe(resource, auth: .apiKey, headers: keyHeaders) }
            }
            if let tokens {
                group.addTask { await self.probeWithToken(resource, tokens: tokens) }
            }
            for await probe in group {
                switch probe.auth {
                case .apiKey: result.apiKey = probe
                case .entraID: result.entraID = probe
                }
            }
        }
        return result
    }

    private func probeWithToken(_ resource: ResourceConfig, tokens: TokenCache) async -> ProbeResult {
        let token: CachedToken
        do {
            token = try await tokens.token()
        } catch {
            return ProbeResult(
                resource: resource.name, auth: .entraID, verdict: .failure(.tokenAcquisitionFailed, Evidence(failure: error.description, aadsts: error.aadsts)),
                status: 0, timings: nil, finishedAt: clock.wallSeconds, credential: tokens.credential)
        }
        var result = await probe(resource, auth: .entraID, headers: Self.tokenHeaders(resource, token: token))
        result.credential = tokens.credential
        result.tokenExpiresIn = token.expiresOn - clock.wallSeconds
        result.tokenIssuedAt = token.claims?.issuedAt ?? token.acquiredAt
        result.claims = token.claims
        result.verdict = TokenDiagnosis.refine(
            result.verdict, claims: token.claims, endpoint: resource.endpoint, serviceTime: result.serviceDate ?? result.finishedAt)
        if resource.gateway != nil { result.verdict = ResponseClassifier.behindGateway(result.verdict, tokenObjectID: token.claims?.objectID) }
        return result
    }

    /// One call and its classification.
    package func probe(_ resource: ResourceConfig, auth: AuthMode, headers: [(name: String, value: String)]) async -> ProbeResult {
        let request = request(for: resource, authorization: headers)
        do {
            let response = try await client.execute(request)
            var verdict = ResponseClassifier.classify(
                status: response.status, body: response.body, headers: response.headers, auth: auth, gateway: resource.gateway != nil)
            if case .failure(var failure) = verdict, let api = resource.api, !api.isPublishedOrNewer {
                failure.evidence.unpublishedAPIVersion = resource.apiVersion
                verdict = .failure(failure)
            }
            return ProbeResult(
                resource: resource.name, auth: auth,
                verdict: verdict,
                status: response.status, timings: response.timings, finishedAt: clock.wallSeconds,
                retryAfter: response.status == 429 ? ResponseClassifier.retryAfter(response.headers) : nil,
                serviceDate: response.header("Date").flatMap(HTTPDate.parse))
        } catch {
            return ProbeResult(
                resource: resource.name, auth: auth, verdict: ResponseClassifier.classify(error), status: 0, timings: nil, finishedAt: clock.wallSeconds)
        }
    }
}
