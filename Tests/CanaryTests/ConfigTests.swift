// The configuration loader: the good file decodes fully; every bad file reports every error in place.
import Testing

@testable import Config
@testable import Support

@Suite struct ConfigTests {
    let directory = fixturesDirectory + "/config"

    @Test func goodFileDecodesEveryField() throws {
        let config = try ConfigLoader.load(path: directory + "/good.yaml", variables: ["APP_ENV_SECRET": "env-secret\n"])
        #expect(config.listen == "127.0.0.1:9725")
        #expect(config.interval == .seconds(90))
        #expect(config.timeout == .seconds(5))
        #expect(config.credentials.map(\.name) == ["app-prod", "app-env"])
        guard case .clientSecret(let prod) = config.credentials[0].settings,
            case .clientSecret(let env) = config.credentials[1].settings
        else {
            Issue.record("credential types")
            return
        }
        #expect(prod.secret.exposedValue == "app-prod-secret-value")
        #expect(prod.secretSource == .file(directory + "/app-prod.secret"))
        #expect(prod.scope == "https://cognitiveservices.azure.com/.default")
        #expect(prod.authority == "https://login.microsoftonline.com")
        #expect(env.secret.exposedValue == "env-secret")
        #expect(env.secretSource == .environment("APP_ENV_SECRET"))
        #expect(env.authority == "https://login.microsoftonline.us")
        #expect(env.scope == "https://cognitiveservices.azure.us/.default")

        let first = config.resources[0]
        #expect(first.endpoint == "https://contoso-eastus.openai.azure.com/")
        #expect(first.deployment == "gpt-4o-mini")
        #expect(first.probe == .chatCompletions)
        #expect(first.apiVersion == "2024-10-21")
        #expect(first.apiKey?.exposedValue == "key-eastus")
        #expect(first.credential == "app-prod")
        #expect(first.interval == .seconds(30))
        let second = config.resources[1]
        #expect(second.probe == .models)
        #expect(second.apiKey == nil)
        #expect(second.apiVersion == "2025-01-01")
        #expect(second.interval == nil)
    }

    @Test func relativeSecretPathsResolveAgainstTheCredentialsDirectory() throws {
        let config = try ConfigLoader.load(
            path: directory + "/good.yaml",
            variables: [
                "APP_ENV_SECRET": "x", "CREDENTIALS_DIRECTORY": fixturesDirectory + "/credentials-directory",
            ])
        guard case .clientSecret(let prod) = config.credentials[0].settings else {
            Issue.record("type")
            return
        }
        #expect(prod.secret.exposedValue == "from-credentials-directory")
    }

