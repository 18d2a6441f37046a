// `directory:` against the simulated Microsoft Graph, through the binary: the configured secret's
// expiry from the directory, a secret the application no longer holds, a workload identity whose
// subject no federated credential trusts, and a directory that is forbidden, throttled or down
// while the probes go on.
import Agent
import AzureSimulator
import Config
import Diagnose
import Foundation
import HTTPClient
import Metrics
import Support
import Testing

@Suite(.serialized) struct DirectoryTests {
    static let secretExpiry = 1_900_000_000.0

    /// Runs the agent with `credentials` (YAML), a `directory:` reading with `reader`, a resource
    /// "healthy" probed with its key and one "entra" probed with `probeCredential`; waits until
    /// `until` holds on its metrics (at most 30 s); returns the metrics and the log.
    static func run(
        _ world: World, credentials: String, reader: String = "app", probeCredential: String = "app", environment: [String: String] = [:],
        until: @escaping (String) -> Bool
    ) async throws -> (metrics: String, log: String, status: String) {
        let path = world.directory + "/config.yaml"
        let text =
            world.oneSecondConfig(
                credentials: credentials,
                resources: """
                      - name: entra
                        endpoint: \(world.addResource("entra"))
                        deployment: \(Names.deployment)
                        credential: \(probeCredential)

                    """)
                + """
                directory:
                  credential: \(reader)
                  endpoint: \(world.simulator.authority)

                """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--log-format", "logfmt"], environment: environment)
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL), "\(child.stderr)")
        var metrics = ""
        var status = ""
        for _ in 0..<150 {
            metrics = String(decoding: try await get(url).body, as: UTF8.self)
            status = String(decoding: try await get(String(url.dropLast("metrics".count)) + "status.json").body, as: UTF8.self)
            if until(metrics + "\n" + status) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        child.process.terminate()
        _ = await child.wait(seconds: 5)
        return (metrics, child.stderr, status)
    }

    static func readable(_ world: World) {
        world.simulator.updateApplication(clientID: Names.client) {
            $0.graphRoles = ["Application.Read.All"]
            $0.secretExpiresAt = secretExpiry
            $0.displayName = "canary-app"
        }
    }

    @Test func theSecretsExpiryComesFromTheDirectory() async throws {
        let world = try World()
        Self.readable(world)
        let (metrics, log, _) = try await Self.run(world, credentials: world.credentialsYAML() + "    secret_expires: 2027-03-01\n") {
            sampleValue($0, #"aoai_canary_credential_in_directory{credential="app"}"#) != nil
        }
        #expect(
            sampleValue(metrics, #"aoai_canary_credential_expiry_timestamp_seconds{credential="app",kind="client_secret",source="directory"}"#)
                == Self.secretExpiry)
        #expect(!metrics.contains(#"kind="client_secret",source="config""#), "the directory's date stands for secret_expires: \(metrics)")
        #expect(sampleValue(metrics, #"aoai_canary_credential_in_directory{credential="app"}"#) == 1)
        #expect((sampleValue(metrics, #"aoai_canary_directory_requests_total{result="success"}"#) ?? 0) >= 2)
        #expect(!metrics.contains("aoai_canary_federated_credential_match{"), "absent when unknown")
        #expect(!log.contains(Names.secret), "the secret never appears")
    }

    /// A second application, "reader", allowed to read the directory: the credential the
    /// directory is read with need not be the one it reads about.
    static func reader(_ world: World) throws -> String {
        let id = "eeeeeeee-0000-4000-8000-000000000005"
        var app = SimulatedApplication(
            tenantID: Names.tenant, clientID: id, clientSecret: "reader-secret-value", objectID: "ffffffff-0000-4000-8000-000000000006")
        app.graphRoles = ["Application.Read.All"]
        world.simulator.addApplication(app)
        try "reader-secret-value\n".write(toFile: world.directory + "/reader.secret", atomically: true, encoding: .utf8)
        return """
              reader:
                type: client_secret
                tenant_id: \(Names.tenant)
                client_id: \(id)
                client_secret_file: reader.secret
                authority: \(world.simulator.authority)

            """
    }

    @Test func aSecretTheApplicationNoLongerHoldsIsNamed() async throws {
        let world = try World()
        Self.readable(world)
        world.simulator.updateApplication(clientID: Names.client) {
            // Rotated: the configured secret is gone, another one is held.
            $0.clientSecret = "xyz-rotated-secret"
            $0.otherSecrets = [SimulatedPasswordCredential(hint: "abc", expiresAt: 1_800_000_000)]
        }
        let credentials = world.credentialsYAML() + (try Self.reader(world))
        let (metrics, log, status) = try await Self.run(world, credentials: credentials, reader: "reader") {
            sampleValue($0, #"aoai_canary_credential_in_directory{credential="app"}"#) != nil && $0.contains("the directory says")
        }
        // The failed token request is explained by the directory, on the status page.
        #expect(status.contains("the directory says: the application \(Names.client) (canary-app) holds secrets hinted xyz and abc"), "\(status)")
        // status.json carries each credential's facts.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        let app = try #require((json["credentials"] as? [[String: Any]])?.first { $0["name"] as? String == "app" })
        let directory = try #require(app["directory"] as? [String: Any], "\(app)")
        #expect(directory["in_directory"] as? Bool == false && directory["app_id"] as? String == Names.client)
        #expect(
            (directory["facts"] as? [String])?.first
                == "application \(Names.client) (canary-app): secrets hinted xyz (until 2030-03-17T17:46:40.000Z), hinted abc (until 2027-01-15T08:00:00.000Z)",
            "\(directory)")
        #expect((directory["findings"] as? [String])?.first?.contains("az ad app credential reset --id \(Names.client) --append") == true, "\(directory)")
        #expect(sampleValue(metrics, #"aoai_canary_credential_in_directory{credential="app"}"#) == 0)
        let hint = String(Names.secret.prefix(3))
        #expect(
            log.contains(
                "the application \(Names.client) (canary-app) holds secrets hinted xyz and abc; the configured one, hinted \(hint), is not among them: "
                    + "it was deleted or belongs to another application"), "\(log)")
        #expect(!log.contains(Names.secret) && !log.contains("xyz-rotated-secret"))
    }

    @Test func aWorkloadIdentityWhoseSubjectNoFederatedCredentialTrustsIsExplained() async throws {
        let world = try World()
        Self.readable(world)
        let issuer = "https://oidc.example/cluster"
        world.simulator.addFederatedCredential(
            clientID: Names.client, issuer: issuer, subject: "system:serviceaccount:monitoring:canary", name: "aks-prod")
        let tokenFile = world.directory + "/federated-token"
        try world.simulator.makeFederatedToken(issuer: issuer, subject: "system:serviceaccount:prod:canary").write(
            toFile: tokenFile, atomically: true, encoding: .utf8)
        let credentials =
            world.credentialsYAML() + """
                  wi:
                    type: workload_identity
                    tenant_id: \(Names.tenant)
                    client_id: \(Names.client)
                    token_file: \(tokenFile)
                    authority: \(world.simulator.authority)

                """
        let (metrics, log, _) = try await Self.run(world, credentials: credentials, probeCredential: "wi") {
            sampleValue($0, #"aoai_canary_federated_credential_match{credential="wi"}"#) != nil
        }
        #expect(sampleValue(metrics, #"aoai_canary_federated_credential_match{credential="wi"}"#) == 0)
        #expect(
            log.contains(
                "subject is system:serviceaccount:prod:canary; the federated credential aks-prod expects system:serviceaccount:monitoring:canary"), "\(log)")
        #expect(log.contains("az ad app federated-credential create --id \(Names.client)"), "\(log)")
        // diagnose's step 6 shows the token's claims beside each federated credential, and the command.
        let diagnosis = try await runBinary(
            ["diagnose", "--config", world.directory + "/config.yaml", "--resource", "entra"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(diagnosis.status == 1 && diagnosis.stdout.contains("[FAIL] 6. The credential as the directory sees it"), "\(diagnosis.stdout)")
        #expect(diagnosis.stdout.contains("the workload's token: issuer \(issuer), subject system:serviceaccount:prod:canary"), "\(diagnosis.stdout)")
        #expect(diagnosis.stdout.contains("federated credential aks-prod: issuer \(issuer), subject system:serviceaccount:monitoring:canary"))
        #expect(diagnosis.stdout.contains("\n           az ad app federated-credential create --id \(Names.client) --parameters"), "\(diagnosis.stdout)")

        // Trusted: the match is 1.
        world.simulator.addFederatedCredential(clientID: Names.client, issuer: issuer, subject: "system:serviceaccount:prod:canary", name: "aks-prod-2")
        let (trusted, _, _) = try await Self.run(world, credentials: credentials, probeCredential: "wi") {
            sampleValue($0, #"aoai_canary_federated_credential_match{credential="wi"}"#) != nil
        }
        #expect(sampleValue(trusted, #"aoai_canary_federated_credential_match{credential="wi"}"#) == 1)
    }

    /// A workload identity exchanged for a user-assigned managed identity: no application holds
    /// its client id, so its federated credentials are read through Resource Manager, and the
    /// mismatch names the identity and the `az identity` line.
    @Test func aUserAssignedIdentitysFederatedCredentialsComeFromResourceManager() async throws {
        let world = try World()
        Self.readable(world)
        let endpoint = world.addResource("entra")
        world.simulator.grantRole(resource: "entra", objectID: Names.object, role: SimulatedRole.named("Reader")!, at: .subscription)
        let issuer = "https://oidc.example/cluster"
        let clientID = "12121212-0000-4000-8000-000000000007"
        var identity = SimulatedUserAssignedIdentity(
            resourceGroup: "rg-identities", name: "canary-identity", clientID: clientID, principalID: "34343434-0000-4000-8000-000000000008",
            tenantID: Names.tenant)
        identity.federatedCredentials = [
            (name: "aks-prod", issuer: issuer, subject: "system:serviceaccount:monitoring:canary", audiences: ["api://AzureADTokenExchange"])
        ]
        world.simulator.addUserAssignedIdentity(identity)
        let tokenFile = world.directory + "/federated-token"
        try world.simulator.makeFederatedToken(issuer: issuer, subject: "system:serviceaccount:prod:canary").write(
            toFile: tokenFile, atomically: true, encoding: .utf8)
        let armID = "/subscriptions/\(SimulatedResource.defaultSubscription)/resourceGroups/rg-canary/providers/Microsoft.CognitiveServices/accounts/entra"
        let config = try world.config(
            world.oneSecondConfig(
                credentials: world.credentialsYAML() + """
                      wi:
                        type: workload_identity
                        tenant_id: \(Names.tenant)
                        client_id: \(clientID)
                        token_file: \(tokenFile)
                        authority: \(world.simulator.authority)

                    """,
                resources: """
                      - name: entra
                        endpoint: \(endpoint)
                        deployment: \(Names.deployment)
                        credential: wi
                        arm_id: \(armID)

                    """)
                + "directory:\n  credential: app\n  endpoint: \(world.simulator.authority)\ncontrol_plane:\n  credential: app\n  endpoint: \(world.simulator.authority)\n"
        )
        let agent = world.agent(config)
        defer { agent.shutdown() }
        let monitor = try #require(agent.directory)
        await monitor.read(try #require(config.credential(named: "wi")))
        let facts = try #require(agent.board.directory["wi"])
        #expect(facts.identity?.name == "canary-identity" && facts.federatedMatch == false && facts.problems.isEmpty, "\(facts)")
        #expect(agent.value(CanaryMetrics.federatedCredentialMatch, ["wi"]) == 0)
        let finding = try #require(facts.findings.first)
        #expect(
            finding.contains(
                "the workload's token matches no federated credential of user-assigned identity canary-identity: subject is system:serviceaccount:prod:canary; "
                    + "the federated credential aks-prod expects system:serviceaccount:monitoring:canary"), "\(finding)")
        #expect(
            finding.hasSuffix(
                "Fix: az identity federated-credential create --name aoai-canary --identity-name canary-identity --resource-group rg-identities --issuer "
                    + "\(issuer) --subject system:serviceaccount:prod:canary --audience api://AzureADTokenExchange"), "\(finding)")
        // diagnose reads the identity the same way: its step 6 names it and the az identity line.
        let reports = await Diagnoser(client: HTTPClient(), clock: SystemClock(), timeoutSeconds: 5, azPath: nil).diagnose(config, resource: "entra")
        let step = try #require(reports.first?.steps.first { $0.number == 6 }, "\(reports)")
        #expect(
            step.outcome == .fail && step.evidence.contains { $0.hasPrefix("user-assigned identity canary-identity in resource group rg-identities") },
            "\(step)")
        #expect(step.command?.hasPrefix("az identity federated-credential create --name aoai-canary --identity-name canary-identity") == true, "\(step)")
        // The token endpoint refuses the same workload for the same reason (AADSTS700213).
        let cache = try #require(agent.tokenCaches["wi"])
        do {
            _ = try await cache.token()
            Issue.record("a token for an untrusted subject")
        } catch {
            #expect("\(error)".contains("AADSTS700213"), "\(error)")
        }
    }

    /// A certificate credential is found by its thumbprint (its end date then comes from the
    /// directory); one the application does not hold is named; a disabled service principal is
    /// named, and explains the failed token request.
    @Test func aCertificateIsFoundByItsThumbprintAndADisabledPrincipalIsNamed() async throws {
        let world = try World()
        Self.readable(world)
        let credentials =
            world.credentialsYAML() + """
                  cert:
                    type: client_certificate
                    tenant_id: \(Names.tenant)
                    client_id: \(Names.client)
                    certificate_file: \(certificateFixtures)app.pem
                    private_key_file: \(certificateFixtures)app.key
                    authority: \(world.simulator.authority)

                """
        // Read by another application: the one read about is disabled below.
        let config = try world.config(
            world.oneSecondConfig(credentials: credentials + (try Self.reader(world)), resources: "")
                + "directory:\n  credential: reader\n  endpoint: \(world.simulator.authority)\n")
        let certificate = try #require(config.credential(named: "cert"))
        do {
            // Not registered on the application: named, with its thumbprint.
            let agent = world.agent(config)
            defer { agent.shutdown() }
            await try #require(agent.directory).read(certificate)
            #expect(agent.value(CanaryMetrics.credentialInDirectory, ["cert"]) == 0)
            let finding = try #require(agent.board.directory["cert"]?.findings.first)
            #expect(finding.contains("holds no certificates; the configured one, ") && finding.contains("is not among them"), "\(finding)")
        }
        try world.simulator.addCertificate(
            clientID: Names.client, certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: certificateFixtures + "app.pem"))))
        do {
            let agent = world.agent(config)
            defer { agent.shutdown() }
            await try #require(agent.directory).read(certificate)
            #expect(agent.value(CanaryMetrics.credentialInDirectory, ["cert"]) == 1)
            // The certificate's notAfter, as the directory gives it.
            #expect(agent.value(CanaryMetrics.credentialExpiry, ["cert", "certificate", "directory"]) == 2_426_328_711)
            #expect(agent.value(CanaryMetrics.credentialExpiry, ["cert", "certificate", "certificate"]) == -1, "the directory's date stands for the file's")
        }
        world.simulator.updateApplication(clientID: Names.client) { $0.servicePrincipalEnabled = false }
        do {
            let agent = world.agent(config)
            defer { agent.shutdown() }
            await try #require(agent.directory).read(certificate)
            let finding = try #require(agent.board.directory["cert"]?.findings.first)
            #expect(
                finding.hasPrefix("the service principal of application \(Names.client) (canary-app) is disabled (accountEnabled: false)")
                    && finding.hasSuffix("Fix: az ad sp update --id \(Names.client) --set accountEnabled=true"), "\(finding)")
        }
    }

    /// A managed identity: its token says which identity the host gave, and Graph knows its
    /// service principal (no application).
    @Test func aManagedIdentitySaysWhichIdentityTheHostGave() async throws {
        let world = try World()
        Self.readable(world)
        world.simulator.addManagedIdentity(MI.user)
        let imds = world.simulator.authority + "/metadata/identity/oauth2/token"
        let config = try world.config(
            world.oneSecondConfig(
                credentials: world.credentialsYAML() + "  mi:\n    type: managed_identity\n    client_id: \(MI.user.clientID)\n    endpoint: \(imds)\n\n",
                resources: "")
                + "directory:\n  credential: app\n  endpoint: \(world.simulator.authority)\n")
        let agent = world.agent(config)
        defer { agent.shutdown() }
        await try #require(agent.directory).read(try #require(config.credential(named: "mi")))
        let facts = try #require(agent.board.directory["mi"])
        let name = MI.user.resourceID.split(separator: "/").last.map(String.init) ?? "?"
        #expect(
            facts.lines.contains("the host gave the user-assigned identity \(name) (client id \(MI.user.clientID), object id \(MI.user.objectID))"),
            "\(facts.lines)")
        #expect(facts.servicePrincipalEnabled == true && facts.findings.isEmpty && facts.problems.isEmpty, "\(facts)")
    }

    /// A fact that changes between two reads without being a finding is logged: a rotated
    /// secret's new end date, which also moves the expiry series.
    @Test func aChangedEndDateIsLoggedOnTheNextRead() async throws {
        let world = try World()
        Self.readable(world)
        let config = try world.config(
            world.oneSecondConfig(credentials: world.credentialsYAML(), resources: "")
                + "directory:\n  credential: app\n  endpoint: \(world.simulator.authority)\n")
        let agent = world.agent(config)
        defer { agent.shutdown() }
        let monitor = try #require(agent.directory)
        let credential = try #require(config.credential(named: "app"))
        await monitor.read(credential)
        #expect(agent.value(CanaryMetrics.credentialExpiry, ["app", "client_secret", "directory"]) == Self.secretExpiry)
        world.simulator.updateApplication(clientID: Names.client) { $0.secretExpiresAt = Self.secretExpiry + 30 * 86400 }
        await monitor.read(credential)
        #expect(
            world.logs.value.contains(
                "app: the directory's end date of the configured client secret changed from 2030-03-17T17:46:40.000Z to 2030-04-16T17:46:40.000Z"),
            "\(world.logs.value)")
        #expect(agent.value(CanaryMetrics.credentialExpiry, ["app", "client_secret", "directory"]) == Self.secretExpiry + 30 * 86400)
    }

    /// Throttled, the reads wait as long as Graph says and then go on: the facts come once it
    /// lets them through, without waiting out the interval (an hour).
    @Test func aThrottledReadResumesAfterRetryAfter() async throws {
        let world = try World()
        Self.readable(world)
        world.simulator.setGraphStatus(429)
        let simulator = world.simulator
        let lift = Task {
            try await Task.sleep(for: .seconds(2))
            simulator.setGraphStatus(nil)
        }
        let (metrics, log, _) = try await Self.run(world, credentials: world.credentialsYAML()) {
            sampleValue($0, #"aoai_canary_credential_in_directory{credential="app"}"#) != nil
        }
        _ = try? await lift.value
        #expect(log.contains("Microsoft Graph throttles the directory reads: they resume in 7 s"), "\(log)")
        #expect(sampleValue(metrics, #"aoai_canary_credential_in_directory{credential="app"}"#) == 1, "\(metrics)")
    }

    @Test(arguments: ["forbidden", "throttled", "down"])
    func aDirectoryThatCannotBeReadNeverStopsTheProbes(_ fault: String) async throws {
        let world = try World()
        switch fault {
        case "forbidden": break  // no Application.Read.All
        case "throttled":
            Self.readable(world)
            world.simulator.setGraphStatus(429)
        default:
            Self.readable(world)
            world.simulator.setGraphStatus(503)
        }
        let (metrics, log, _) = try await Self.run(world, credentials: world.credentialsYAML()) {
            (sampleValue($0, #"aoai_canary_probes_total{resource="entra",auth="entra_id"}"#) ?? 0) >= 3
                && (sampleValue($0, #"aoai_canary_directory_requests_total{result="failure"}"#) ?? 0) >= 1
        }
        #expect((sampleValue(metrics, #"aoai_canary_probes_total{resource="entra",auth="entra_id"}"#) ?? 0) >= 3, "rounds went on: \(metrics)")
        #expect(sampleValue(metrics, #"aoai_canary_probe_success{resource="entra",auth="entra_id"}"#) == 1)
        #expect((sampleValue(metrics, #"aoai_canary_directory_requests_total{result="failure"}"#) ?? 0) >= 1)
        #expect(!metrics.contains("aoai_canary_credential_in_directory{"), "nothing is known: \(metrics)")
        switch fault {
        case "forbidden":
            #expect(log.contains("HTTP 403 Authorization_RequestDenied") && log.contains("Application.Read.All"), "\(log)")
        case "throttled":
            #expect(log.contains("Microsoft Graph throttles the directory reads: they resume in 7 s"), "\(log)")
        default:
            #expect(log.contains("the directory could not be read") && log.contains("HTTP 503"), "\(log)")
        }
    }
}
