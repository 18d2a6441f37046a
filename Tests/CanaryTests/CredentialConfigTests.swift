// Every credential type decodes from the file, with environment defaults; broken ones report in place.
import Testing

@testable import Auth
@testable import Config

@Suite struct CredentialConfigTests {
    let directory = fixturesDirectory + "/config"

    @Test func everyTypeDecodes() throws {
        let variables = [
            "AZURE_TENANT_ID": "env-tenant", "AZURE_CLIENT_ID": "env-client",
            "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token", "AZURE_AUTHORITY_HOST": "https://login.chinacloudapi.cn/",
        ]
        let config = try ConfigLoader.load(path: directory + "/credentials.yaml", variables: variables)
        func settings(_ name: String) -> CredentialSettings? { config.credential(named: name)?.settings }

        guard case .clientSecret(let secret)? = settings("secret") else {
            Issue.record("secret")
            return
        }
        #expect(secret.secretExpires == 1_803_859_200)  // 2027-03-01T00:00:00Z

        guard case .clientCertificate(let rs)? = settings("cert-rs"), case .clientCertificate(let ps)? = settings("cert-ps") else {
            Issue.record("certificates")
            return
        }
        #expect(rs.algorithm.rawValue == "RS256")
        #expect(rs.privateKeyPath == directory + "/app.key")
        #expect(rs.certificateNotAfter == 2_426_328_711)
        #expect(ps.algorithm.rawValue == "PS256")
        #expect(ps.privateKeyPath == nil)  // the key came from the certificate file

        guard case .workloadIdentity(let aks)? = settings("aks"), case .workloadIdentity(let explicit)? = settings("aks-explicit") else {
            Issue.record("workload identity")
            return
        }
        #expect(aks.tenantID == "env-tenant" && aks.clientID == "env-client" && aks.tokenFile == "/var/run/token")
        #expect(aks.authority == "https://login.chinacloudapi.cn")
        #expect(explicit.tenantID == "t9.example" && explicit.authority == "https://login.microsoftonline.us")

        guard case .managedIdentity(let vm)? = settings("vm"), case .managedIdentity(let object)? = settings("vm-object"),
            case .managedIdentity(let arc)? = settings("arc")
        else {
            Issue.record("managed identity")
            return
        }
        #expect(vm.kind == .imds && vm.selector == .clientID("00000000-0000-0000-0000-00000000000a"))
        #expect(vm.endpoint == ManagedIdentitySettings.imdsEndpoint)
        #expect(vm.resource == "https://cognitiveservices.azure.com")
        #expect(object.selector == .objectID("o1") && object.endpoint == "http://127.0.0.1:9/metadata/identity/oauth2/token")
        #expect(arc.kind == .arc && arc.endpoint == ManagedIdentitySettings.arcEndpoint && arc.arcKeyDirectory == "/tmp/arc/")

        guard case .azureCLI(let cli)? = settings("laptop") else {
            Issue.record("cli")
            return
        }
        #expect(cli.azPath == "/usr/local/bin/az" && cli.tenantID == "t1.example" && cli.timeoutSeconds == 30)

        guard case .chain(let chain)? = settings("anything") else {
            Issue.record("default")
            return
        }
        #expect(chain.candidates.map(\.typeName) == ["workload_identity", "managed_identity", "azure_cli"])
    }

    @Test(arguments: [
        ([String: String](), ManagedIdentityKind.imds),
        (["IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi/token", "IDENTITY_HEADER": "h"], .appService),
        (["IDENTITY_ENDPOINT": "http://localhost:40342/metadata/identity/oauth2/token", "IMDS_ENDPOINT": "http://localhost:40342"], .arc),
    ])
    func automaticSourcePicksByEnvironment(variables: [String: String], kind: ManagedIdentityKind) throws {
        let text = "credentials:\n  mi:\n    type: managed_identity\n"
        let config = try ConfigLoader.decode(text, file: "mi.yaml", environment: ConfigEnvironment(variables: variables, configDirectory: "/"))
        guard case .managedIdentity(let settings)? = config.credential(named: "mi")?.settings else {
            Issue.record("type")
            return
        }
        #expect(settings.kind == kind)
        if kind == .appService {
            #expect(settings.endpoint == "http://127.0.0.1:1/msi/token")
            #expect(settings.identityHeader == Secret("h"))
        }
    }

    @Test func theDefaultChainFollowsTheEnvironment() throws {
        let text = "credentials:\n  d:\n    type: default\n"
        let variables = [
            "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s", "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:5/",
        ]
        let config = try ConfigLoader.decode(text, file: "d.yaml", environment: ConfigEnvironment(variables: variables, configDirectory: "/"))
        guard case .chain(let chain)? = config.credential(named: "d")?.settings else {
            Issue.record("type")
            return
        }
        #expect(chain.candidates.map(\.typeName) == ["client_secret", "managed_identity", "azure_cli"])
        guard case .managedIdentity(let mi) = chain.candidates[1] else {
            Issue.record("mi")
            return
        }
        #expect(mi.endpoint == "http://127.0.0.1:5/metadata/identity/oauth2/token")
        #expect(mi.selector == .clientID("c"))
    }

