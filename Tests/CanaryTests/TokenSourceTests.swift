// The sources' own logic against small loopback peers: IMDS retries, Arc's checks, assertions, file re-reads.
import CanaryTestSupport
import Crypto
import Foundation
import HTTPClient
import HTTPServer
import JSON
import Testing

@testable import Auth
@testable import Config
@testable import Support

/// A loopback server that answers from a script of responses, then repeats the last.
final class ScriptedServer: Sendable {
    let server: HTTPServer
    private let requests = Locked<[HTTPRequest]>([])

    init(_ script: [HTTPResponse]) throws {
        let remaining = Locked(script)
        let seen = requests
        server = try HTTPServer(host: "127.0.0.1", port: 0) { request in
            seen.withLock { $0.append(request) }
            return remaining.withLock { list in list.count > 1 ? list.removeFirst() : list[0] }
        }
    }

    var url: String { "http://127.0.0.1:\(server.boundAddress.port)/metadata/identity/oauth2/token" }
    var received: [HTTPRequest] { requests.value }
}

func tokenBody(expiresIn: String = "86399") -> String {
    #"{"access_token":"a.eyJvaWQiOiJtaSJ9.c","refresh_token":"","expires_in":"\#(expiresIn)","expires_on":"1","not_before":"1","#
        + #""resource":"https://cognitiveservices.azure.com","token_type":"Bearer"}"#
}

/// A clock whose sleeps return at once, moving its time to the deadline: retry schedules run in
/// full, deterministically, without waiting.
final class FastForwardClock: CanaryClock {
    private let state = Locked((wall: 1_800_000_000.0, monotonic: 1000.0))
    var wallSeconds: Double { state.value.wall }
    var monotonicSeconds: Double { state.value.monotonic }
    func sleep(untilMonotonic deadline: Double) async throws {
        state.withLock { now in
            if deadline > now.monotonic {
                now.wall += deadline - now.monotonic
                now.monotonic = deadline
            }
        }
    }
}

@Suite struct TokenSourceTests {
    let client = HTTPClient()
    let fast = IMDSRetryPolicy(delays: [0.01, 0.01, 0.01, 0.01], goneBudget: 0.3, goneDelayCap: 0.05)

    func context(timeout: Double = 2) -> AcquisitionContext {
        AcquisitionContext(client: client, clock: SystemClock(), timeoutSeconds: timeout)
    }

    func imds(_ server: ScriptedServer, selector: ManagedIdentitySelector = .systemAssigned, kind: ManagedIdentityKind = .imds, directory: String = "/tmp/")
        -> ManagedIdentitySource
    {
        ManagedIdentitySource(
            settings: ManagedIdentitySettings(
                kind: kind, selector: selector, endpoint: server.url, identityHeader: Secret("hdr"), scope: CredentialDefaults.scope, arcKeyDirectory: directory
            ), retryPolicy: fast)
    }

    @Test func imdsRetries5xxAnd429ThenSucceeds() async throws {
        let server = try ScriptedServer([
            HTTPResponse(status: 500), HTTPResponse(status: 429), HTTPResponse(status: 404),
            HTTPResponse(status: 200, contentType: "application/json", body: tokenBody()),
        ])
        let token = try await imds(server, selector: .clientID("cid")).acquireToken(context())
        #expect(server.received.count == 4)
        let first = try #require(server.received.first)
        #expect(first.header("Metadata") == "true")
        #expect(first.queryValue("api-version") == "2018-02-01")
        #expect(first.queryValue("resource") == "https://cognitiveservices.azure.com")
        #expect(first.queryValue("client_id") == "cid")
        #expect(token.lifetime == 86399)
        #expect(token.refreshOn == token.acquiredAt + 86399 / 2)  // half the life: two hours or more, no refresh_in
    }

