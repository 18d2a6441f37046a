// The last outcome of every probe and token, kept for logs (what changed), the status page and status.json.
import Auth
import Config
import ControlPlane
import Probe
import Support
import Synchronization

/// What a probe's result changed, for the log.
public struct ProbeTransition: Sendable, Equatable {
    /// The verdict before this one; nil on the first round.
    public var previous: ProbeVerdict?
    /// Set when a `permission_denied` stretch just ended in success: how long it lasted.
    public var permissionRecoverySeconds: Double?
    /// True when the resource's warnings changed (the service revealed or withdrew one).
    public var warningsChanged = false
}

/// Per-resource and per-credential state, readable from the HTTP server's threads without awaiting.
public final class StatusBoard: Sendable {
    /// One auth mode of one resource.
    public struct ProbeState: Sendable, Equatable {
        public var verdict: ProbeVerdict
        public var status: Int
        public var lastProbe: Double
        public var lastSuccess: Double?
        /// When the current run of failures began.
        public var failingSince: Double?
        /// When the current run of `permission_denied` began.
        public var deniedSince: Double?
    }

    public struct ResourceState: Sendable, Equatable {
        public var name: String
        public var endpoint: String
        public var credential: String?
        public var modes: [AuthMode]
        public var probes: [AuthMode: ProbeState] = [:]
        public var divergence = false
        public var warnings: [ConfigWarning]
    }

    public struct CredentialState: Sendable, Equatable {
        public var name: String
        public var type: String
        public var source: String?
        public var objectID: String?
        public var tenantID: String?
        public var expiresOn: Double?
        public var refreshAt: Double?
        public var lastError: String?
    }

    struct State: Sendable {
        var resources: [ResourceState]
        var credentials: [CredentialState]
        /// Where each resource is in `resources`: a probe's result finds its row without a scan.
        var positions: [String: Int] = [:]
    }

    /// A role assignment may take up to this long to apply (AZURE_AUTH_FACTS.md §5).
    public static let propagationWindow: Double = 600

    private let state: Mutex<State>
    /// Resource Manager's facts, which the control-plane monitor keeps; the board shows them.
    public let controlPlane: ControlPlaneStore
    /// The directory's facts by credential, which the directory monitor keeps; the board shows them.
    public let directory: DirectoryStore

    public init(config: CanaryConfig, controlPlane: ControlPlaneStore = ControlPlaneStore(), directory: DirectoryStore = DirectoryStore()) {
        state = Mutex(Self.rows(config))
        self.controlPlane = controlPlane
        self.directory = directory
    }

    /// Fresh rows for `config`, with its static warnings; in time linear in its size.
    private static func rows(_ config: CanaryConfig) -> State {
        var warningsByResource: [String: [ConfigWarning]] = [:]
        for warning in ConfigLint.warnings(config) { warningsByResource[warning.resource, default: []].append(warning) }
        var state = State(
            resources: config.resources.map { resource in
                ResourceState(
                    name: resource.name, endpoint: resource.endpoint, credential: resource.credential, modes: AuthMode.modes(of: resource),
                    warnings: warningsByResource[resource.name] ?? [])
            },
            credentials: config.credentials.map { CredentialState(name: $0.name, type: $0.settings.typeName) })
        state.positions.reserveCapacity(state.resources.count)
        for (index, resource) in state.resources.enumerated() { state.positions[resource.name] = index }
        return state
    }

    /// Puts a new configuration on the board in place: resources and credentials it keeps keep
    /// their state (a resource whose endpoint changed starts afresh), and Resource Manager's
    /// findings stay until the next read while the resource is still read (as its facts stay in
    /// the store). A probe recorded while this runs is not lost: the whole swap happens under
    /// the lock.
    public func apply(_ config: CanaryConfig, change: ConfigChange) {
        var fresh = Self.rows(config)
        let readsFacts = config.controlPlane != nil
        state.withLock { old in
            for index in fresh.resources.indices {
                let name = fresh.resources[index].name
                guard let position = old.positions[name] else { continue }
                let before = old.resources[position]
                guard before.endpoint == fresh.resources[index].endpoint else { continue }
                fresh.resources[index].probes = before.probes.filter { fresh.resources[index].modes.contains($0.key) }
                fresh.resources[index].divergence = before.divergence
                // The service's word that local auth is off stays until the key canary says otherwise.
                fresh.resources[index].warnings += before.warnings.filter { $0.check == .keyAuthDisabled && fresh.resources[index].modes.contains(.apiKey) }
                // Resource Manager's findings stay until the next read, while the resource is
                // still read at the same arm_id.
                if readsFacts, config.resources[index].armID != nil, change.changedResources[name]?.contains(.armID) != true {
                    fresh.resources[index].warnings += before.warnings.filter { LintCheck.controlPlane.contains($0.check) }
                }
            }
            var credentialPositions: [String: Int] = [:]
            for (index, credential) in old.credentials.enumerated() { credentialPositions[credential.name] = index }
            for index in fresh.credentials.indices {
                if let position = credentialPositions[fresh.credentials[index].name], old.credentials[position].type == fresh.credentials[index].type {
                    fresh.credentials[index] = old.credentials[position]
                }
            }
            old = fresh
        }
    }