    @Test func brokenCredentialsReportEveryErrorInPlace() throws {
        let path = directory + "/bad-credentials.yaml"
        #expect {
            _ = try ConfigLoader.load(path: path, variables: [:])
        } throws: { error in
            let lines = "\(error)".split(separator: "\n").map { String($0.dropFirst(path.count + 1)) }
            let expected = [
                "7:23: credentials.cert-mismatch.private_key_file: the private key does not belong to the certificate",
                "12:23: credentials.cert-missing.certificate_file: cannot read",
                "13:26: credentials.cert-missing.assertion_algorithm: invalid value \"ES256\"",
                "18:23: credentials.cert-no-key.certificate_file: cannot use certificate_file",
                "20:5: credentials.aks.tenant_id: missing tenant_id, and AZURE_TENANT_ID is not set",
                "20:5: credentials.aks.client_id: missing client_id, and AZURE_CLIENT_ID is not set",
                "20:5: credentials.aks.token_file: missing token_file, and AZURE_FEDERATED_TOKEN_FILE is not set",
                "23:13: credentials.vm.source: invalid value \"cloud_shell\"",
                "25:16: credentials.vm.object_id: give at most one of client_id, object_id and resource_id",
                "31:21: credentials.secret.secret_expires: invalid date \"next year\"",
                "32:5: credentials.secret.token_file: unknown key \"token_file\"",
                // The short name, and a GUID missing a digit: neither a GUID nor a domain name.
                "35:16: credentials.short-name.tenant_id: a tenant id is a GUID (00000000-0000-0000-0000-000000000000) or a domain name such as "
                    + "contoso.onmicrosoft.com: 'contoso' is neither",
                "40:16: credentials.clipped-guid.tenant_id: a tenant id is a GUID",
            ]
            #expect(lines.count == expected.count, "\(error)")
            for (line, wanted) in zip(lines, expected) {
                #expect(line.hasPrefix(wanted), "\(line)\nshould start with\n\(wanted)")
            }
            return true
        }
    }

    @Test(arguments: [
        (TokenAcquisitionError.rejected(status: 401, error: "invalid_client", aadsts: 7_000_215, summary: ""), RefreshFailureReason.invalidClient),
        (.rejected(status: 401, error: "invalid_client", aadsts: 7_000_222, summary: ""), .expiredSecret),
        (.rejected(status: 400, error: "unauthorized_client", aadsts: 700016, summary: ""), .unknownApplication),
        (.rejected(status: 400, error: "invalid_request", aadsts: 90002, summary: ""), .tenantNotFound),
        (.rejected(status: 401, error: "invalid_client", aadsts: 700024, summary: ""), .assertionInvalid),
        (.rejected(status: 401, error: "invalid_client", aadsts: 700027, summary: ""), .assertionInvalid),
        (.rejected(status: 400, error: "invalid_request", aadsts: 70021, summary: ""), .noFederatedMatch),
        (.rejected(status: 401, error: "invalid_client", aadsts: 1234, summary: ""), .invalidClient),
        (.rejected(status: 400, error: "invalid_scope", aadsts: 70011, summary: ""), .invalidScope),
        (.rejected(status: 400, error: "invalid_scope", aadsts: 1_002_012, summary: ""), .invalidScope),
        (.rejected(status: 400, error: "invalid_resource", aadsts: 500011, summary: ""), .invalidScope),
        (.rejected(status: 401, error: "invalid_client", aadsts: 700211, summary: ""), .noFederatedMatch),
        (.rejected(status: 401, error: "invalid_client", aadsts: 700212, summary: ""), .noFederatedMatch),
        (.rejected(status: 401, error: "invalid_client", aadsts: 700213, summary: ""), .noFederatedMatch),
        (.rejected(status: 400, error: "invalid_request", aadsts: 70025, summary: ""), .noFederatedMatch),
        (.rejected(status: 400, error: "invalid_request", aadsts: 900023, summary: ""), .tenantNotFound),
        (.rejected(status: 400, error: "unauthorized_client", aadsts: 7_000_112, summary: ""), .applicationDisabled),
        (.rejected(status: 400, error: "interaction_required", aadsts: 53003, summary: ""), .conditionalAccess),
        (.rejected(status: 400, error: "invalid_scope", aadsts: nil, summary: ""), .invalidScope),
        (.rejected(status: 400, error: "invalid_request", aadsts: 90061, summary: ""), .other),
        (.managedIdentity(status: 400, detail: "Identity not found"), .noManagedIdentity),
        (.imdsUnavailable("410"), .imdsUnavailable),
        (.cliNotLoggedIn("run az login"), .cliNotLoggedIn),
        (.cliFailed("boom"), .other),
        (.transport(.timeout(seconds: 1)), .timeout),
        (.transport(.connectionFailed("refused")), .connectionFailed),
        (.badResponse(status: 200, detail: "x"), .badResponse),
        (.chainExhausted(["a", "b"], last: .cliNotLoggedIn("x")), .cliNotLoggedIn),
    ])
    func refreshFailuresHaveTheirReason(error: TokenAcquisitionError, reason: RefreshFailureReason) {
        #expect(RefreshFailureReason(error) == reason)
    }
}