    @Test func imdsGivesUpAfterTheDocumentedRetries() async throws {
        let server = try ScriptedServer([HTTPResponse(status: 503)])
        let clock = FastForwardClock()
        let start = clock.monotonicSeconds
        var source = imds(server)
        source.retryPolicy = .documented
        await #expect(throws: TokenAcquisitionError.imdsUnavailable("IMDS answered 503 after 5 attempts")) {
            _ = try await source.acquireToken(AcquisitionContext(client: client, clock: clock, timeoutSeconds: 2))
        }
        #expect(server.received.count == 5)
        #expect(clock.monotonicSeconds - start == 30)  // waits of 2, 4, 8 and 16 s: attempts at about 0/2/6/14/30 s
    }

    @Test func imds410IsRetriedForAtLeastSeventySeconds() async throws {
        let server = try ScriptedServer([HTTPResponse(status: 410)])
        let clock = FastForwardClock()
        let start = clock.monotonicSeconds
        var source = imds(server)
        source.retryPolicy = .documented
        await #expect {
            _ = try await source.acquireToken(AcquisitionContext(client: client, clock: clock, timeoutSeconds: 2))
        } throws: { error in
            guard case .imdsUnavailable(let detail) = error as? TokenAcquisitionError else { return false }
            return detail.contains("410")
        }
        #expect(clock.monotonicSeconds - start >= 70)
        #expect(server.received.count > 5)  // more than the 5xx budget: 410 is retried by time
    }

    @Test func imdsRecoversWhenThe410sStop() async throws {
        let server = try ScriptedServer(
            Array(repeating: HTTPResponse(status: 410), count: 6) + [HTTPResponse(status: 200, contentType: "application/json", body: tokenBody())])
        let clock = FastForwardClock()
        var source = imds(server)
        source.retryPolicy = .documented
        _ = try await source.acquireToken(AcquisitionContext(client: client, clock: clock, timeoutSeconds: 2))
        #expect(server.received.count == 7)
    }

    @Test func shortManagedIdentityTokensKeepTheFiveMinuteRule() async throws {
        let server = try ScriptedServer([HTTPResponse(status: 200, contentType: "application/json", body: tokenBody(expiresIn: "3600"))])
        let token = try await imds(server).acquireToken(context())
        #expect(token.refreshOn == nil)
        #expect(token.refreshAt == token.expiresOn - 300)
    }

    @Test func noIdentityIsA400() async throws {
        let server = try ScriptedServer([
            HTTPResponse(status: 400, contentType: "application/json", body: #"{"error":"invalid_request","error_description":"Identity not found"}"#)
        ])
        await #expect(throws: TokenAcquisitionError.managedIdentity(status: 400, detail: "Identity not found")) {
            _ = try await imds(server, selector: .objectID("nobody")).acquireToken(context())
        }
        #expect(server.received.first?.queryValue("object_id") == "nobody")
    }

    @Test func appServiceSendsItsHeaderAndVersion() async throws {
        let body = #"{"access_token":"x.y.z","expires_on":"\#(Int(Date().timeIntervalSince1970) + 3600)","resource":"r","token_type":"Bearer","client_id":"c"}"#
        let server = try ScriptedServer([HTTPResponse(status: 200, contentType: "application/json", body: body)])
        let token = try await imds(server, selector: .resourceID("/sub/x"), kind: .appService).acquireToken(context())
        let request = try #require(server.received.first)
        #expect(request.header("X-IDENTITY-HEADER") == "hdr")
        #expect(request.queryValue("api-version") == "2019-08-01")
        #expect(request.queryValue("mi_res_id") == "/sub/x")
        #expect(token.expiresOn > Date().timeIntervalSince1970 + 3500)
    }

    @Test func arcRefusesChallengeFilesOutsideItsDirectory() async throws {
        let directory = NSTemporaryDirectory() + "arc-" + UUID().uuidString + "/"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "k".write(toFile: directory + "big.key", atomically: true, encoding: .utf8)
        try String(repeating: "x", count: 5000).write(toFile: directory + "huge.key", atomically: true, encoding: .utf8)
        let source = try imds(ScriptedServer([HTTPResponse(status: 500)]), kind: .arc, directory: directory)
        for bad in ["/etc/passwd", directory + "../x.key", directory + "a.txt", directory + "huge.key"] {
            #expect(throws: TokenAcquisitionError.self) { _ = try source.readArcKey(bad) }
        }
        #expect(try source.readArcKey(directory + "big.key") == "k")
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func certificateAssertionsCarryTheDocumentedClaimsAndVerify(algorithm: SignatureAlgorithm) throws {
        let pem = Array(try Data(contentsOf: URL(fileURLWithPath: fixturesDirectory + "/certs/app-combined.pem")))
        let certificate = try Certificate(pem: pem)
        let settings = ClientCertificateSettings(
            tenantID: "t", clientID: "cid", certificate: certificate, certificatePath: "app-combined.pem", privateKey: try PrivateKey(pem: pem),
            privateKeyPath: nil,
            algorithm: algorithm, scope: CredentialDefaults.scope, authority: "https://login.example")
        let jwt = try ClientCertificateSource(settings: settings).assertion(audience: "https://login.example/t/oauth2/v2.0/token", now: 1000)
        let parts = jwt.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let headerBytes = try #require(base64URLDecode(parts[0][...]))
        let payloadBytes = try #require(base64URLDecode(parts[1][...]))
        let header = try #require(JSONValue.parse(headerBytes))
        let payload = try #require(JSONValue.parse(payloadBytes))
        #expect(header["alg"]?.stringValue == algorithm.rawValue)
        #expect(header["typ"]?.stringValue == "JWT")
        if algorithm == .rs256 {
            #expect(header["x5t"]?.stringValue == JWTEncoding.base64URL(certificate.sha1Thumbprint))
        } else {
            #expect(header["x5t#S256"]?.stringValue == JWTEncoding.base64URL(certificate.sha256Thumbprint))
        }
        #expect(payload["aud"]?.stringValue == "https://login.example/t/oauth2/v2.0/token")
        #expect(payload["iss"]?.stringValue == "cid" && payload["sub"]?.stringValue == "cid")
        #expect(payload["nbf"]?.numberValue == 1000 && payload["exp"]?.numberValue == 2800)
        #expect(payload["jti"]?.stringValue?.count == 36)
        let signature = try #require(base64URLDecode(parts[2][...]))
        #expect(try certificate.publicKey().verify(signature, of: Array((parts[0] + "." + parts[1]).utf8), algorithm: algorithm))
    }

    @Test func theFederatedTokenFileIsReReadWhenItChangesOrAges() throws {
        let path = NSTemporaryDirectory() + "federated-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        try makeJWT(#"{"exp":2000,"sub":"system:serviceaccount:ns:sa"}"#).write(toFile: path, atomically: true, encoding: .utf8)
        let source = WorkloadIdentitySource(
            settings: WorkloadIdentitySettings(tenantID: "t", clientID: "c", tokenFile: path, scope: CredentialDefaults.scope, authority: "https://x"))
        let first = try source.federatedToken(now: 100)
        #expect(source.credentialExpiries() == [CredentialExpiry(kind: "federated_token", timestamp: 2000, source: "token_file")])
        #expect(try source.federatedToken(now: 200) == first)
        // kubelet rotates the file (atomically: a new inode)
        try makeJWT(#"{"exp":3000}"#).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try source.federatedToken(now: 300) != first)
        #expect(source.credentialExpiries() == [CredentialExpiry(kind: "federated_token", timestamp: 3000, source: "token_file")])
        // unchanged but old: read again
        let second = try source.federatedToken(now: 300)
        try FileManager.default.removeItem(atPath: path)
        #expect(try source.federatedToken(now: 800) == second)  // within 600 s: memory, though the file is gone
        #expect(throws: TokenAcquisitionError.self) { _ = try source.federatedToken(now: 901) }
    }
}