    /// `control_plane:` and `arm_id` (issue 13): defaults per cloud, and errors with their place.
    @Test func controlPlaneAndARMIDsDecodeWithDefaultsAndClearErrors() throws {
        let environment = ConfigEnvironment(variables: ["S": "s"], configDirectory: "/")
        func text(
            _ controlPlane: String, authority: String = "https://login.microsoftonline.com",
            armID: String = "/subscriptions/5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/r"
        ) -> String {
            """
            \(controlPlane)
            credentials:
              app: {type: client_secret, tenant_id: 8a1f6b3e-0d2c-4c7a-9b5e-2f4d6a8c0e11, client_id: 3c9e2a71-5b4d-4e8f-a6c2-7d1b9e0f4a22, client_secret_env: \
            S, authority: "\(authority)"}
            resources:
              - {name: r, endpoint: "https://r.openai.azure.com/", deployment: d, credential: app, arm_id: "\(armID)"}
            """
        }
        let plain = try ConfigLoader.decode(text("control_plane: {credential: app}"), file: "c.yaml", environment: environment)
        #expect(plain.controlPlane == ControlPlaneConfig(credential: "app", endpoint: "https://management.azure.com", interval: .seconds(600)))
        #expect(plain.controlPlane?.scope == "https://management.azure.com/.default")
        #expect(plain.resources.first?.armID?.name == "r" && plain.resources.first?.armID?.resourceGroup == "rg")
        let government = try ConfigLoader.decode(
            text("control_plane: {credential: app}", authority: "https://login.microsoftonline.us"), file: "c.yaml", environment: environment)
        #expect(government.controlPlane?.endpoint == "https://management.usgovcloudapi.net")
        #expect(government.controlPlane?.scope == "https://management.usgovcloudapi.net/.default")
        let simulator = try ConfigLoader.decode(
            text("control_plane: {credential: app, endpoint: \"http://127.0.0.1:9726/\", interval: 1m}"), file: "c.yaml", environment: environment)
        #expect(simulator.controlPlane == ControlPlaneConfig(credential: "app", endpoint: "http://127.0.0.1:9726", interval: .seconds(60)))

        for (controlPlane, armID, expected) in [
            ("control_plane: {credential: nobody}", nil, "c.yaml:1:29: control_plane.credential: unknown credential \"nobody\" (defined: app)"),
            ("control_plane: {credential: app, interval: 10s}", nil, "c.yaml:1:44: control_plane.interval: must be between 1m and 1d, found 10s"),
            ("control_plane: {endpoint: \"https://management.azure.com\"}", nil, "c.yaml:1:16: control_plane.credential: missing required key \"credential\""),
            (
                "control_plane: {credential: app}", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/r",
                "arm_id: arm_id must be an account's Resource Manager id, "
                    + "/subscriptions/SUBSCRIPTION-ID/resourceGroups/GROUP/providers/Microsoft.CognitiveServices/accounts/NAME, found "
                    + "\"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/r\""
            ),
        ] {
            let source = armID.map { text(controlPlane, armID: $0) } ?? text(controlPlane)
            #expect(throws: ConfigErrors.self) { try ConfigLoader.decode(source, file: "c.yaml", environment: environment) }
            do {
                _ = try ConfigLoader.decode(source, file: "c.yaml", environment: environment)
            } catch {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
    }

    @Test func emptyFileIsAValidConfigurationThatProbesNothing() throws {
        let config = try ConfigLoader.decode("# nothing yet\n", file: "empty.yaml", environment: ConfigEnvironment(variables: [:], configDirectory: "/"))
        #expect(config == CanaryConfig())
    }

    /// Each bad file, and every error it must report as LINE:COLUMN plus a fragment of the message.
    static let badFiles: [(String, [String])] = [
        (
            "bad-keys.yaml",
            [
                "2:1: intervall: unknown key \"intervall\" (did you mean \"interval\"?)",
                "9:5: credentials.app.scopes: unknown key \"scopes\" (did you mean \"scope\"?)",
                "15:5: resources[0].colour: unknown key \"colour\"",
            ]
        ),
        (
            "bad-values.yaml",
            [
                "1:9: listen: invalid listen address \"9725\"",
                "2:11: interval: invalid duration \"30 seconds\"",
                "3:10: timeout: must be greater than zero",
                "6:11: credentials.app.type: unknown credential type",
                "8:5: credentials.app2.tenant_id: missing required key \"tenant_id\"",
                "9:16: credentials.app2.client_id: expected a string, found a list",
                "10:25: credentials.app2.client_secret_file: cannot read secret file",
                "13:15: resources[0].endpoint: \"contoso.openai.azure.com\" is not an absolute http:// or https:// URL",
                "15:12: resources[0].probe: invalid value \"completions\"",
                "17:15: resources[0].interval: invalid duration \"5x\"",
                "18:11: resources[1].name: duplicate resource name \"a\" (first used at line 12)",
                "21:17: resources[1].credential: unknown credential \"nobody\" (defined: app, app2)",
                "23:18: resources[1].api_key_env: give either api_key_file or api_key_env, not both",
                "24:5: resources[2].deployment: missing required key \"deployment\"",
                "27:5: resources[3]: a resource needs api_key_file, api_key_env or credential",
                "33:18: resources[4].api_version: api_version must be v1 or a dated version such as 2024-10-21 or 2025-04-01-preview, found \"latest\"",
                "39:18: resources[5].api_version: probe responses needs api_version v1 or a version from 2025-03-01-preview on, found \"2024-10-21\"",
                "41:5: resources[6].deployment: missing required key \"deployment\" (needed by probe embeddings",
            ]
        ),
        ("bad-syntax.yaml", ["4:4: YAML syntax error: did not find expected '-' indicator"]),
        ("bad-shape.yaml", ["1:1: expected a mapping, found a list"]),
    ]

    @Test(arguments: badFiles)
    func badFilesReportEveryErrorWithLineAndColumn(file: String, expected: [String]) throws {
        let path = directory + "/" + file
        #expect {
            _ = try ConfigLoader.load(path: path, variables: [:])
        } throws: { error in
            guard let errors = error as? ConfigErrors else { return false }
            let lines = errors.description.split(separator: "\n").map(String.init)
            #expect(lines.count == expected.count, "got:\n\(errors.description)")
            for (line, wanted) in zip(lines, expected) {
                #expect(line.hasPrefix(path + ":" + wanted), "\(line) should start with \(path):\(wanted)")
            }
            return true
        }
    }

    @Test func secretValuesNeverAppearInErrors() throws {
        let text = """
            credentials:
              app:
                type: client_secret
                tenant_id: t.example
                client_id: c
                client_secret_env: SECRET_A
                client_secret_file: app-prod.secret
            resources:
              - name: r
                endpoint: not a url
                api_key_env: KEY_B
            """
        let environment = ConfigEnvironment(variables: ["SECRET_A": "hunter2-secret", "KEY_B": "   "], configDirectory: directory)
        #expect {
            _ = try ConfigLoader.decode(text, file: "inline.yaml", environment: environment)
        } throws: { error in
            let text = "\(error)"
            return !text.contains("hunter2-secret") && !text.contains("app-prod-secret-value")
                && text.contains("environment variable KEY_B is not set or empty")
        }
        let secret = Secret("hunter2-secret")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
    }

