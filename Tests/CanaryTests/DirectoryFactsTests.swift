// What the directory's facts say against the configured credential, as values.
import Testing

@testable import Config
@testable import ControlPlane

@Suite struct DirectoryFactsTests {
    static let userAssigned = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/canary-identity"

    static func managed(_ requested: ManagedIdentitySelector, clientID: String = "c1", objectID: String = "o1", resourceID: String?) -> DirectoryFacts {
        DirectoryFacts(
            credential: "mi", appID: clientID, readAt: 0,
            presented: .managedIdentity(requested: requested, clientID: clientID, objectID: objectID, resourceID: resourceID))
    }

    @Test func aManagedIdentityOtherThanTheConfiguredOneIsNamed() {
        #expect(
            Self.managed(.systemAssigned, resourceID: Self.userAssigned).findings == [
                "the host gave the user-assigned identity canary-identity (client id c1, object id o1), not its system-assigned identity: the "
                    + "configuration asks for the system-assigned one"
            ])
        #expect(Self.managed(.clientID("C1"), resourceID: Self.userAssigned).findings.isEmpty, "client ids compare without case")
        #expect(Self.managed(.clientID("c2"), resourceID: Self.userAssigned).findings.first?.hasSuffix("not the configured client id c2") == true)
        #expect(Self.managed(.systemAssigned, resourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm").findings.isEmpty)
    }

    @Test func theClosestFederatedCredentialNamesWhatDiffers() {
        var facts = DirectoryFacts(
            credential: "wi", appID: "app", readAt: 0,
            presented: .federatedToken(issuer: "https://oidc/a", subject: "system:serviceaccount:prod:canary", audiences: ["api://AzureADTokenExchange"]))
        facts.federatedCredentials = [
            DirectoryFederatedCredential(name: "far", issuer: "https://oidc/b", subject: "other", audiences: ["x"]),
            DirectoryFederatedCredential(
                name: "near", issuer: "https://oidc/a", subject: "system:serviceaccount:monitoring:canary", audiences: ["api://AzureADTokenExchange"]),
        ]
        #expect(facts.federatedMatch == false)
        #expect(
            facts.federatedMismatch
                == "the workload's token matches no federated credential of application app: subject is system:serviceaccount:prod:canary; the "
                + "federated credential near expects system:serviceaccount:monitoring:canary")
        facts.federatedCredentials?.append(
            DirectoryFederatedCredential(
                name: "exact", issuer: "https://oidc/a", subject: "system:serviceaccount:prod:canary", audiences: ["api://AzureADTokenExchange"]))
        #expect(facts.federatedMatch == true && facts.findings.isEmpty)
    }

    @Test func aSecretIsFoundByItsHintAndTheEarliestOfSharedHintsCounts() {
        var facts = DirectoryFacts(credential: "app", appID: "app", readAt: 0, presented: .secret(hint: "abc"))
        #expect(facts.registration == .unknown, "nothing read")
        facts.secrets = [
            DirectorySecret(hint: "abc", keyID: "1", expiresAt: 2000), DirectorySecret(hint: "abc", keyID: "2", expiresAt: 1000),
            DirectorySecret(hint: "xyz", keyID: "3", expiresAt: 500),
        ]
        #expect(facts.registration == .found(expiresAt: 1000, kind: "client_secret"))
        facts.secrets = [DirectorySecret(hint: "xyz", keyID: "3", expiresAt: 500)]
        #expect(facts.registration == .missing)
    }
}
