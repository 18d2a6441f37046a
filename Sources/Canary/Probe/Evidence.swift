// What a failed probe rests on, as values: the answer, the token sent, the names the service gave
// and Resource Manager's roles. Text is made of it once, by `ProbeFailure.detail(now:)`, at the
// edges that show it (the status page, the log line, `diagnose`).
import Auth
import Log
import Support

/// A probe's verdict: success, or a reason with its evidence.
public enum ProbeVerdict: Sendable, Equatable {
    case success
    /// Boxed: a verdict stays a word wide, since every probe's result and every status row holds one.
    indirect case failure(ProbeFailure)

    public var reason: FailureReason? { failure?.reason }

    public var failure: ProbeFailure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }

    /// A failure with its evidence.
    public static func failure(_ reason: FailureReason, _ evidence: Evidence) -> ProbeVerdict {
        .failure(ProbeFailure(reason: reason, evidence: evidence))
    }
}

/// Why a probe failed, and what shows it.
public struct ProbeFailure: Sendable, Equatable {
    public var reason: FailureReason
    public var evidence: Evidence

    public init(reason: FailureReason, evidence: Evidence) {
        self.reason = reason
        self.evidence = evidence
    }

    /// What to change: the reason's fix, or for `request_rejected` what in the probe to change,
    /// given what the service objected to.
    public var fix: String {
        // A made-up version is the likeliest cause of a not found (or of a refused request).
        if let version = evidence.unpublishedAPIVersion, reason == .notFound || reason == .requestRejected, !evidence.fromGateway {
            return
                "Fix api_version: \(version) is not a version Azure OpenAI has published, and the service answers one with 404 \"Resource not found\" "
                + "(400 \"API version not supported\" since 2025); use v1, 2024-10-21 or a listed preview such as 2025-04-01-preview."
        }
        return reason.fix(code: evidence.serviceCode, message: evidence.serviceMessage, gateway: evidence.fromGateway)
    }
}

/// The facts behind a failure, each in a field of its own.
public struct Evidence: Sendable, Equatable {
    /// The HTTP status of the answer; nil when none came.
    public var httpStatus: Int?
    /// The service's `error.code` (or the gateway's), whole.
    public var serviceCode: String?
    /// The service's `error.message` (or `message`), whole and redacted.
    public var serviceMessage: String?
    /// A success status whose body was not a JSON object.
    public var bodyNotJSON = false
    /// The answer was the gateway's own (API Management's shape and words), not the service's.
    public var fromGateway = false
    /// The probe's `api_version` when no Azure OpenAI surface has published it.
    public var unpublishedAPIVersion: String?
    /// Why no answer came (libcurl's failure), or why no token could be had.
    public var failure: String?
    /// The AADSTS code of a token request Entra ID refused.
    public var aadsts: Int?
    /// Who the service named: the principal of a `PermissionDenied`.
    public var principal: String?
    /// The data action a `PermissionDenied` named.
    public var dataAction: String?
    /// The token tenant a tenant mismatch named.
    public var namedTenant: String?
    /// The token sent, when the call was an Entra ID call with a token.
    public var token: TokenEvidence?
    /// Resource Manager's roles for the principal, when `control_plane:` read them.
    public var roles: RoleEvidence?
    /// What Entra ID's directory says of the credential, when `directory:` read it and a token
    /// request failed: the secret the application no longer holds, the federated credential
    /// that does not match and how, the disabled service principal.
    public var directory: [String] = []

    public init(
        httpStatus: Int? = nil, serviceCode: String? = nil, serviceMessage: String? = nil, bodyNotJSON: Bool = false, failure: String? = nil,
        aadsts: Int? = nil, principal: String? = nil, dataAction: String? = nil, namedTenant: String? = nil
    ) {
        self.httpStatus = httpStatus
        self.serviceCode = serviceCode
        self.serviceMessage = serviceMessage
        self.bodyNotJSON = bodyNotJSON
        self.failure = failure
        self.aadsts = aadsts
        self.principal = principal
        self.dataAction = dataAction
        self.namedTenant = namedTenant
    }
}

/// The claims of the token sent that bear on a refusal, and the service's time it was read at.
public struct TokenEvidence: Sendable, Equatable {
    public var audience: String?
    /// The audience the endpoint's cloud wants.
    public var expectedAudience: String
    public var tenantID: String?
    public var objectID: String?
    public var issuedAt: Double?
    public var expiresAt: Double?
    public var notBefore: Double?
    /// The service's clock (its `Date` header), or this host's when it sent none.
    public var serviceTime: Double

    public init(claims: TokenClaims?, expectedAudience: String, serviceTime: Double) {
        audience = claims?.audience
        self.expectedAudience = expectedAudience
        tenantID = claims?.tenantID
        objectID = claims?.objectID
        issuedAt = claims?.issuedAt
        expiresAt = claims?.expiresAt
        notBefore = claims?.notBefore
        self.serviceTime = serviceTime
    }
}

/// Resource Manager's view of the principal's roles, for a data-plane refusal.
public struct RoleEvidence: Sendable, Equatable {
    /// A role held at the resource or above.
    public struct Role: Sendable, Equatable {
        public var name: String
        public var scope: String
        public var assignedAt: Double?
        public var grantsData: Bool

        public init(name: String, scope: String, assignedAt: Double?, grantsData: Bool) {
            self.name = name
            self.scope = scope
            self.assignedAt = assignedAt
            self.grantsData = grantsData
        }
    }

