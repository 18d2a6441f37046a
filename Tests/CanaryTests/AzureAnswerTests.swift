// docs/azure-answers.md as fixtures: every real answer recorded there gets the reason it names.
import Foundation
import JSON
import Testing

@testable import Auth
@testable import Config
@testable import ControlPlane
@testable import Probe

/// One `answer` block of docs/azure-answers.md.
struct RecordedAnswer: Sendable, CustomTestStringConvertible {
    var line: Int
    var sources: [String] = []
    var surface = ""
    var auth = ""
    var status = 0
    var headers: [(name: String, value: String)] = []
    var body = ""
    var reason = ""
    var audience: String?
    var summary: String?
    /// The resource is configured behind a gateway (`gateway: yes`).
    var gateway = false
    var testDescription: String { "docs/azure-answers.md:\(line) \(reason)" }

    /// The document's blocks, in order; a block with an unknown key is a failing entry, not skipped.
    static let all: [RecordedAnswer] = {
        let root = fixturesDirectory.components(separatedBy: "/Tests/")[0]
        let text = (try? String(contentsOfFile: root + "/docs/azure-answers.md", encoding: .utf8)) ?? ""
        var answers: [RecordedAnswer] = []
        var current: RecordedAnswer?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line == "```answer" {
                current = RecordedAnswer(line: index + 1)
                continue
            }
            guard var answer = current else { continue }
            if line == "```" {
                answers.append(answer)
                current = nil
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                answer.reason = "unparsable line \(index + 1)"
                current = answer
                continue
            }
            let key = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop { $0 == " " })
            switch key {
            case "source": answer.sources.append(value)
            case "surface": answer.surface = value
            case "auth": answer.auth = value
            case "status": answer.status = Int(value) ?? -1
            case "header":
                let parts = value.split(separator: ":", maxSplits: 1)
                answer.headers.append((String(parts[0]), parts.count > 1 ? String(parts[1].drop { $0 == " " }) : ""))
            case "body": answer.body = value
            case "reason": answer.reason = value
            case "aud": answer.audience = value
            case "summary": answer.summary = value
            case "gateway": answer.gateway = value == "yes"
            default: answer.reason = "unknown key \(key) at line \(index + 1)"
            }
            current = answer
        }
        return answers
    }()
}

