// Every credential type gets a token from the simulator through the real binary (`aoai-canary
// token`), and every refresh failure reason is produced and counted.
import AzureSimulator
import CanaryTestSupport
import Crypto
import Foundation
import HTTPClient
import HTTPServer
import Testing

@testable import Agent
@testable import Auth
@testable import Config
@testable import Log
@testable import Metrics
@testable import Status
@testable import Support

let e2eFixtures = String(#filePath.dropLast("CredentialTests.swift".count)) + "Fixtures/"
let certificateFixtures = String(#filePath.dropLast("EndToEndTests/CredentialTests.swift".count)) + "CanaryTests/Fixtures/certs/"

/// Identities the credential tests add to the world.
enum MI {
    static let system = SimulatedManagedIdentity(
        tenantID: Names.tenant, clientID: "51510000-0000-4000-8000-000000000001", objectID: "51510000-0000-4000-8000-0000000000aa",
        resourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm", userAssigned: false)
    static let user = SimulatedManagedIdentity(
        tenantID: Names.tenant, clientID: "0a5e0000-0000-4000-8000-000000000002", objectID: "0a5e0000-0000-4000-8000-0000000000bb",
        resourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ua", userAssigned: true)
}

extension World {
    /// Writes a config holding one credential block and returns its path.
    func credentialConfig(_ name: String, _ block: String) throws -> String {
        let path = directory + "/credential-\(name).yaml"
        let indented = block.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        try "timeout: 5s\ncredentials:\n  \(name):\n\(indented)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite(.serialized) struct CredentialTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var source: String
        var objectID: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "client_secret", source: "client_secret", objectID: Names.object),
        Case(name: "client_certificate RS256", source: "client_certificate", objectID: Names.object),
        Case(name: "client_certificate PS256", source: "client_certificate", objectID: Names.object),
        Case(name: "workload_identity", source: "workload_identity", objectID: Names.object),
        Case(name: "managed_identity imds system", source: "managed_identity", objectID: MI.system.objectID),
        Case(name: "managed_identity imds user by client_id", source: "managed_identity", objectID: MI.user.objectID),
        Case(name: "managed_identity imds user by resource_id", source: "managed_identity", objectID: MI.user.objectID),
        Case(name: "managed_identity app_service", source: "managed_identity", objectID: MI.system.objectID),
        Case(name: "managed_identity arc", source: "managed_identity", objectID: MI.system.objectID),
        Case(name: "azure_cli", source: "azure_cli", objectID: Names.object),
        Case(name: "default from environment", source: "environment", objectID: Names.object),
        Case(name: "default from workload identity", source: "workload_identity", objectID: Names.object),
        Case(name: "default from managed identity", source: "managed_identity", objectID: MI.user.objectID),
        Case(name: "default from azure cli", source: "azure_cli", objectID: Names.object),
    ]

    /// The credential block and environment for a case.
    static func arrange(_ name: String, _ world: World) throws -> (block: String, environment: [String: String]) {
        let sim = world.simulator
        sim.addManagedIdentity(MI.system)
        sim.addManagedIdentity(MI.user)
        let imds = sim.authority + "/metadata/identity/oauth2/token"
        let fakeAz = [
            "FAKE_AZ_AUTHORITY": sim.authority, "FAKE_AZ_TENANT": Names.tenant, "FAKE_AZ_CLIENT_ID": Names.client, "FAKE_AZ_CLIENT_SECRET": Names.secret,
        ]
        let federated = world.directory + "/federated-token"
        switch name {
        case "client_secret":
            return (
                "type: client_secret\ntenant_id: \(Names.tenant)\nclient_id: \(Names.client)\nclient_secret_file: app.secret\nauthority: "
                    + "\(sim.authority)\nsecret_expires: 2027-03-01",
                [:]
            )
        case "client_certificate RS256", "client_certificate PS256":
            try sim.addCertificate(clientID: Names.client, certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: certificateFixtures + "app.pem"))))
            let algorithm = name.hasSuffix("PS256") ? "PS256" : "RS256"
            return (
                "type: client_certificate\ntenant_id: \(Names.tenant)\nclient_id: \(Names.client)\ncertificate_file: "
                    + "\(certificateFixtures)app.pem\nprivate_key_file: \(certificateFixtures)app.key\nassertion_algorithm: \(algorithm)\nauthority: "
                    + "\(sim.authority)",
                [:]
            )
        case "workload_identity":
            sim.addFederatedCredential(clientID: Names.client, issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary")
            try sim.makeFederatedToken(issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary").write(
                toFile: federated, atomically: true, encoding: .utf8)
            return (
                "type: workload_identity",
                [
                    "AZURE_TENANT_ID": Names.tenant, "AZURE_CLIENT_ID": Names.client, "AZURE_FEDERATED_TOKEN_FILE": federated,
                    "AZURE_AUTHORITY_HOST": sim.authority,
                ]
            )
        case "managed_identity imds system":
            return ("type: managed_identity\nsource: imds\nendpoint: \(imds)", [:])
        case "managed_identity imds user by client_id":
            return ("type: managed_identity\nclient_id: \(MI.user.clientID)\nendpoint: \(imds)", [:])
        case "managed_identity imds user by resource_id":
            return ("type: managed_identity\nresource_id: \(MI.user.resourceID)\nendpoint: \(imds)", [:])
        case "managed_identity app_service":
            return ("type: managed_identity", ["IDENTITY_ENDPOINT": sim.authority + "/msi/token", "IDENTITY_HEADER": sim.appServiceIdentityHeader])
        case "managed_identity arc":
            return (
                "type: managed_identity\narc_key_directory: \(sim.arcKeyDirectory)",
                ["IDENTITY_ENDPOINT": sim.authority + "/arc/metadata/identity/oauth2/token", "IMDS_ENDPOINT": "http://127.0.0.1:1"]
            )
        case "azure_cli":
            return ("type: azure_cli\naz_path: \(e2eFixtures)az-from-simulator\ntenant_id: \(Names.tenant)", fakeAz)
        case "default from environment":
            return (
                "type: default",
                ["AZURE_TENANT_ID": Names.tenant, "AZURE_CLIENT_ID": Names.client, "AZURE_CLIENT_SECRET": Names.secret, "AZURE_AUTHORITY_HOST": sim.authority]
            )
        case "default from workload identity":
            sim.addFederatedCredential(clientID: Names.client, issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary")
            try sim.makeFederatedToken(issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary").write(
                toFile: federated, atomically: true, encoding: .utf8)
            return (
                "type: default",
                [
                    "AZURE_TENANT_ID": Names.tenant, "AZURE_CLIENT_ID": Names.client, "AZURE_FEDERATED_TOKEN_FILE": federated,
                    "AZURE_AUTHORITY_HOST": sim.authority,
                ]
            )
        case "default from managed identity":
            return ("type: default", ["AZURE_CLIENT_ID": MI.user.clientID, "AZURE_POD_IDENTITY_AUTHORITY_HOST": sim.authority])
        case "default from azure cli":
            // No environment credential, no IMDS (a closed port), `az` on PATH.
            let closed = try ListeningSocket.bind(host: "127.0.0.1", port: 0)
            let port = closed.address.port
            _ = close(closed.fd)
            var environment = fakeAz
            environment["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:\(port)"
            environment["PATH"] = e2eFixtures + "on-path:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            return ("type: default", environment)
        default:
            Issue.record("no arrangement for \(name)")
            return ("type: default", [:])
        }
    }

    @Test(arguments: cases)
    func theTokenCommandGetsATokenFromTheSimulator(_ item: Case) async throws {
        let world = try World()
        let (block, environment) = try Self.arrange(item.name, world)
        let path = try world.credentialConfig("c", block)
        var env = [
            "AZURE_TENANT_ID": "", "AZURE_CLIENT_ID": "", "AZURE_CLIENT_SECRET": "", "AZURE_FEDERATED_TOKEN_FILE": "",
            "IDENTITY_ENDPOINT": "", "IDENTITY_HEADER": "", "IMDS_ENDPOINT": "", "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:1",
        ]
        for (key, value) in environment { env[key] = value }
        let result = try await runBinary(["token", "--config", path, "--credential", "c"], environment: env)
        #expect(result.status == 0, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        #expect(result.stdout.contains("source:") && result.stdout.contains(" \(item.source)\n"), "\(result.stdout)")
        #expect(result.stdout.contains("object id:") && result.stdout.contains(item.objectID), "\(result.stdout)")
        #expect(result.stdout.contains("audience:") && result.stdout.contains("https://cognitiveservices.azure.com\n"))
        #expect(result.stdout.contains("(not shown; add --show-token to print it)"))
        #expect(!result.stdout.contains("eyJ"), "a token was printed without --show-token")
        #expect(!result.stdout.contains(Names.secret) && !result.stderr.contains(Names.secret))
    }

    @Test func showTokenPrintsItAndTheCertificateExpiryIsShown() async throws {
        let world = try World()
        let (block, environment) = try Self.arrange("client_certificate RS256", world)
        let path = try world.credentialConfig("cert", block)
        let result = try await runBinary(["token", "--config", path, "--credential", "cert", "--show-token"], environment: environment)
        #expect(result.status == 0)
        #expect(result.stdout.contains("token:") && result.stdout.contains("eyJ"))
        #expect(result.stdout.contains("certificate expires:") && result.stdout.contains("2046-11-20T12:11:51.000Z"))
    }

    @Test func aTokenFailureExitsOneWithItsReason() async throws {
        let world = try World()
        world.simulator.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_222 }
        let (block, _) = try Self.arrange("client_secret", world)
        let path = try world.credentialConfig("c", block)
        let result = try await runBinary(["token", "--config", path, "--credential", "c"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("reason: expired_secret (AADSTS7000222)"), "\(result.stderr)")
        let missing = try await runBinary(["token", "--config", path, "--credential", "nope"])
        #expect(missing.status == 64 && missing.stderr.contains("no credential \"nope\""))
    }

    // MARK: refresh failure reasons

    struct FailureCase: Sendable, CustomTestStringConvertible {
        var reason: RefreshFailureReason
        var testDescription: String { reason.rawValue }
    }

    /// A source that fails with `reason`, against the simulator or a small loopback peer.
    static func failingSource(_ reason: RefreshFailureReason, _ world: World, peers: Locked<[HTTPServer]>) throws -> any TokenSource {
        let sim = world.simulator
        func secret(tenant: String = Names.tenant, client: String = Names.client, scope: String = CredentialDefaults.scope, authority: String? = nil)
            -> any TokenSource
        {
            ClientSecretSource(
                settings: ClientSecretSettings(
                    tenantID: tenant, clientID: client, secret: Secret(Names.secret), secretSource: .environment("X"), scope: scope,
                    authority: authority ?? sim.authority))
        }
        func peer(_ response: HTTPResponse) throws -> String {
            let server = try HTTPServer(host: "127.0.0.1", port: 0) { _ in response }
            peers.withLock { $0.append(server) }
            return "http://127.0.0.1:\(server.boundAddress.port)"
        }
        let fast = IMDSRetryPolicy(delays: [0.01, 0.01, 0.01, 0.01], goneBudget: 0.2, goneDelayCap: 0.05)
        func managedIdentity(_ selector: ManagedIdentitySelector) -> any TokenSource {
            ManagedIdentitySource(
                settings: ManagedIdentitySettings(
                    kind: .imds, selector: selector, endpoint: sim.authority + "/metadata/identity/oauth2/token", identityHeader: nil,
                    scope: CredentialDefaults.scope, arcKeyDirectory: "/nonexistent/"), retryPolicy: fast)
        }
        switch reason {
        case .invalidClient:
            sim.updateApplication(clientID: Names.client) { $0.clientSecret = "rotated" }
            return secret()
        case .expiredSecret:
            sim.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_222 }
            return secret()
        case .unknownApplication:
            return secret(client: "99999999-0000-4000-8000-000000000000")
        case .tenantNotFound:
            return secret(tenant: "99999999-0000-4000-8000-0000000000ff")
        case .assertionInvalid:
            // Signed with a certificate the app never registered.
            let pem = Array(try Data(contentsOf: URL(fileURLWithPath: certificateFixtures + "other.pem")))
            let key = Array(try Data(contentsOf: URL(fileURLWithPath: certificateFixtures + "other.key")))
            return ClientCertificateSource(
                settings: ClientCertificateSettings(
                    tenantID: Names.tenant, clientID: Names.client, certificate: try Certificate(pem: pem), certificatePath: "other.pem",
                    privateKey: try PrivateKey(pem: key), privateKeyPath: "other.key", algorithm: .rs256, scope: CredentialDefaults.scope,
                    authority: sim.authority))
        case .noFederatedMatch:
            sim.addFederatedCredential(clientID: Names.client, issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary")
            let file = world.directory + "/wrong-subject"
            try sim.makeFederatedToken(issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:other:intruder").write(
                toFile: file, atomically: true, encoding: .utf8)
            return WorkloadIdentitySource(
                settings: WorkloadIdentitySettings(
                    tenantID: Names.tenant, clientID: Names.client, tokenFile: file, scope: CredentialDefaults.scope, authority: sim.authority))
        case .invalidScope:
            // Client credentials without `/.default`: AADSTS1002012.
            return secret(scope: "https://cognitiveservices.azure.com")
        case .applicationDisabled:
            sim.updateApplication(clientID: Names.client) { $0.tokenError = 7_000_112 }
            return secret()
        case .conditionalAccess:
            sim.updateApplication(clientID: Names.client) { $0.tokenError = 53003 }
            return secret()
        case .noManagedIdentity:
            sim.addManagedIdentity(MI.system)
            return managedIdentity(.clientID("not-assigned-to-this-host"))
        case .imdsUnavailable:
            sim.addManagedIdentity(MI.system)
            sim.updateManagedIdentityScenario {
                $0.failureStatus = 503
                $0.failureCount = Int.max
            }
            return managedIdentity(.systemAssigned)
        case .cliNotLoggedIn:
            return AzureCLISource(
                settings: AzureCLISettings(azPath: e2eFixtures + "not-logged-in/az", tenantID: nil, scope: CredentialDefaults.scope, timeoutSeconds: 5))
        case .timeout:
            sim.updateApplication(clientID: Names.client) { $0.tokenEndpointHang = true }
            return secret()
        case .connectionFailed:
            let closed = try ListeningSocket.bind(host: "127.0.0.1", port: 0)
            let port = closed.address.port
            _ = close(closed.fd)
            return secret(authority: "http://127.0.0.1:\(port)")
        case .badResponse:
            return secret(authority: try peer(HTTPResponse(status: 200, contentType: "text/html", body: "<html>captive portal</html>")))
        case .other:
            // An AADSTS code with no reason of its own: the cluster's OIDC issuer unreachable.
            sim.updateApplication(clientID: Names.client) { $0.tokenError = 90061 }
            return secret()
        }
    }

    @Test(arguments: RefreshFailureReason.allCases.map(FailureCase.init))
    func everyRefreshFailureReasonIsCounted(_ item: FailureCase) async throws {
        let world = try World()
        let peers = Locked<[HTTPServer]>([])
        defer { peers.withLock { for peer in $0 { peer.stop() } } }
        let source = try Self.failingSource(item.reason, world, peers: peers)
        let metrics = CanaryMetrics(build: BuildInfo(version: "t", revision: "t", swiftVersion: "6"))
        metrics.prepare(credential: "c")
        let logs = TextBuffer()
        let reporter = ProbeReporter(
            metrics: metrics, logger: EventLogger(format: .logfmt, level: .debug) { logs.append($0) }, board: StatusBoard(config: CanaryConfig()))
        let client = HTTPClient()
        defer { client.shutdown() }
        let clock = SystemClock()
        let cache = TokenCache(credential: "c", source: source, client: client, clock: clock, timeoutSeconds: 1) { reporter.report($0, now: clock.wallSeconds) }
        await #expect(throws: TokenAcquisitionError.self) { _ = try await cache.token() }
        for reason in RefreshFailureReason.allCases {
            #expect(metrics.registry.value(CanaryMetrics.refreshFailures.name, ["c", reason.rawValue]) == (reason == item.reason ? 1 : 0), "\(reason)")
        }
        #expect(logs.chunks.contains { $0.contains("refresh_reason=\(item.reason.rawValue)") }, "\(logs.chunks)")
    }
}

@Suite(.serialized) struct CredentialDaemonTests {
    @Test func theDaemonExportsTheLifecycleOfEveryCredential() async throws {
        let world = try World()
        let sim = world.simulator
        sim.addManagedIdentity(MI.system)
        try sim.addCertificate(clientID: Names.client, certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: certificateFixtures + "app.pem"))))
        sim.addFederatedCredential(clientID: Names.client, issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary")
        let federated = world.directory + "/federated-token"
        try sim.makeFederatedToken(issuer: "https://oidc.example/cluster", subject: "system:serviceaccount:canary:aoai-canary").write(
            toFile: federated, atomically: true, encoding: .utf8)
        let endpoints = ["r-cert", "r-mi", "r-wi"].map { ($0, world.addResource($0)) }
        sim.grantRole(resource: "r-mi", objectID: MI.system.objectID)
        let path = world.directory + "/daemon.yaml"
        try """
        interval: 2s
        timeout: 2s
        credentials:
          cert:
            type: client_certificate
            tenant_id: \(Names.tenant)
            client_id: \(Names.client)
            certificate_file: \(certificateFixtures)app-combined.pem
            assertion_algorithm: PS256
            authority: \(sim.authority)
          mi:
            type: managed_identity
            endpoint: \(sim.authority)/metadata/identity/oauth2/token
          wi:
            type: workload_identity
            tenant_id: \(Names.tenant)
            client_id: \(Names.client)
            token_file: \(federated)
            authority: \(sim.authority)
        resources:
        \(endpoints.map { "  - name: \($0.0)\n    endpoint: \($0.1)\n    probe: models\n    credential: \($0.0.dropFirst(2))" }.joined(separator: "\n"))

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let found = await child.await(30, in: { child.stderr }, metricsURL)
        let url = try #require(found, "no metrics URL: \(child.stderr)")
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            text = String(decoding: try await get(url).body, as: UTF8.self)
            if ["r-cert", "r-mi", "r-wi"].allSatisfy({ sampleValue(text, #"aoai_canary_probe_success{resource="\#($0)",auth="entra_id"}"#) == 1 }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        child.process.terminate()
        _ = await child.wait(seconds: 5)
        for resource in ["r-cert", "r-mi", "r-wi"] {
            #expect(sampleValue(text, #"aoai_canary_probe_success{resource="\#(resource)",auth="entra_id"}"#) == 1, "\(resource)\n\(child.stderr)")
        }
        #expect(text.contains(#"source="client_certificate"} 1"#))
        #expect(text.contains(#",version="1.0",source="managed_identity"} 1"#))
        #expect(text.contains(#"source="workload_identity"} 1"#))
        #expect(
            sampleValue(text, #"aoai_canary_credential_expiry_timestamp_seconds{credential="cert",kind="certificate",source="certificate"}"#) == 2_426_328_711)
        #expect(
            (sampleValue(text, #"aoai_canary_credential_expiry_timestamp_seconds{credential="wi",kind="federated_token",source="token_file"}"#) ?? 0)
                > Date().timeIntervalSince1970
        )
        #expect(sampleValue(text, #"aoai_canary_token_lifetime_seconds{credential="mi"}"#) == 86399)
        let expiry = try #require(sampleValue(text, #"aoai_canary_token_expiry_timestamp_seconds{credential="mi"}"#))
        let refreshAt = try #require(sampleValue(text, #"aoai_canary_token_refresh_at_timestamp_seconds{credential="mi"}"#))
        #expect(abs((expiry - refreshAt) - 86399 / 2) < 1, "managed identity tokens refresh at half their life")
        #expect(sampleValue(text, #"aoai_canary_token_refresh_failures_total{credential="mi",reason="imds_unavailable"}"#) == 0)
        let promtool = try Promtool.checkMetrics(text)
        #expect(promtool.status == 0 && promtool.output.isEmpty, "promtool: \(promtool.output)")
    }
}
