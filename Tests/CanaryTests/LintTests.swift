// The configuration lint: each usual Entra ID mistake in an endpoint or scope is named, and only those.
import HTTPServer
import Testing

@testable import Auth
@testable import Config
@testable import Probe
@testable import Support

@Suite struct LintTests {
    @Test func eachMistakeIsNamedWithItsPlace() throws {
        let config = try ConfigLoader.load(path: fixturesDirectory + "/config/lint.yaml", variables: [:])
        // (git checks fixtures out 0644, so their secret files are left to the next test)
        let found = ConfigLint.warnings(config).filter { $0.check != .secretFileMode }.map { "\($0.line):\($0.column) \($0.resource) \($0.check.rawValue)" }
        #expect(
            found == [
                "16:15 regional regional_endpoint",
                "20:15 extra-path extra_path",
                "24:15 cleartext insecure_http",
                "28:15 wrong-cloud scope_cloud_mismatch",
                "32:15 arm-scope scope_cloud_mismatch",
                "40:15 foundry-project scope_cloud_mismatch",
            ])
    }

    /// An api_version no Azure OpenAI surface has is named; a published one, v1 and one newer
    /// than the list are not. Behind a gateway, a path and another audience are its nature.
    @Test func anUnpublishedVersionIsNamedAndAGatewaysPathIsNot() throws {
        let text = """
            credentials:
              app: {type: client_secret, tenant_id: t.example, client_id: c, client_secret_env: S, scope: "api://apim/.default"}
            resources:
              - {name: made-up, endpoint: "https://a.openai.azure.com/", probe: models, api_version: 1999-01-01, api_key_env: K}
              - {name: never, endpoint: "https://b.openai.azure.com/", probe: models, api_version: 2024-11-21, api_key_env: K}
              - {name: ga, endpoint: "https://c.openai.azure.com/", probe: models, api_version: 2024-10-21, api_key_env: K}
              - {name: newer, endpoint: "https://d.openai.azure.com/", probe: models, api_version: 2026-10-01-preview, api_key_env: K}
              - name: gateway
                endpoint: https://contoso.azure-api.net/openai-prod/
                probe: models
                credential: app
                gateway: {subscription_key_env: G, subscription_key_header: X-Api-Key, subscription_key_with_token: false}
            """
        let config = try ConfigLoader.decode(
            text, file: "versions.yaml", environment: ConfigEnvironment(variables: ["S": "s", "K": "k", "G": "g"], configDirectory: "/tmp"))
        let found = ConfigLint.warnings(config).map { "\($0.resource) \($0.check.rawValue)" }
        #expect(found == ["made-up unknown_api_version", "never unknown_api_version"])
        let gateway = try #require(config.resources.last?.gateway)
        #expect(gateway.subscriptionKey?.exposedValue == "g" && gateway.keyHeader == "X-Api-Key" && !gateway.keyWithToken)
        #expect(config.resources.last?.hasKeyCanary == true, "the subscription key is a key canary")
    }

    @Test func aGatewaysSettingsAreCheckedInPlace() throws {
        for (line, error) in [
            ("{subscription_key_header: \"Bad Header\"}", "resources[0].gateway.subscription_key_header: must be an HTTP header name"),
            ("{subscription_key_header: api-key}", "api-key is a header the canary sets itself"),
            ("{subscription_key_with_token: maybe}", "subscription_key_with_token: must be true or false"),
            ("{subscription_key_env: G, subscription_key_file: g.key}", "give either subscription_key_file or subscription_key_env, not both"),
            ("{subscription_key: g}", "unknown key"),
        ] {
            let text = "resources:\n  - {name: r, endpoint: \"https://contoso.azure-api.net/x/\", probe: models, api_key_env: K, gateway: \(line)}\n"
            #expect {
                _ = try ConfigLoader.decode(text, file: "g.yaml", environment: ConfigEnvironment(variables: ["K": "k", "G": "g"], configDirectory: "/tmp"))
            } throws: { thrown in
                "\(thrown)".contains(error)
            }
        }
    }

    @Test func secretFilesOthersCanReadAreNamedWithTheirMode() throws {
        let directory = "/tmp/aoai-canary-lint-\(UInt32.random(in: 0...UInt32.max))"
        try FileIO.makeDirectory(directory)
        try FileIO.write("key\n", to: directory + "/open.key", mode: 0o644)
        try FileIO.write("key\n", to: directory + "/closed.key", mode: 0o640)
        try FileIO.write("secret\n", to: directory + "/app.secret", mode: 0o604)
        let text = """
            credentials:
              app:
                type: client_secret
                tenant_id: t.example
                client_id: c
                client_secret_file: app.secret
            resources:
              - name: open
                endpoint: https://a.openai.azure.com/
                probe: models
                api_key_file: open.key
              - name: closed
                endpoint: https://b.openai.azure.com/
                probe: models
                api_key_file: closed.key
              - name: via-credential
                endpoint: https://c.openai.azure.com/
                probe: models
                credential: app
            """
        let config = try ConfigLoader.decode(text, file: "modes.yaml", environment: ConfigEnvironment(variables: [:], configDirectory: directory))
        let warnings = ConfigLint.warnings(config).filter { $0.check == .secretFileMode }
        #expect(warnings.map(\.resource) == ["open", "via-credential"])
        #expect(warnings.first?.message.contains("\(directory)/open.key is readable by others (mode 0644)") == true)
        #expect(warnings.last?.message.contains("\(directory)/app.secret is readable by others (mode 0604)") == true)
        // Each points at the key that names its file, not at the resource's endpoint.
        #expect(warnings.map { "\($0.line):\($0.column)" } == ["11:19", "6:25"])
    }

    /// The warning pointed at the resource's endpoint line, and was not given for a credential
    /// no resource uses.
    @Test func anUnusedCredentialsReadableSecretIsWarnedAboutAtItsFileKey() throws {
        let directory = "/tmp/aoai-canary-lint-\(UInt32.random(in: 0...UInt32.max))"
        try FileIO.makeDirectory(directory)
        try FileIO.write("secret\n", to: directory + "/spare.secret", mode: 0o644)
        let text = """
            credentials:
              spare:
                type: client_secret
                tenant_id: t.example
                client_id: c
                client_secret_file: spare.secret
            resources: []
            """
        let config = try ConfigLoader.decode(text, file: "spare.yaml", environment: ConfigEnvironment(variables: [:], configDirectory: directory))
        let warnings = ConfigLint.warnings(config)
        #expect(warnings.count == 1)
        #expect(warnings.first?.credential == "spare" && warnings.first?.check == .secretFileMode)
        #expect(warnings.first.map { "\($0.line):\($0.column)" } == "6:25")
        #expect(warnings.first?.description.hasPrefix("credential spare: the secret file") == true)
    }

    @Test(arguments: [
        ("https://contoso.openai.azure.com/", "https://cognitiveservices.azure.com"),
        ("https://contoso.cognitiveservices.azure.com/", "https://cognitiveservices.azure.com"),
        ("https://contoso.openai.azure.us/", "https://cognitiveservices.azure.us"),
        ("https://contoso.services.ai.azure.com/api/projects/p1/", "https://ai.azure.com"),
        ("http://r.openai.localhost:8080/", "https://cognitiveservices.azure.com"),
    ])
    func theAudienceFollowsTheEndpointsCloud(endpoint: String, audience: String) {
        #expect(EndpointAudience.expected(for: endpoint) == audience)
    }

    @Test func tokenRejectionsAreSplitByTheClaimsSent() {
        let rejected = ProbeVerdict.failure(.tokenRejected, Evidence(httpStatus: 401))
        let endpoint = "https://contoso.openai.azure.com/"
        func claims(aud: String = "https://cognitiveservices.azure.com/", nbf: Double = 100, exp: Double = 4000) -> TokenClaims {
            TokenClaims(audience: aud, notBefore: nbf, expiresAt: exp, roles: [])
        }
        #expect(
            TokenDiagnosis.refine(rejected, claims: claims(aud: "https://management.azure.com"), endpoint: endpoint, serviceTime: 200).reason
                == .tokenAudienceMismatch)
        #expect(TokenDiagnosis.refine(rejected, claims: claims(), endpoint: endpoint, serviceTime: 4000).reason == .tokenExpired)
        #expect(TokenDiagnosis.refine(rejected, claims: claims(), endpoint: endpoint, serviceTime: 99).reason == .tokenNotYetValid)
        #expect(TokenDiagnosis.refine(rejected, claims: claims(), endpoint: endpoint, serviceTime: 200).reason == .tokenRejected)
        #expect(TokenDiagnosis.refine(rejected, claims: nil, endpoint: endpoint, serviceTime: 200).reason == .tokenRejected)
    }

    @Test func httpDatesParse() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("") == nil)
    }
}

@Suite struct LoopbackLintTests {
    /// `http://127.evil.example/` skipped the insecure_http warning because its name starts with
    /// "127."; only addresses in 127.0.0.0/8, localhost names and [::1] are loopback.
    @Test(arguments: [
        ("http://127.evil.example/", true), ("http://127.0.0.1:8080/", false), ("http://127.1.2.3/", false),
        ("http://localhost:9/", false), ("http://r.openai.localhost:9/", false), ("http://[::1]:9/", false),
        ("http://127.0.0.1.evil.example/", true), ("http://1270.0.0.1/", true),
    ])
    func onlyLoopbackEscapesTheInsecureHTTPWarning(endpoint: String, warned: Bool) {
        let resource = ResourceConfig(name: "r", endpoint: endpoint, probe: .models, apiKey: Secret("k"))
        #expect(ConfigLint.checks(resource, credential: nil).contains { $0.0 == .insecureHTTP } == warned, "\(endpoint)")
    }
}