@Suite struct AzureAnswerTests {
    @Test(arguments: RecordedAnswer.all.filter { $0.surface == "data_plane" || $0.surface == "gateway" })
    func theDataPlaneAnswerGetsItsReason(_ answer: RecordedAnswer) throws {
        #expect(!answer.sources.isEmpty, "an answer without a source")
        let auth = try #require(AuthMode(rawValue: answer.auth), "auth must be api_key or entra_id")
        let expected = try #require(FailureReason(rawValue: answer.reason), "no reason \(answer.reason)")
        var verdict = ResponseClassifier.classify(
            status: answer.status, body: Array(answer.body.utf8), headers: answer.headers, auth: auth, gateway: answer.gateway)
        if let audience = answer.audience {
            let claims = try TokenClaims.decode(jwt: makeJWT(#"{"aud":"\#(audience)","tid":"t","oid":"o","exp":9999999999}"#))
            verdict = TokenDiagnosis.refine(verdict, claims: claims, endpoint: "https://r.openai.azure.com/", serviceTime: 1_800_000_000)
        }
        #expect(verdict.reason == expected, "\(verdict)")
        // The gateway's own answers say so, and their fixes point at it.
        #expect(verdict.failure?.evidence.fromGateway == (answer.surface == "gateway" && !answer.body.contains("\"error\"")), "\(verdict)")
        if answer.status == 429, answer.headers.contains(where: { $0.name.lowercased().hasPrefix("retry-after") }) {
            #expect(ResponseClassifier.retryAfter(answer.headers) != nil)
        }
    }

    @Test(arguments: RecordedAnswer.all.filter { $0.surface == "token_endpoint" || $0.surface == "managed_identity" })
    func theTokenAnswerGetsItsRefreshReasonAndAWholeSummary(_ answer: RecordedAnswer) throws {
        #expect(!answer.sources.isEmpty, "an answer without a source")
        let expected = try #require(RefreshFailureReason(rawValue: answer.reason), "no refresh reason \(answer.reason)")
        let error: TokenAcquisitionError
        if answer.surface == "managed_identity" {
            error = ManagedIdentitySource.error(status: answer.status, body: Array(answer.body.utf8))
        } else {
            do {
                _ = try TokenResponse.parse(status: answer.status, body: Array(answer.body.utf8), now: 0)
                Issue.record("an error answer parsed as a token")
                return
            } catch let failure {
                error = failure
            }
        }
        #expect(RefreshFailureReason(error) == expected, "\(error)")
        let text = error.description
        if let summary = answer.summary {
            #expect(text.contains(summary), "the summary cut the message short: \(text)")
        }
        // The trace suffix goes, whichever separator the service used.
        #expect(!text.contains("Trace ID") && !text.contains("Correlation ID") && !text.contains("\r") && !text.contains("\n"), "\(text)")
    }

    @Test func everyReasonWithAnAnswerBodyHasARecordedAnswer() {
        let recorded = Set(RecordedAnswer.all.map(\.reason))
        // Reasons from the network or the host, or refined from a token's claims by clock
        // (docs/azure-answers.md, "Reasons without an answer body").
        let withoutBody: Set<String> = [
            "timeout", "connection_failed", "dns_failed", "tls_failed", "unexpected_status",
            "token_expired", "token_not_yet_valid", "token_acquisition_failed",
            "bad_response", "imds_unavailable", "cli_not_logged_in", "role_propagating",
        ]
        for reason in FailureReason.allCases.map(\.rawValue) + RefreshFailureReason.allCases.map(\.rawValue) where !withoutBody.contains(reason) {
            #expect(recorded.contains(reason), "docs/azure-answers.md records no answer for \(reason)")
        }
        #expect(RecordedAnswer.all.count >= 40, "the document has \(RecordedAnswer.all.count) answers: is it parsed?")
    }

    /// Microsoft Graph's real answers, through the directory reader's parsers.
    @Test(arguments: RecordedAnswer.all.filter { $0.surface == "graph" })
    func graphAnswersParseIntoTheFactsTheyHold(_ answer: RecordedAnswer) throws {
        let json = try #require(JSONValue.parse(Array(answer.body.utf8)), "not JSON: \(answer.body)")
        switch answer.reason {
        case "graph_password_credential":
            let secrets = DirectoryReader.secrets(.object([("passwordCredentials", .array([json]))]))
            #expect(secrets == [DirectorySecret(hint: "7BZ", keyID: "9ec834fa-cd16-4a95-aa3c-93ff100c43a0", displayName: "key 1", expiresAt: 10_413_791_999)])
        case "graph_key_credential":
            // Graph's own example shows the thumbprint beside its base64 form: they agree.
            let certificates = DirectoryReader.certificates(.object([("keyCredentials", .array([json]))]))
            #expect(certificates.map(\.thumbprint) == [json["thumbprint"]?.stringValue ?? "?"])
            #expect(certificates.first?.expiresAt == 1_706_140_800)
        case "graph_key_credential_hex":
            #expect(DirectoryReader.certificates(json).map(\.thumbprint) == ["BB5D1064437D8720A5C53078185E6A361A78B10A"])
        case "graph_federated_credentials":
            #expect(
                DirectoryReader.federatedCredentials(json) == [
                    DirectoryFederatedCredential(
                        name: "Testing", issuer: "https://token.actions.githubusercontent.com/", subject: "repo:octo-org/octo-repo:environment:Production",
                        audiences: ["api://AzureADTokenExchange"])
                ])
        case "graph_authorization_denied", "graph_not_found", "graph_throttled":
            // Graph's errors have Resource Manager's shape: the reader names the code.
            let code = json["error"]?["code"]?.stringValue
            #expect(
                code
                    == [
                        "graph_authorization_denied": "Authorization_RequestDenied", "graph_not_found": "Request_ResourceNotFound",
                        "graph_throttled": "TooManyRequests",
                    ][answer.reason])
            if answer.reason == "graph_throttled" {
                #expect(ResponseClassifier.retryAfter(answer.headers) == 2.128)
            }
        default:
            Issue.record("no check for \(answer.reason)")
        }
    }