    /// The data action the probe needs.
    public var dataAction: String
    /// The account's Resource Manager id.
    public var resourceID: String
    /// The roles held; nil when they could not be read.
    public var held: [Role]?
    /// Roles held whose definitions could not be read.
    public var unread: [String]
    /// The most recently assigned role that covers `dataAction`.
    public var covering: Role?
    /// When the token sent was issued, for telling an assignment that postdates it.
    public var tokenIssuedAt: Double?

    public init(dataAction: String, resourceID: String, held: [Role]?, unread: [String], covering: Role?, tokenIssuedAt: Double?) {
        self.dataAction = dataAction
        self.resourceID = resourceID
        self.held = held
        self.unread = unread
        self.covering = covering
        self.tokenIssuedAt = tokenIssuedAt
    }

    /// "Owner at /subscriptions/… (control plane only), Reader at … (control plane only)".
    public static func describe(held: [Role]?, unread: [String]) -> String {
        guard let held else { return "unknown" }
        if held.isEmpty, unread.isEmpty { return "none" }
        let unreadText = unread.isEmpty ? "" : "\(held.isEmpty ? "" : ", ")\(unread.joined(separator: ", ")) (definition not read)"
        return held.map { "\($0.name) at \($0.scope) (\($0.grantsData ? "data plane" : "control plane only"))" }.joined(separator: ", ") + unreadText
    }
}

// MARK: Rendering, once

extension ProbeFailure {
    /// The failure in one line, for the status page, the log and `diagnose`; `now` dates the
    /// ages it names ("assigned 40 s ago").
    public func detail(now: Double) -> String {
        var text = baseDetail
        if let roles = evidence.roles {
            text += "; " + Self.describe(roles, now: now)
        }
        if !evidence.directory.isEmpty {
            text += "; the directory says: " + evidence.directory.joined(separator: "; ")
        }
        return text
    }

    /// What the service said, bounded: "HTTP 401 PermissionDenied: The principal ...".
    public var answer: String {
        let e = evidence
        if let failure = e.failure { return failure }
        guard let status = e.httpStatus else { return "no answer" }
        if e.bodyNotJSON { return "HTTP \(status) without a JSON object body" }
        guard let message = e.serviceMessage, !message.isEmpty else { return "HTTP \(status)" }
        let code = e.serviceCode ?? ""
        let codeText = code.isEmpty || code == String(status) ? "" : code + ": "
        return "HTTP \(status) \(codeText)\(boundedLine(message, limit: TokenResponse.summaryLimit))"
    }

    private var baseDetail: String {
        guard let token = evidence.token else { return answer }
        switch reason {
        case .tokenAudienceMismatch:
            return "the token's audience is \(token.audience ?? "?"); this endpoint wants \(token.expectedAudience)"
        case .tokenExpired:
            let expiry = token.expiresAt ?? token.serviceTime
            return "the token expired at \(Timestamp.iso8601(wallSeconds: expiry)), \((token.serviceTime - expiry).clampedInt) s before the service's time"
        case .tokenNotYetValid:
            let notBefore = token.notBefore ?? token.serviceTime
            return
                "the token is valid from \(Timestamp.iso8601(wallSeconds: notBefore)), \((notBefore - token.serviceTime).clampedInt) s after the service's "
                + "time: clock skew"
        case .wrongTenant:
            let tenant = token.tenantID ?? "?"
            var text = "the token is from tenant \(tenant)"
            if let named = evidence.namedTenant, named != tenant { text += " (the service names \(named))" }
            return text + "; the resource is in another tenant: " + answer
        case .permissionDenied, .rolePropagating:
            let principal = evidence.principal ?? token.objectID ?? "?"
            guard let action = evidence.dataAction else { return "principal \(principal) lacks a data-plane role: \(answer)" }
            return "principal \(principal) lacks the data action \(action) (HTTP 401 PermissionDenied)"
        default:
            return answer
        }
    }

    private static func describe(_ roles: RoleEvidence, now: Double) -> String {
        let action = roles.dataAction
        if let role = roles.covering {
            let ago = role.assignedAt.map { " \(age(now - $0)) ago" } ?? ""
            let issued = roles.tokenIssuedAt.map { "; the token in use was issued \(age(now - $0)) ago" } ?? ""
            let stale =
                (role.assignedAt ?? 0) > (roles.tokenIssuedAt ?? .infinity)
                ? " (before the assignment: a client holding a token that old may need a fresh one)" : ""
            return "Resource Manager shows \(role.name) at \(role.scope), assigned\(ago), which covers \(action): still propagating\(issued)\(stale)"
        }
        let held = RoleEvidence.describe(held: roles.held, unread: roles.unread)
        if !roles.unread.isEmpty {
            // Unknown is said as unknown: a role whose definition could not be read may grant it.
            return
                "Resource Manager shows the principal holding: \(held); the definitions of \(roles.unread.joined(separator: ", ")) could not be read, so "
                + "whether they grant \(action) is unknown (see the problems on the status page); if none does, assign Cognitive Services OpenAI User at "
                + "\(roles.resourceID)"
        }
        return "Resource Manager shows the principal holding: \(held); none grants \(action): assign Cognitive Services OpenAI User at \(roles.resourceID)"
    }

    /// "40 s", "12 min", "3 h".
    static func age(_ seconds: Double) -> String {
        let whole = max(0, seconds).rounded().clampedInt
        if whole < 120 { return "\(whole) s" }
        if whole < 7200 { return "\(whole / 60) min" }
        return "\(whole / 3600) h"
    }
}
