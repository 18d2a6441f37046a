// What Azure Resource Manager says about a resource: the account, its deployments, and what the
// canary's principal may do there, with what could not be read and why.
import Config
import Probe

/// Azure RBAC's action patterns: `*` stands for any run of characters, case is ignored.
public enum ActionPattern {
    public static func matches(_ pattern: String, _ action: String) -> Bool {
        let pattern = Array(pattern.lowercased().utf8)
        let action = Array(action.lowercased().utf8)
        var (p, a, star, mark) = (0, 0, -1, 0)
        while a < action.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                (star, mark) = (p, a)
                p += 1
            } else if p < pattern.count, pattern[p] == action[a] {
                p += 1
                a += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                a = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// One permission block of a role definition (or of the permissions API's answer).
public struct RolePermission: Sendable, Equatable {
    public var actions: [String]
    public var notActions: [String]
    public var dataActions: [String]
    public var notDataActions: [String]

    public init(actions: [String] = [], notActions: [String] = [], dataActions: [String] = [], notDataActions: [String] = []) {
        self.actions = actions
        self.notActions = notActions
        self.dataActions = dataActions
        self.notDataActions = notDataActions
    }

    /// Allowed by this block: a data action pattern matches and no excluded pattern does (an
    /// exclusion applies within its own block only, as Azure evaluates them).
    public func allows(dataAction: String) -> Bool {
        dataActions.contains { ActionPattern.matches($0, dataAction) } && !notDataActions.contains { ActionPattern.matches($0, dataAction) }
    }
}

/// A role the principal holds at the resource or above it.
public struct RoleGrant: Sendable, Equatable {
    /// The role definition's GUID (the same in every cloud; names change, as Azure AI User did).
    public var roleID: String
    public var roleName: String
    /// Where it is assigned: the account, its group, its subscription, or above.
    public var scope: String
    /// When it was assigned (`createdOn`), Unix time.
    public var createdOn: Double?
    public var permissions: [RolePermission]

    public init(roleID: String, roleName: String, scope: String, createdOn: Double?, permissions: [RolePermission]) {
        self.roleID = roleID
        self.roleName = roleName
        self.scope = scope
        self.createdOn = createdOn
        self.permissions = permissions
    }

    /// Whether the role grants any data action at all (Owner, Contributor and Reader grant none).
    public var grantsData: Bool { permissions.contains { !$0.dataActions.isEmpty } }

    public func allows(dataAction: String) -> Bool { permissions.contains { $0.allows(dataAction: dataAction) } }

    /// The role as a verdict's evidence names it.
    public var evidence: RoleEvidence.Role {
        RoleEvidence.Role(name: roleName, scope: scope, assignedAt: createdOn, grantsData: grantsData)
    }

    /// "Owner (control plane only)" or "Cognitive Services OpenAI User (data plane)".
    public var summary: String { "\(roleName) (\(grantsData ? "data plane" : "control plane only"))" }
}

/// The account as Resource Manager describes it.
public struct AccountFacts: Sendable, Equatable {
    public var kind: String
    public var location: String
    public var endpoint: String?
    /// nil when the account has no custom subdomain: Entra ID tokens cannot work on it.
    public var customSubDomain: String?
    public var localAuthDisabled: Bool
    /// `Enabled` or `Disabled`; nil when unset.
    public var publicNetworkAccess: String?
    /// `networkAcls.defaultAction`, nil when there are no network rules.
    public var networkDefaultAction: String?
    public var tags: [String: String]

    public init(
        kind: String, location: String, endpoint: String?, customSubDomain: String?, localAuthDisabled: Bool,
        publicNetworkAccess: String?, networkDefaultAction: String?, tags: [String: String] = [:]
    ) {
        self.kind = kind
        self.location = location
        self.endpoint = endpoint
        self.customSubDomain = customSubDomain
        self.localAuthDisabled = localAuthDisabled
        self.publicNetworkAccess = publicNetworkAccess
        self.networkDefaultAction = networkDefaultAction
        self.tags = tags
    }
}

/// One deployment of the account.
public struct DeploymentFacts: Sendable, Equatable {
    public var name: String
    public var model: String?
    public var version: String?
    public var state: String?

    public init(name: String, model: String?, version: String?, state: String?) {
        self.name = name
        self.model = model
        self.version = version
        self.state = state
    }
}

/// Everything read about one resource in one pass; a part that could not be read is nil and
/// its reason is in `problems`.
public struct ControlPlaneFacts: Sendable, Equatable {
    public var armID: ARMResourceID
    public var readAt: Double
    /// The object id whose roles were read: the canary's principal.
    public var principal: String?
    public var account: AccountFacts?
    public var deployments: [DeploymentFacts]?
    /// The principal's roles at the resource and above, expanded through their definitions.
    public var roles: [RoleGrant]?
    /// Roles the principal holds whose definitions could not be read (or were too large to
    /// weigh), by name or GUID: with any, a role not granting the action does not settle it.
    public var unreadRoles: [String] = []
    /// The permissions API's answer, when the control-plane credential is the canary's own principal.
    public var callerPermissions: [RolePermission]?
    /// What could not be read, and why ("role assignments: HTTP 403 AuthorizationFailed: ...").
    public var problems: [String]
    /// Set when Resource Manager throttled the pass: seconds to wait before reading again.
    public var retryAfter: Double? = nil

    public init(
        armID: ARMResourceID, readAt: Double, principal: String? = nil, account: AccountFacts? = nil, deployments: [DeploymentFacts]? = nil,
        roles: [RoleGrant]? = nil, callerPermissions: [RolePermission]? = nil, problems: [String] = []
    ) {
        self.armID = armID
        self.readAt = readAt
        self.principal = principal
        self.account = account
        self.deployments = deployments
        self.roles = roles
        self.callerPermissions = callerPermissions
        self.problems = problems
    }

    /// Whether Resource Manager shows the principal holding the data action; nil when neither its
    /// roles nor its permissions could be read.
    public func dataActionGranted(_ action: String) -> Bool? {
        if let roles {
            if roles.contains(where: { $0.allows(dataAction: action) }) { return true }
            // A role whose definition could not be read may grant it: unknown, not no.
            if unreadRoles.isEmpty { return false }
        }
        if let callerPermissions { return callerPermissions.contains { $0.allows(dataAction: action) } }
        return nil
    }

    /// The role that covers the data action, most recently assigned first.
    public func coveringRole(_ action: String) -> RoleGrant? {
        roles?.filter { $0.allows(dataAction: action) }.max { ($0.createdOn ?? 0) < ($1.createdOn ?? 0) }
    }

    /// "Owner at /subscriptions/… (control plane only), Reader at … (control plane only)".
    public var heldRoles: String {
        RoleEvidence.describe(held: roles?.map(\.evidence), unread: unreadRoles)
    }

    /// A `permission_denied` with Resource Manager's roles as evidence: `role_propagating` when
    /// a role covers the call, else the roles held. Unchanged when the roles could not be read.
    public func explain(_ failure: ProbeFailure, dataAction: String, tokenIssuedAt: Double?) -> ProbeFailure {
        guard failure.reason == .permissionDenied, let roles else { return failure }
        var explained = failure
        let covering = coveringRole(dataAction)
        explained.evidence.roles = RoleEvidence(
            dataAction: dataAction, resourceID: armID.description, held: roles.map(\.evidence), unread: unreadRoles,
            covering: covering?.evidence, tokenIssuedAt: tokenIssuedAt)
        if covering != nil { explained.reason = .rolePropagating }
        return explained
    }

    /// What the facts say is wrong with the configuration, by check name: local auth disabled
    /// under a key canary, no custom subdomain, public network access disabled, the probed
    /// deployment missing.
    public func findings(hasKeyCanary: Bool, hasEntraCanary: Bool, deployment: String?) -> [(check: LintCheck, message: String)] {
        var result: [(LintCheck, String)] = []
        if let account {
            if account.localAuthDisabled, hasKeyCanary {
                result.append(
                    (
                        .localAuthDisabled,
                        "Resource Manager says local auth is disabled (disableLocalAuth): the key canary cannot work; drop api_key_file for this resource"
                    ))
            }
            if account.customSubDomain == nil, hasEntraCanary {
                result.append(
                    (
                        .noCustomSubdomain,
                        "the account has no custom subdomain, so Entra ID tokens cannot work on it: give it one (it cannot be undone) and use "
                            + "https://NAME.openai.azure.com/"
                    ))
            }
            if account.publicNetworkAccess?.lowercased() == "disabled" {
                result.append((.publicNetworkDisabled, "public network access is disabled: this host must reach the account through a private endpoint"))
            }
        }
        if let deployment, let deployments, !deployments.contains(where: { $0.name.lowercased() == deployment.lowercased() }) {
            let names = deployments.map(\.name).sorted()
            result.append(
                (.deploymentMissing, "the account has no deployment \"\(deployment)\"; it has " + (names.isEmpty ? "none" : names.joined(separator: ", "))))
        }
        return result
    }
}