    /// Resource Manager's real answers, through the reader's parsers: the facts the agent takes
    /// from each are the ones the answer holds.
    @Test(arguments: RecordedAnswer.all.filter { $0.surface == "resource_manager" })
    func resourceManagerAnswersParseIntoTheFactsTheyHold(_ answer: RecordedAnswer) throws {
        let json = try #require(JSONValue.parse(Array(answer.body.utf8)), "not JSON: \(answer.body)")
        let chat = ProbeKind.chatCompletions.dataAction
        switch answer.reason {
        case "arm_account":
            let account = ControlPlaneReader.account(json)
            #expect(
                account
                    == AccountFacts(
                        kind: "OpenAI", location: "eastus", endpoint: "https://terraform.openai.azure.com/", customSubDomain: "terraform",
                        localAuthDisabled: true, publicNetworkAccess: "Enabled", networkDefaultAction: nil))
        case "arm_account_without_subdomain":
            let account = ControlPlaneReader.account(json)
            #expect(account.customSubDomain == nil && !account.localAuthDisabled && account.networkDefaultAction == nil, "null is unset")
            let facts = ControlPlaneFacts(
                armID: ARMResourceID("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a")!,
                readAt: 0, account: account)
            #expect(facts.findings(hasKeyCanary: true, hasEntraCanary: true, deployment: nil).map(\.check) == [.noCustomSubdomain])
        case "arm_deployments":
            #expect(ControlPlaneReader.deployments(json) == [DeploymentFacts(name: "deploymentName", model: "ada", version: "1", state: "Succeeded")])
        case "arm_role_assignments":
            let item = try #require(json["value"]?.arrayValue?.first?["properties"])
            #expect(item["roleDefinitionId"]?.stringValue?.hasSuffix("/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1") == true)
            #expect(item["createdOn"]?.stringValue.flatMap(ControlPlaneReader.timestamp) == 1_642_280_925.4904312)
        case "arm_role_definition":
            let permissions = (json["properties"]?["permissions"]?.arrayValue ?? []).map(ControlPlaneReader.permission)
            let grant = RoleGrant(
                roleID: "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", roleName: "Cognitive Services OpenAI User", scope: "/", createdOn: nil, permissions: permissions
            )
            #expect(
                grant.allows(dataAction: chat) && grant.allows(dataAction: ProbeKind.embeddings.dataAction)
                    && grant.allows(dataAction: ProbeKind.models.dataAction))
            #expect(!grant.allows(dataAction: "Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"), "notDataActions win within the block")
            #expect(!grant.allows(dataAction: ProbeKind.responses.dataAction), "the 12/2024 definition does not cover responses/write")
        case "arm_role_definition_control_only":
            let permissions = (json["properties"]?["permissions"]?.arrayValue ?? []).map(ControlPlaneReader.permission)
            let grant = RoleGrant(roleID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", roleName: "Owner", scope: "/", createdOn: nil, permissions: permissions)
            #expect(!grant.grantsData && !grant.allows(dataAction: chat) && grant.summary == "Owner (control plane only)")
        case "arm_user_assigned_identities":
            #expect(
                DirectoryReader.identity(in: json, clientID: "4024AB25-56a8-4370-aea6-6389221caf29")
                    == DirectoryIdentity(
                        armID: "/subscriptions/subid/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/identityName",
                        name: "identityName", resourceGroup: "rgName"))
            #expect(DirectoryReader.identity(in: json, clientID: "00000000-0000-0000-0000-000000000000") == nil)
        case "arm_identity_federated_credentials":
            #expect(
                DirectoryReader.identityCredentials(json) == [
                    DirectoryFederatedCredential(
                        name: "ficResourceName", issuer: "https://oidc.prod-aks.azure.com/TenantGUID/IssuerGUID",
                        subject: "system:serviceaccount:ns:svcaccount",
                        audiences: ["api://AzureADTokenExchange"])
                ])
        case "arm_authorization_failed", "arm_not_found":
            #expect(answer.status == (answer.reason == "arm_not_found" ? 404 : 403))
            let code = json["error"]?["code"]?.stringValue
            #expect(code == (answer.reason == "arm_not_found" ? "ResourceNotFound" : "AuthorizationFailed"))
        default:
            Issue.record("no check for \(answer.reason)")
        }
    }
}
