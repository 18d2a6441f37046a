// Managed identity: Azure VM IMDS (with its documented retries), App Service, and Azure Arc.
import Config
import HTTPClient
import JSON
import Support

/// How IMDS is retried (AZURE_AUTH_FACTS.md §1): 404, 429 and 5xx with exponential backoff
/// (five attempts, about 0/2/6/14/30 s), 410 (IMDS updating) for at least 70 s.
public struct IMDSRetryPolicy: Sendable, Equatable {
    /// Waits before the 2nd, 3rd, ... attempt after a 404, 429 or 5xx.
    public var delays: [Double]
    /// How long 410 answers are retried, measured from the first one.
    public var goneBudget: Double
    /// The longest single wait while retrying 410.
    public var goneDelayCap: Double

    public static let documented = IMDSRetryPolicy(delays: [2, 4, 8, 16], goneBudget: 70, goneDelayCap: 16)
    /// A single attempt: for the default chain's availability probe.
    public static let none = IMDSRetryPolicy(delays: [], goneBudget: 0, goneDelayCap: 0)

    public init(delays: [Double], goneBudget: Double, goneDelayCap: Double) {
        self.delays = delays
        self.goneBudget = goneBudget
        self.goneDelayCap = goneDelayCap
    }
}

/// Gets tokens from the host's managed identity endpoint.
public struct ManagedIdentitySource: TokenSource {
    public let settings: ManagedIdentitySettings
    public var retryPolicy: IMDSRetryPolicy

    public init(settings: ManagedIdentitySettings, retryPolicy: IMDSRetryPolicy = .documented) {
        self.settings = settings
        self.retryPolicy = retryPolicy
    }

    /// The request for this kind of endpoint, with the identity selector as its query parameter.
    func request(timeoutSeconds: Double, authorization: String? = nil) -> HTTPClientRequest {
        var query: [(String, String)]
        var headers: [(name: String, value: String)]
        switch settings.kind {
        case .appService:
            query = [("api-version", "2019-08-01"), ("resource", settings.resource)]
            headers = [("X-IDENTITY-HEADER", settings.identityHeader?.exposedValue ?? "")]
        case .arc:
            query = [("api-version", "2020-06-01"), ("resource", settings.resource)]
            headers = [("Metadata", "true")]
        case .imds, .auto:
            query = [("api-version", "2018-02-01"), ("resource", settings.resource)]
            headers = [("Metadata", "true")]
        }
        switch settings.selector {
        case .systemAssigned: break
        case .clientID(let id): query.append(("client_id", id))
        case .objectID(let id): query.append(("object_id", id))
        case .resourceID(let id): query.append((settings.kind == .appService ? "mi_res_id" : "msi_res_id", id))
        }
        if let authorization { headers.append(("Authorization", authorization)) }
        let url = settings.endpoint + "?" + query.map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&")
        return HTTPClientRequest(url: url, headers: headers, timeoutSeconds: timeoutSeconds)
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        switch settings.kind {
        case .arc: return try await acquireFromArc(context)
        case .appService: return try parse(try await send(request(timeoutSeconds: context.timeoutSeconds), context), context)
        case .imds, .auto: return try await acquireFromIMDS(context)
        }
    }

    private func send(_ request: HTTPClientRequest, _ context: AcquisitionContext) async throws(TokenAcquisitionError) -> HTTPClientResponse {
        do {
            return try await context.client.execute(request)
        } catch {
            throw .transport(error)
        }
    }