    /// Records a probe's result and says what changed.
    public func record(_ probe: ProbeResult) -> ProbeTransition {
        state.withLock { state in
            guard let index = state.positions[probe.resource] else { return ProbeTransition() }
            let old = state.resources[index].probes[probe.auth]
            let now = probe.finishedAt
            var new = ProbeState(verdict: probe.verdict, status: probe.status, lastProbe: now, lastSuccess: old?.lastSuccess)
            var transition = ProbeTransition(previous: old?.verdict)
            switch probe.verdict {
            case .success:
                new.lastSuccess = now
                if let deniedSince = old?.deniedSince { transition.permissionRecoverySeconds = now - deniedSince }
            case .failure(let failure):
                new.failingSince = old?.failingSince ?? now
                // A role not yet honoured (role_propagating) is the same wait as permission_denied.
                if failure.reason == .permissionDenied || failure.reason == .rolePropagating { new.deniedSince = old?.deniedSince ?? now }
            }
            state.resources[index].probes[probe.auth] = new
            // The service's own word that local auth is off turns into a warning for the key canary.
            if probe.auth == .apiKey {
                let before = state.resources[index].warnings.contains { $0.check == .keyAuthDisabled }
                transition.warningsChanged = before != (probe.verdict.reason == .keyAuthDisabled)
                state.resources[index].warnings.removeAll { $0.check == .keyAuthDisabled }
                if probe.verdict.reason == .keyAuthDisabled {
                    state.resources[index].warnings.append(
                        ConfigWarning(
                            resource: probe.resource, check: .keyAuthDisabled,
                            message: "the service says local (key) auth is disabled: drop api_key_file/api_key_env for this resource",
                            line: 0, column: 0))
                }
            }
            return transition
        }
    }

    /// Records the warnings a pass over Resource Manager gives (replacing those of the previous
    /// pass). True when they changed.
    public func record(findings: [(check: LintCheck, message: String)], resource: String) -> Bool {
        state.withLock { state in
            guard let index = state.positions[resource] else { return false }
            let before = state.resources[index].warnings.filter { LintCheck.controlPlane.contains($0.check) }.map(\.message)
            state.resources[index].warnings.removeAll { LintCheck.controlPlane.contains($0.check) }
            for finding in findings {
                state.resources[index].warnings.append(ConfigWarning(resource: resource, check: finding.check, message: finding.message, line: 0, column: 0))
            }
            return before != findings.map(\.message)
        }
    }

    /// Records whether the pair diverged in the last round.
    public func record(divergence: Bool, resource: String) {
        state.withLock { state in
            if let index = state.positions[resource] { state.resources[index].divergence = divergence }
        }
    }

    /// Records a token acquisition.
    public func record(_ event: TokenAcquisitionEvent) {
        state.withLock { state in
            guard let index = state.credentials.firstIndex(where: { $0.name == event.credential }) else { return }
            switch event.result {
            case .success(let token):
                state.credentials[index].source = token.source
                state.credentials[index].objectID = token.claims?.objectID
                state.credentials[index].tenantID = token.claims?.tenantID
                state.credentials[index].expiresOn = token.expiresOn
                state.credentials[index].refreshAt = token.refreshAt
                state.credentials[index].lastError = nil
            case .failure(let error):
                state.credentials[index].lastError = Redaction.clean(error.description)
            }
        }
    }

    /// The warnings of a resource right now (static ones and those the service revealed).
    public func warnings(_ resource: String) -> [ConfigWarning] {
        state.withLock { state in state.positions[resource].map { state.resources[$0].warnings } ?? [] }
    }

    public var resources: [ResourceState] { state.withLock { $0.resources } }

    /// True when the board has no resource (cheaper than `resources.isEmpty`, which copies them).
    public var isEmpty: Bool { state.withLock { $0.resources.isEmpty } }

    /// How many resources have every probe succeeding, counted under the lock without copying rows.
    public var health: (healthy: Int, total: Int, started: Bool) {
        state.withLock { state in
            var healthy = 0
            var started = true
            for resource in state.resources {
                if resource.probes.count < resource.modes.count { started = false }
                if !resource.probes.isEmpty, resource.probes.values.allSatisfy({ $0.verdict == .success }) { healthy += 1 }
            }
            return (healthy, state.resources.count, started)
        }
    }
    public var credentials: [CredentialState] { state.withLock { $0.credentials } }
}