    /// Every duration the file accepts is one the agent can use: a timeout of
    /// 9223372036854775807ms used to pass check-config and trap in the curl loop.
    @Test(arguments: [
        ("timeout: 9223372036854775807ms", "1:10: timeout: must be between 100ms and 5m, found 9223372036854775807ms"),
        ("timeout: 10ms", "1:10: timeout: must be between 100ms and 5m, found 10ms"),
        ("timeout: 6m", "1:10: timeout: must be between 100ms and 5m, found 6m"),
        ("interval: 1ms", "1:11: interval: must be between 1s and 1d, found 1ms"),
        ("interval: 1y", "1:11: interval: must be between 1s and 1d, found 1y"),
        ("interval: 999999999999h", "1:11: interval: must be between 1s and 1d, found 999999999999h"),
        ("interval: 99999999999999999999h", "1:11: interval: invalid duration"),
    ])
    func durationsOutsideTheirBoundsAreRefusedInPlace(line: String, error: String) {
        let environment = ConfigEnvironment(variables: [:], configDirectory: directory)
        #expect {
            _ = try ConfigLoader.decode(line + "\n", file: "inline.yaml", environment: environment)
        } throws: { thrown in
            "\(thrown)".hasPrefix("inline.yaml:" + error)
        }
    }

    @Test func aResourcesIntervalAndTheCLITimeoutAreBoundedToo() {
        let text = """
            credentials:
              me: {type: azure_cli, timeout: 2h}
            resources:
              - {name: r, endpoint: "https://r.openai.azure.com/", probe: models, credential: me, interval: 500ms}
            """
        #expect {
            _ = try ConfigLoader.decode(text, file: "inline.yaml", environment: ConfigEnvironment(variables: [:], configDirectory: directory))
        } throws: { thrown in
            let text = "\(thrown)"
            return text.contains("credentials.me.timeout: must be between 1s and 5m") && text.contains("resources[0].interval: must be between 1s and 1d")
        }
    }

    @Test func eachProbeKindDecodesWithItsDefaultAPIVersion() throws {
        let text = """
            resources:
              - {name: chat, endpoint: "https://a.openai.azure.com/", deployment: gpt-4o-mini, api_key_env: KEY}
              - {name: reasoning, endpoint: "https://a.openai.azure.com/", deployment: o4-mini, api_version: v1, api_key_env: KEY}
              - {name: embed, endpoint: "https://a.openai.azure.com/", deployment: text-embedding-3-small, probe: embeddings, api_key_env: KEY}
              - {name: respond, endpoint: "https://a.openai.azure.com/", deployment: gpt-4o-mini, probe: responses, api_key_env: KEY}
              - {name: respond-dated, endpoint: "https://a.openai.azure.com/", deployment: gpt-4o-mini, probe: responses, api_version: 2025-04-01-preview, \
            api_key_env: KEY}
              - {name: models, endpoint: "https://a.openai.azure.com/", probe: models, api_key_env: KEY}
            """
        let config = try ConfigLoader.decode(text, file: "inline.yaml", environment: ConfigEnvironment(variables: ["KEY": "k"], configDirectory: directory))
        #expect(config.resources.map(\.probe) == [.chatCompletions, .chatCompletions, .embeddings, .responses, .responses, .models])
        #expect(config.resources.map(\.apiVersion) == ["2024-10-21", "v1", "2024-10-21", "v1", "2025-04-01-preview", "2024-10-21"])
        #expect(config.resources.allSatisfy { $0.api != nil })
    }

    @Test(arguments: [
        ("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1d", 86400), ("2w", 1_209_600), ("1m30s500ms", 90.5), ("0", 0),
    ])
    func durationsParseThePrometheusWay(text: String, seconds: Double) {
        #expect(PromDuration.parse(text)?.seconds == seconds)
    }

    @Test(arguments: ["", "5", "s", "30 s", "1.5s", "5x", "30s1m", "1h1h", "-5s", "5S"])
    func invalidDurationsAreRejected(text: String) {
        #expect(PromDuration.parse(text) == nil)
    }

    @Test func durationsPrintBackInTheSameStyle() {
        #expect(PromDuration.format(.seconds(90)) == "1m30s")
        #expect(PromDuration.format(.milliseconds(500)) == "500ms")
        #expect(PromDuration.format(.seconds(3600)) == "1h")
        #expect(PromDuration.format(.zero) == "0s")
    }

    @Test(arguments: [
        ("https://contoso.openai.azure.com", "https://contoso.openai.azure.com/"),
        ("HTTPS://Contoso.OpenAI.Azure.com/", "https://contoso.openai.azure.com/"),
        ("http://127.0.0.1:8080/prefix", "http://127.0.0.1:8080/prefix/"),
        ("http://[::1]:9/", "http://[::1]:9/"),
    ])
    func endpointsNormalise(text: String, normalized: String) {
        #expect(EndpointURL(text)?.normalized == normalized)
    }

    @Test(arguments: ["contoso.openai.azure.com", "ftp://x/", "https://", "https://:443/", "https://a:99999/", "https://u@a/", "https://a/?q=1"])
    func badEndpointsAreRejected(text: String) {
        #expect(EndpointURL(text) == nil)
    }
}