    /// IMDS with its retries; the clock's sleep makes them testable without waiting.
    private func acquireFromIMDS(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        let start = context.clock.monotonicSeconds
        var retries = 0
        var goneDelay = 1.0
        while true {
            let response = try await send(request(timeoutSeconds: context.timeoutSeconds), context)
            let status = response.status
            let wait: Double
            if status == 410 {
                let elapsed = context.clock.monotonicSeconds - start
                guard elapsed < retryPolicy.goneBudget else {
                    throw .imdsUnavailable("IMDS answered 410 (updating) for \(Int(elapsed)) s")
                }
                goneDelay = min(goneDelay * 2, retryPolicy.goneDelayCap)
                wait = min(goneDelay, max(0.01, retryPolicy.goneBudget - elapsed))
            } else if status == 404 || status == 429 || (500..<600).contains(status) {
                guard retries < retryPolicy.delays.count else {
                    throw .imdsUnavailable("IMDS answered \(status) after \(retries + 1) attempts")
                }
                wait = retryPolicy.delays[retries]
                retries += 1
            } else {
                return try parse(response, context)
            }
            do {
                try await context.clock.sleep(untilMonotonic: context.clock.monotonicSeconds + wait)
            } catch {
                throw .transport(.cancelled)
            }
        }
    }

    /// Arc: a 401 challenge names a key file; its content is the Basic credential of the retry.
    private func acquireFromArc(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        guard settings.selector == .systemAssigned else {
            throw .unavailable("Azure Arc supports only the system-assigned identity; remove client_id, object_id and resource_id")
        }
        let challenge = try await send(request(timeoutSeconds: context.timeoutSeconds), context)
        guard challenge.status == 401 else { return try parse(challenge, context) }
        let prefix = "Basic realm="
        guard let header = challenge.header("WWW-Authenticate"), header.hasPrefix(prefix) else {
            throw .badResponse(status: 401, detail: "Arc's 401 has no WWW-Authenticate: Basic realm= challenge")
        }
        let path = String(header.dropFirst(prefix.count).filter { $0 != "\"" })
        let key = try readArcKey(path)
        let response = try await send(request(timeoutSeconds: context.timeoutSeconds, authorization: "Basic \(key)"), context)
        return try parse(response, context)
    }

    /// The challenge file, after the checks azure-identity makes: inside the key directory, a
    /// `.key` file, at most 4096 bytes.
    func readArcKey(_ path: String) throws(TokenAcquisitionError) -> String {
        let components = path.split(separator: "/")
        guard path.hasPrefix(settings.arcKeyDirectory), !components.contains(".."), path.hasSuffix(".key") else {
            throw .unavailable("Arc's challenge names \(path), which is not a .key file in \(settings.arcKeyDirectory)")
        }
        do {
            let bytes = try FileIO.readBytes(path, limit: 4096)
            return String(decoding: bytes, as: UTF8.self).trimmingTrailingWhitespace()
        } catch {
            throw .unavailable("cannot read Arc's key file \(path): \(error)")
        }
    }

    /// The error a managed-identity endpoint's refusal means: Entra ID's own error where the
    /// endpoint relays one (an AADSTS code, such as 500011 for a mistyped resource), otherwise its
    /// description (IMDS and App Service word it differently), whole but bounded.
    public static func error(status: Int, body: [UInt8]) -> TokenAcquisitionError {
        let json = JSONValue.parse(body)
        if let json, json["error_description"]?.stringValue?.hasPrefix("AADSTS") == true {
            return TokenResponse.rejection(status: status, json: json)
        }
        let detail =
            json?["error_description"]?.stringValue ?? json?["error"]?["message"]?.stringValue ?? json?["message"]?.stringValue
            ?? json?["Message"]?.stringValue ?? json?["error"]?.stringValue ?? "HTTP \(status)"
        return .managedIdentity(status: status, detail: TokenResponse.summary(of: detail))
    }

    /// A token, or the endpoint's error. Tokens of two hours or more without `refresh_in` are
    /// refreshed at half their life, as MSAL does for managed identities.
    private func parse(_ response: HTTPClientResponse, _ context: AcquisitionContext) throws(TokenAcquisitionError) -> CachedToken {
        let now = context.clock.wallSeconds
        guard (200..<300).contains(response.status) else {
            throw Self.error(status: response.status, body: response.body)
        }
        var token = try TokenResponse.parse(status: response.status, body: response.body, now: now)
        if token.refreshOn == nil, token.lifetime >= 7200 {
            token.refreshOn = now + token.lifetime / 2
        }
        token.source = "managed_identity"
        return token
    }
}
