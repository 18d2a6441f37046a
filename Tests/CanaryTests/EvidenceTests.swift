// A failure's evidence is fields; its one line of text is made in one place. One test per
// sentence that line can be.
import Testing

@testable import Auth
@testable import Config
@testable import ControlPlane
@testable import Log
@testable import Probe
@testable import Support

@Suite struct EvidenceTests {
    static let now = 1_800_000_000.0
    static let token = TokenEvidence(
        claims: TokenClaims(
            audience: "https://management.azure.com", tenantID: "tenant-a", objectID: "object-1", notBefore: now - 60, expiresAt: now - 30, roles: []),
        expectedAudience: "https://cognitiveservices.azure.com", serviceTime: now)

    static func failure(_ reason: FailureReason, _ evidence: Evidence, token: TokenEvidence? = nil) -> ProbeFailure {
        var evidence = evidence
        evidence.token = token
        return ProbeFailure(reason: reason, evidence: evidence)
    }

    @Test func theServicesAnswer() {
        let denied = Evidence(httpStatus: 401, serviceCode: "PermissionDenied", serviceMessage: "The principal `p` lacks the required data action `a`.")
        #expect(
            Self.failure(.permissionDenied, denied).detail(now: Self.now) == "HTTP 401 PermissionDenied: The principal `p` lacks the required data action `a`.")
        // A code that only repeats the status is not said twice; no message says the status alone.
        #expect(
            Self.failure(.invalidAPIKey, Evidence(httpStatus: 401, serviceCode: "401", serviceMessage: "Access denied")).detail(now: Self.now)
                == "HTTP 401 Access denied")
        #expect(Self.failure(.serverError, Evidence(httpStatus: 503)).detail(now: Self.now) == "HTTP 503")
        #expect(Self.failure(.unexpectedStatus, Evidence(httpStatus: 200, bodyNotJSON: true)).detail(now: Self.now) == "HTTP 200 without a JSON object body")
        #expect(Self.failure(.timeout, Evidence(failure: "timed out after 10 s")).detail(now: Self.now) == "timed out after 10 s")
    }

    @Test func whatTheTokensClaimsSay() {
        let rejected = Evidence(httpStatus: 401, serviceCode: "401", serviceMessage: "Unauthorized")
        #expect(
            Self.failure(.tokenAudienceMismatch, rejected, token: Self.token).detail(now: Self.now)
                == "the token's audience is https://management.azure.com; this endpoint wants https://cognitiveservices.azure.com")
        #expect(
            Self.failure(.tokenExpired, rejected, token: Self.token).detail(now: Self.now)
                == "the token expired at 2027-01-15T07:59:30.000Z, 30 s before the service's time")
        var early = Self.token
        early.notBefore = Self.now + 90
        #expect(
            Self.failure(.tokenNotYetValid, rejected, token: early).detail(now: Self.now)
                == "the token is valid from 2027-01-15T08:01:30.000Z, 90 s after the service's time: clock skew")
    }

    @Test func theTenantAndThePrincipal() {
        let tenant = Evidence(
            httpStatus: 400, serviceCode: "Tenant", serviceMessage: "Token tenant tenant-b does not match resource tenant.", namedTenant: "tenant-b")
        #expect(
            Self.failure(.wrongTenant, tenant, token: Self.token).detail(now: Self.now)
                == "the token is from tenant tenant-a (the service names tenant-b); the resource is in another tenant: HTTP 400 Tenant: Token tenant tenant-b "
                + "does not match resource tenant."
        )
        let named = Evidence(
            httpStatus: 401, serviceCode: "PermissionDenied", serviceMessage: "…", principal: "p-1",
            dataAction: "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
        #expect(
            Self.failure(.permissionDenied, named, token: Self.token).detail(now: Self.now)
                == "principal p-1 lacks the data action Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action (HTTP 401 "
                + "PermissionDenied)"
        )
        let unnamed = Evidence(httpStatus: 401, serviceCode: "PermissionDenied", serviceMessage: "Denied.")
        #expect(
            Self.failure(.permissionDenied, unnamed, token: Self.token).detail(now: Self.now)
                == "principal object-1 lacks a data-plane role: HTTP 401 PermissionDenied: Denied.")
    }

    static let owner = RoleEvidence.Role(name: "Owner", scope: "/subscriptions/s", assignedAt: nil, grantsData: false)
    static let user = RoleEvidence.Role(name: "Cognitive Services OpenAI User", scope: "/subscriptions/s/x", assignedAt: now - 40, grantsData: true)

    @Test func resourceManagersRoles() {
        var evidence = Evidence(httpStatus: 401, serviceCode: "PermissionDenied", serviceMessage: "…", principal: "p", dataAction: "act")
        evidence.roles = RoleEvidence(dataAction: "act", resourceID: "/subscriptions/s/x", held: [Self.owner], unread: [], covering: nil, tokenIssuedAt: nil)
        #expect(
            Self.failure(.permissionDenied, evidence, token: Self.token).detail(now: Self.now)
                == "principal p lacks the data action act (HTTP 401 PermissionDenied); "
                + "Resource Manager shows the principal holding: Owner at /subscriptions/s (control plane only); none grants act: assign Cognitive Services "
                + "OpenAI User at /subscriptions/s/x"
        )
        evidence.roles?.unread = ["Custom"]
        #expect(
            Self.failure(.permissionDenied, evidence, token: Self.token).detail(now: Self.now).hasSuffix(
                "Resource Manager shows the principal holding: Owner at /subscriptions/s (control plane only), Custom (definition not read); the definitions "
                    + "of Custom could not be read, "
                    + "so whether they grant act is unknown (see the problems on the status page); if none does, assign Cognitive Services OpenAI User at "
                    + "/subscriptions/s/x"
            ))
        evidence.roles = RoleEvidence(
            dataAction: "act", resourceID: "/subscriptions/s/x", held: [Self.owner, Self.user], unread: [], covering: Self.user, tokenIssuedAt: Self.now - 300)
        #expect(
            Self.failure(.rolePropagating, evidence, token: Self.token).detail(now: Self.now).hasSuffix(
                "; Resource Manager shows Cognitive Services OpenAI User at /subscriptions/s/x, assigned 40 s ago, which covers act: still propagating; the "
                    + "token in use was issued 5 min ago "
                    + "(before the assignment: a client holding a token that old may need a fresh one)"))
    }

    /// The control plane turns a denial into propagation only with a covering role, and leaves it
    /// alone when the roles could not be read.
    @Test func theControlPlaneExplainsWithFields() throws {
        let denied = Self.failure(.permissionDenied, Evidence(httpStatus: 401, serviceCode: "PermissionDenied"), token: Self.token)
        let armID = try #require(ARMResourceID("/subscriptions/5ab1/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/x"))
        var facts = ControlPlaneFacts(armID: armID, readAt: Self.now)
        #expect(facts.explain(denied, dataAction: "act", tokenIssuedAt: nil) == denied)
        facts.roles = [RoleGrant(roleID: "r", roleName: "Owner", scope: "/subscriptions/s", createdOn: nil, permissions: [])]
        let held = facts.explain(denied, dataAction: "act", tokenIssuedAt: nil)
        #expect(held.reason == .permissionDenied && held.evidence.roles?.held == [Self.owner] && held.evidence.roles?.covering == nil)
        facts.roles?.append(
            RoleGrant(
                roleID: "u", roleName: "Cognitive Services OpenAI User", scope: "/subscriptions/s/x", createdOn: Self.now - 40,
                permissions: [RolePermission(actions: [], notActions: [], dataActions: ["act"], notDataActions: [])]))
        let propagating = facts.explain(denied, dataAction: "act", tokenIssuedAt: Self.now - 300)
        #expect(
            propagating.reason == .rolePropagating && propagating.evidence.roles?.covering == Self.user
                && propagating.evidence.roles?.tokenIssuedAt == Self.now - 300)
    }
}
