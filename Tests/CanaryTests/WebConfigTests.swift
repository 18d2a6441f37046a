// The web configuration (exporter-toolkit format) and the door it sets up: certificate policies,
// basic auth with bcrypt through libcrypt, and the errors a user sees for a wrong file.
import CanaryTestSupport
import Foundation
import HTTPServer
import Testing

@testable import Config
@testable import Endpoint
@testable import Support

@Suite struct WebConfigTests {
    let certificates = fixturesDirectory + "/certs"
    static let hash = "$2b$10$QAo7yuDT4OEp1/GOsrvy1uOowfUTQcfEXLNf1Gjj4liT0a.2BBYEK"  // "scrape-secret"

    func decode(_ text: String) throws(ConfigErrors) -> WebConfig {
        try WebConfigLoader.decode(text, file: "web.yml", directory: certificates)
    }

    func messages(_ text: String) -> [String] {
        do {
            _ = try decode(text)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func anEmptyFileMeansPlainHTTPWithoutAuth() throws {
        let config = try decode("")
        #expect(config.tls == nil)
        #expect(config.users.isEmpty)
    }

    @Test func relativeFilesResolveAgainstTheFilesFolder() throws {
        let config = try decode(
            """
            tls_server_config:
              cert_file: app.pem
              key_file: \(certificates)/app.key
              client_ca_file: other.pem
              client_auth_type: VerifyClientCertIfGiven
              min_version: TLS13
            http_server_config:
              http2: true
            basic_auth_users:
              prometheus: \(Self.hash)
            """)
        let tls = try #require(config.tls)
        #expect(tls.certificateChainPEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(tls.clientAuth == .verifyClientCertIfGiven)
        #expect(tls.priorities == "NORMAL:-VERS-ALL:+VERS-TLS1.3")
        #expect(tls.certificateNotAfter != nil)
        #expect(config.users == ["prometheus": Self.hash])
        #expect("\(tls.privateKeyPEM)" == "<redacted>")
    }

    @Test func theDefaultVersionsAreTLS12AndTLS13() throws {
        let tls = try #require(try decode("tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n").tls)
        #expect(tls.priorities == "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2")
        #expect(tls.clientAuth == .noClientCert)
    }

    @Test func requireClientCertIsTheOlderNameOfRequireAny() throws {
        let tls = try #require(
            try decode("tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n  client_ca_file: other.pem\n  client_auth_type: RequireClientCert\n")
                .tls)
        #expect(tls.clientAuth == .requireAnyClientCert)
    }

    @Test(arguments: [
        ("tls_server_config:\n  cert_file: app.pem\n", "web.yml:2:3: tls_server_config.key_file: missing key_file (or key)"),
        (
            "tls_server_config:\n  cert_file: app.pem\n  key_file: other.key\n",
            "web.yml:3:13: tls_server_config.key_file: the private key does not belong to the certificate"
        ),
        ("tls_server_config:\n  cert_file: missing.pem\n  key_file: app.key\n", "web.yml:2:14: tls_server_config.cert_file: cannot read"),
        ("tls_server_config:\n  cert_file: app.key\n  key_file: app.key\n", "web.yml:2:14: tls_server_config.cert_file: not a PEM certificate"),
        (
            "tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n  client_ca_file: other.pem\n",
            "web.yml:2:3: tls_server_config.client_auth_type: client CAs are configured without a client_auth_type"
        ),
        (
            "tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n  client_auth_type: RequireAndVerifyClientCert\n",
            "web.yml:4:21: tls_server_config.client_auth_type: RequireAndVerifyClientCert needs client_ca_file"
        ),
        (
            "tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n  client_auth_type: Always\n",
            "web.yml:4:21: tls_server_config.client_auth_type: invalid value \"Always\""
        ),
        (
            "tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n  min_version: TLS13\n  max_version: TLS12\n",
            "min_version TLS13 is above max_version TLS12"
        ),
        (
            "tls_server_config:\n  cert_file: app.pem\n  key_file: app.key\n  curve_preferences: [X25519]\n",
            "web.yml:4:22: tls_server_config.curve_preferences: not supported by aoai-canary"
        ),
        ("tls_server_config:\n  certfile: app.pem\n", "web.yml:2:3: tls_server_config.certfile: unknown key \"certfile\""),
        ("basic_auth_users:\n  prometheus: hunter2\n", "web.yml:2:15: basic_auth_users.prometheus: expected a bcrypt hash"),
        ("basic_auth_users:\n  prometheus: $2b$10$short\n", "web.yml:2:15: basic_auth_users.prometheus: libcrypt cannot read this bcrypt hash"),
        ("basic_auth_users:\n  \"a:b\": \(hash)\n", "web.yml:2:3: basic_auth_users: a user name must be a non-empty string without \":\""),
        ("basic_auth_users: [prometheus]\n", "web.yml:1:19: basic_auth_users: expected a mapping"),
        ("rate_limit:\n  burst: 1\n", "web.yml:2:3: rate_limit: not supported by aoai-canary"),
        ("tls_server_config: [\n", "web.yml:2:1: YAML syntax error"),
    ])
    func mistakesAreNamedWithTheirPlace(text: String, expected: String) {
        let found = messages(text)
        #expect(found.contains { $0.hasPrefix(expected) || $0.contains(expected) }, "\(found)")
        #expect(!found.joined().contains("hunter2"), "a pasted password is not repeated")
    }

    @Test func certificatePoliciesFollowTheExporterToolkit() {
        let allowed: [(WebConfig.ClientAuth, [ClientCertificate])] = [
            (.noClientCert, [.none, .verified, .unverified]),
            (.requestClientCert, [.none, .verified, .unverified]),
            (.requireAnyClientCert, [.verified, .unverified]),
            (.verifyClientCertIfGiven, [.none, .verified]),
            (.requireAndVerifyClientCert, [.verified]),
        ]
        for (policy, accepted) in allowed {
            for certificate in [ClientCertificate.none, .verified, .unverified] {
                #expect((policy.refusal(for: certificate) == nil) == accepted.contains(certificate), "\(policy) with \(certificate)")
            }
        }
    }

    func request(authorization: String?) -> HTTPRequest {
        HTTPRequest(method: "GET", path: "/metrics", headers: authorization.map { [("Authorization", $0)] } ?? [])
    }

    func basic(_ credentials: String) -> String { "Basic " + Data(credentials.utf8).base64EncodedString() }

    @Test func basicAuthChecksTheBcryptHash() {
        let door = WebGuard(config: WebConfig(users: ["prometheus": Self.hash]))
        #expect(door.check(request(authorization: basic("prometheus:scrape-secret"))) == nil)
        #expect(door.check(request(authorization: basic("prometheus:scrape-secret"))) == nil, "a second time, from the cache")
        for wrong in [
            nil, basic("prometheus:scrape-secreT"), basic("prometheus:"), basic("other:scrape-secret"), basic("prometheus"), "Bearer x", "Basic !!!notbase64",
        ] {
            let answer = door.check(request(authorization: wrong))
            #expect(answer?.status == 401, "\(wrong ?? "no header")")
            #expect(answer?.headers.contains { $0.name == "WWW-Authenticate" && $0.value == "Basic" } == true)
        }
        #expect(WebGuard(config: WebConfig()).check(request(authorization: nil)) == nil, "no users: no basic auth")
    }

    @Test func aPasswordMayContainColons() {
        #expect(WebGuard.basicCredentials(basic("u:a:b")).map { [$0.0, String(decoding: $0.1, as: UTF8.self)] } == ["u", "a:b"])
    }

    @Test func aPasswordIsHashedAsSentAndANULNeverEndsItEarly() {
        let door = WebGuard(config: WebConfig(users: ["prometheus": Self.hash]))
        #expect(door.check(request(authorization: basic("prometheus:scrape-secret\u{0}junk")))?.status == 401)
        let latin1 = "Basic " + Data(Array("prometheus:".utf8) + [0xE9]).base64EncodedString()  // not UTF-8
        #expect(door.check(request(authorization: latin1))?.status == 401)
        #expect(door.check(request(authorization: basic("prometheus:scrape-secret"))) == nil)
    }

    /// Issue 17, item 13: a flood of wrong passwords no longer locks a scraper that is not yet
    /// remembered out with 429: its check waits its turn (parked), and is answered.
    @Test func aFloodOfWrongPasswordsDoesNotLockOutANewScraper() async {
        let door = WebGuard(config: WebConfig(users: ["prometheus": Self.hash]))
        let next: @Sendable (HTTPRequest) -> HTTPResponse = { _ in HTTPResponse(status: 200, contentType: "text/plain", body: "ok\n") }
        let wrong = Locked<[Int]>([])
        for index in 0..<12 {
            let answer = door.handle(request(authorization: basic("prometheus:wrong-\(index)")), next: next)
            answer.deferred?.start { reply in wrong.withLock { $0.append(reply.status) } }
        }
        let right = door.handle(request(authorization: basic("prometheus:scrape-secret")), next: next)
        let status = await withCheckedContinuation { continuation in
            if let deferred = right.deferred {
                deferred.start { continuation.resume(returning: $0.status) }
            } else {
                continuation.resume(returning: right.status)
            }
        }
        #expect(status == 200, "the right password behind 12 wrong ones: \(status)")
        #expect(wrong.value.count == 12 && wrong.value.allSatisfy { $0 == 401 })
        // The same wrong password again is refused at once, without bcrypt.
        #expect(door.handle(request(authorization: basic("prometheus:wrong-0")), next: next).status == 401)
    }

    /// Item 13: a user with a cheaper hash takes as long to refuse as an unknown one, whose check
    /// runs against the most expensive configured hash (cost 12 against 4 here: 256 times).
    @Test func aCheaperHashCannotBeToldApartByTiming() {
        let cheap = "$2b$04$ru9IF5uy5MwNf/PHQYLOJeW9ABJYEasvYVvUX0/mX4W8zqMTJwVSe"  // "cheap-secret"
        let dear = "$2b$12$78twW1iOLZHOS9qhC6w6MefaxgFb8y7.lw7k.eBbhXhgfupWi3rBS"  // "dear-secret"
        let door = WebGuard(config: WebConfig(users: ["cheap": cheap, "dear": dear]))
        func seconds(_ credentials: String) -> Double {
            let start = SystemClock().monotonicSeconds
            _ = door.check(request(authorization: basic(credentials)))
            return SystemClock().monotonicSeconds - start
        }
        _ = seconds("nobody:warm-up")
        let unknown = seconds("nobody:guess-1")
        let cheapUser = seconds("cheap:guess-1")
        #expect(door.check(request(authorization: basic("cheap:cheap-secret"))) == nil)
        // Unpadded, the cheap user's check is about 1/256 of the unknown one's.
        #expect(cheapUser > unknown * 0.5, "cheap user \(cheapUser) s, unknown user \(unknown) s")
    }
}
