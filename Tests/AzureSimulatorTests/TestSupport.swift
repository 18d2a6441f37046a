// Shared fixtures for the simulator tests: a settable clock, a seeded world, and calls through the real client.
import AzureSimulator
import FoundationEssentials
import HTTPClient
import Synchronization

/// One libcurl client for every test, as the canary shares one.
let client = HTTPClient()

/// A clock the test advances by hand.
final class TestClock: Sendable {
    private let value: Mutex<Double>

    init(_ start: Double = 1_750_000_000) { value = Mutex(start) }

    var now: Double { value.withLock { $0 } }

    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

/// How a data-plane call authenticates.
enum Auth {
    case key(String)
    case bearer(String)
    case none

    var headers: [(name: String, value: String)] {
        switch self {
        case .key(let key): return [("api-key", key)]
        case .bearer(let token): return [("Authorization", "Bearer \(token)")]
        case .none: return []
        }
    }
}

// swift-format-ignore: AlwaysUseLowerCamelCase
/// The token endpoint's success body, by the wire's snake_case names.
struct TokenBody: Decodable {
    var token_type: String
    var expires_in: Int
    var ext_expires_in: Int
    var access_token: String
    var refresh_in: Int?
}

// swift-format-ignore: AlwaysUseLowerCamelCase
/// The token endpoint's error body, by the wire's snake_case names.
struct EntraErrorBody: Decodable {
    var error: String
    var error_description: String
    var error_codes: [Int]
    var timestamp: String
    var trace_id: String
    var correlation_id: String
    var error_uri: String
}

// swift-format-ignore: AlwaysUseLowerCamelCase
/// The claims tests read back from an issued token.
struct Claims: Decodable {
    var aud: String
    var iss: String
    var iat: Int
    var nbf: Int
    var exp: Int
    var tid: String
    var oid: String
    var sub: String
    var appid: String?
    var azp: String?
    var ver: String
    var roles: [String]?
    var uti: String
    var xms_mirid: String?
}

/// A simulator with one tenant, one application and one resource, on a test clock.
struct World {
    static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let otherTenant = "11111111-2222-3333-4444-555555555555"
    static let clientID = "0d5c2e1a-7b6f-4c2b-9a51-3c6e8d4f1a20"
    static let secret = "s3cr3t~value+with/odd=chars&more"
    static let objectID = "9f8e7d6c-5b4a-3210-fedc-ba9876543210"
    static let resource = "canary-eastus"
    static let apiKey = "0123456789abcdef0123456789abcdef"
    static let deployment = "gpt-4o-mini"
    static let cognitiveScope = "https://cognitiveservices.azure.com/.default"

    let simulator: AzureSimulator
    let clock: TestClock

    init(roleGranted: Bool = true, clock: TestClock = TestClock()) throws {
        self.clock = clock
        simulator = try AzureSimulator(now: { clock.now })
        simulator.addApplication(SimulatedApplication(tenantID: Self.tenant, clientID: Self.clientID, clientSecret: Self.secret, objectID: Self.objectID))
        simulator.addResource(SimulatedResource(name: Self.resource, tenantID: Self.tenant, apiKey: Self.apiKey, deployments: [Self.deployment]))
        if roleGranted { simulator.grantRole(resource: Self.resource, objectID: Self.objectID) }
    }

    /// A world around a simulator the test built itself (to pass other init arguments).
    init(simulator: AzureSimulator, clock: TestClock) {
        self.simulator = simulator
        self.clock = clock
    }

    /// A raw token request.
    func requestToken(tenant: String = World.tenant, fields: [(String, String)], timeout: Double = 5) async throws -> HTTPClientResponse {
        try await client.execute(
            HTTPClientRequest(
                method: "POST",
                url: "\(simulator.authority)/\(tenant)/oauth2/v2.0/token",
                headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array(formEncode(fields).utf8),
                timeoutSeconds: timeout))
    }

    /// A client-credentials token request with a secret.
    func requestToken(
        tenant: String = World.tenant, clientID: String = World.clientID, secret: String = World.secret,
        scope: String = World.cognitiveScope, timeout: Double = 5
    ) async throws -> HTTPClientResponse {
        try await requestToken(
            tenant: tenant,
            fields: [
                ("grant_type", "client_credentials"), ("client_id", clientID), ("client_secret", secret), ("scope", scope),
            ], timeout: timeout)
    }

    /// An access token, failing the test's `try` when none is issued.
    func token(
        tenant: String = World.tenant, clientID: String = World.clientID, secret: String = World.secret,
        scope: String = World.cognitiveScope
    ) async throws -> String {
        let response = try await requestToken(tenant: tenant, clientID: clientID, secret: secret, scope: scope)
        guard response.status == 200 else { throw TestFailure.unexpectedStatus(response.status, response.text) }
        return try JSONDecoder().decode(TokenBody.self, from: Data(response.body)).access_token
    }

    /// A one-token chat completion.
    func chat(_ auth: Auth, resource: String = World.resource, deployment: String = World.deployment, timeout: Double = 5) async throws -> HTTPClientResponse {
        try await client.execute(
            HTTPClientRequest(
                method: "POST",
                url: "\(simulator.endpoint(for: resource))openai/deployments/\(deployment)/chat/completions?api-version=2024-10-21",
                headers: [("Content-Type", "application/json")] + auth.headers,
                body: Array(#"{"messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#.utf8),
                timeoutSeconds: timeout))
    }

    /// The models list.
    func models(_ auth: Auth, path: String = "openai/models?api-version=2024-10-21") async throws -> HTTPClientResponse {
        try await client.execute(HTTPClientRequest(url: simulator.endpoint(for: World.resource) + path, headers: auth.headers))
    }

    /// A client-credentials token request with a client assertion instead of a secret.
    func requestToken(assertion: String, tenant: String = World.tenant, clientID: String = World.clientID) async throws -> HTTPClientResponse {
        try await requestToken(
            tenant: tenant,
            fields: [
                ("grant_type", "client_credentials"), ("client_id", clientID), ("scope", World.cognitiveScope),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
    }

    /// A call to the admin API.
    func admin(_ method: String, _ path: String, _ body: String? = nil) async throws -> HTTPClientResponse {
        try await client.execute(
            HTTPClientRequest(
                method: method, url: "\(simulator.authority)/_simulator/\(path)",
                headers: body == nil ? [] : [("Content-Type", "application/json")],
                body: body.map { Array($0.utf8) }))
    }
}

/// Failures the helpers raise.
enum TestFailure: Error, CustomStringConvertible {
    /// A call answered with a status the helper did not expect.
    case unexpectedStatus(Int, String)
    /// A token that is not three base64url segments of JSON.
    case undecodableToken

    var description: String {
        switch self {
        case .unexpectedStatus(let status, let body): return "unexpected status \(status): \(body)"
        case .undecodableToken: return "the token does not decode"
        }
    }
}

extension HTTPClientResponse {
    /// The body as UTF-8 text.
    var text: String { String(decoding: body, as: UTF8.self) }

    /// How many headers have this name, compared case-insensitively.
    func headerCount(_ name: String) -> Int { headers.filter { $0.name.lowercased() == name.lowercased() }.count }
}

/// `application/x-www-form-urlencoded`, escaping everything but the unreserved characters.
func formEncode(_ fields: [(String, String)]) -> String {
    func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: " "):
                out.append("+")
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }
    return fields.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
}

/// The JSON of one JWT segment.
func jwtSegment(_ token: String, _ index: Int) throws -> Data {
    let segments = token.split(separator: ".", omittingEmptySubsequences: false)
    guard segments.count == 3 else { throw TestFailure.undecodableToken }
    var text = String(segments[index].map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
    while text.count % 4 != 0 { text += "=" }
    guard let data = Data(base64Encoded: text) else { throw TestFailure.undecodableToken }
    return data
}

/// The claims of a token.
func claims(of token: String) throws -> Claims {
    try JSONDecoder().decode(Claims.self, from: jwtSegment(token, 1))
}

/// The exact §3 bodies of AZURE_AUTH_FACTS.md, as the simulator must send them.
enum Expected {
    static let invalidKey =
        #"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "#
        + #"active subscription and use a correct regional API endpoint for your resource."}}"#
    static let invalidToken =
        #"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have "#
        + #"expired."}"#
    static let wrongTenant =
        #"{"error":{"code":"Tenant provided in token does not match resource token","message":"Token tenant 11111111-2222-3333-4444-555555555555 does not "#
        + #"match resource tenant."}}"#
    static let localAuthDisabled = #"{"error":{"code":"AuthenticationTypeDisabled","message": "Key based authentication is disabled for this resource."}}"#
    static let regional = #"{"error":{"code":"BadRequest","message": "Please provide an authentication key."}}"#
    static let deploymentNotFound =
        #"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last "#
        + #"5 minutes, please wait a moment and try again."}}"#
    static let resourceNotFound = #"{"error":{"code":"404","message": "Resource not found"}}"#
    static let throttled = #"{"error":{"code":"429","message": "Rate limit is exceeded. Try again in 2 seconds."}}"#
    static let networkDenied = #"{"error":{"code":"403","message": "Access denied due to Virtual Network/Firewall rules."}}"#

    static func permissionDenied(_ objectID: String) -> String {
        #"{"error":{"code":"PermissionDenied","message":"The principal `"# + objectID
            + #"` lacks the required data action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform `POST "#
            + #"/openai/deployments/{deployment-id}/chat/completions` operation."}}"#
    }
}
