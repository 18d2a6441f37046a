// The control plane beside the probes: reads Resource Manager's facts about every resource with
// an `arm_id` on its interval, and at once when a resource's Entra ID canary starts failing; uses
// them to name what the data plane cannot (a role still propagating, the roles the principal
// holds). It never delays or fails a probe: it runs on its own task, and a probe only reads the
// facts already there.
import Auth
import Config
import ControlPlane
import HTTPClient
import Log
import Metrics
import Probe
import Status
import Support
import Synchronization

public final class ControlPlaneMonitor: Sendable {
    private struct State {
        /// Resources whose Entra ID canary failed in their last round.
        var failing: Set<String> = []
        /// Resources to read at the next wake-up, ahead of the interval.
        var due: Set<String> = []
        var roleCache: ControlPlaneReader.RoleCache = [:]
        /// Resources whose facts a reload carried over (same settings): the first pass skips
        /// them while those facts are younger than the interval.
        var carried: Set<String> = []
    }

    let settings: ControlPlaneConfig
    /// The control plane credential's settings, for telling whether a reload changed them.
    let credentialSettings: CredentialSettings
    let resources: [ResourceConfig]
    /// The names of `resources`, for a look-up per round.
    private let readable: Set<String>
    let reader: ControlPlaneReader
    let tokens: TokenCache
    /// The canaries' token caches by credential name, for the principal whose roles to read.
    let canaryTokens: [String: TokenCache]
    let board: StatusBoard
    /// Where each pass's facts go; the verdicts and the status page read them there.
    let facts: ControlPlaneStore
    let metrics: CanaryMetrics
    let logger: EventLogger
    let clock: any CanaryClock
    private let state = Mutex(State())
    /// Rung when a resource becomes due ahead of the interval, so the loop need not poll.
    private let wakeup = Wakeup()

    /// A reload (or discovery's change) passes the previous agent's monitor: when the control
    /// plane and its credential are unchanged, its Resource Manager token, role definitions and
    /// what it knows of failing canaries carry over, and resources whose settings did not change
    /// keep their facts until the interval is due, so a reload costs no token and no re-read.
    init(
        settings: ControlPlaneConfig, resources: [ResourceConfig], client: HTTPClient, timeoutSeconds: Double, credential: CredentialConfig,
        canaryTokens: [String: TokenCache], facts: ControlPlaneStore, board: StatusBoard, metrics: CanaryMetrics, logger: EventLogger, clock: any CanaryClock,
        tokenRetryInterval: Double,
        previous: ControlPlaneMonitor? = nil, change: ConfigChange
    ) {
        self.settings = settings
        self.credentialSettings = credential.settings
        self.resources = resources.filter { $0.armID != nil }
        self.readable = Set(self.resources.map(\.name))
        self.reader = ControlPlaneReader(client: client, endpoint: settings.endpoint, timeoutSeconds: timeoutSeconds) { metrics.recordControlPlaneRequest($0) }
        if let previous, previous.settings == settings, previous.credentialSettings == credential.settings {
            self.tokens = previous.tokens
            let old = previous.state.withLock { $0 }
            let kept = self.resources.filter { change.isUnchanged(resource: $0.name) }
            state.withLock { state in
                state.roleCache = old.roleCache
                state.failing = old.failing
                state.carried = Set(kept.map(\.name))
            }
        } else {
            // Its own cache: Resource Manager's audience, and events kept out of the canary's token metrics.
            self.tokens = TokenCache(
                credential: credential.name, source: TokenSourceFactory.make(credential.settings.withScope(settings.scope)), client: client,
                clock: clock, timeoutSeconds: timeoutSeconds, retryInterval: tokenRetryInterval, observe: { _ in })
        }
        self.canaryTokens = canaryTokens
        self.board = board
        self.facts = facts
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        metrics.prepareControlPlane()
    }

    /// Told after every round: a resource whose Entra ID canary starts failing is read again at once.
    func noteEntraID(resource: String, failing: Bool) {
        let becameDue = state.withLock { state -> Bool in
            var due = false
            if failing, !state.failing.contains(resource), readable.contains(resource) { due = state.due.insert(resource).inserted }
            if failing { state.failing.insert(resource) } else { state.failing.remove(resource) }
            return due
        }
        if becameDue { wakeup.signal() }
    }

    /// Reads every resource now and then on the interval, and any resource marked due as soon as
    /// it is, until cancelled.
    /// With nothing to read its passes are empty: it never ends what runs beside it.
    func run() async {
        var next = 0.0
        while !Task.isCancelled {
            let now = clock.monotonicSeconds
            var batch: [ResourceConfig]
            if now >= next {
                // The first pass after a reload skips the facts it carried while they are fresh.
                let carried = state.withLock { state -> Set<String> in
                    defer { state.carried.removeAll() }
                    return state.carried
                }
                let wall = clock.wallSeconds
                batch = resources.filter { resource in
                    guard carried.contains(resource.name), let facts = facts[resource.name] else { return true }
                    return wall - facts.readAt >= settings.interval.seconds
                }
                next = now + settings.interval.seconds
                state.withLock { $0.due.removeAll() }
            } else {
                let due = state.withLock { state -> Set<String> in
                    defer { state.due.removeAll() }
                    return state.due
                }
                batch = resources.filter { due.contains($0.name) }
            }
            var pause = 0.0
            for resource in batch where !Task.isCancelled {
                // Throttled: the rest of the pass waits as long as Resource Manager asked.
                if let wait = await read(resource) {
                    pause = wait
                    next = max(next, clock.monotonicSeconds + wait)
                    logger.log(.warning, "Resource Manager throttles the control plane: reads resume in \(Int(wait)) s", [("RESOURCE", resource.name)])
                    break
                }
            }
            // Throttled: not before the pause is over, whatever becomes due meanwhile.
            if pause > 0 {
                do { try await clock.sleep(untilMonotonic: clock.monotonicSeconds + pause) } catch { return }
            }
            await wakeup.wait(untilMonotonic: next, clock: clock)
        }
    }

    /// One resource: its facts on the board and in the metrics, and a log line when its findings
    /// change. Returns the seconds Resource Manager asked to wait when it throttled the read.
    @discardableResult
    public func read(_ resource: ResourceConfig) async -> Double? {
        guard let armID = resource.armID else { return nil }
        let credential = resource.credential
        var principal: String?
        if let credential, let cache = canaryTokens[credential] {
            principal = (try? await cache.token())?.claims?.objectID
        }
        let facts: ControlPlaneFacts
        do {
            let token = try await tokens.token()
            var cache = state.withLock { $0.roleCache }
            facts = await reader.read(
                armID, armToken: token, settings: settings, canaryCredential: credential, canaryPrincipal: principal,
                now: clock.wallSeconds, roleCache: &cache)
            let kept = cache
            state.withLock { $0.roleCache = kept }
        } catch {
            facts = ControlPlaneFacts(
                armID: armID, readAt: clock.wallSeconds, principal: principal,
                problems: ["no Resource Manager token for credential \(settings.credential): \(error)"])
        }
        // A read cut short by a reload or stop is no fact: what the last full read said stays.
        guard !Task.isCancelled else { return nil }
        // A throttled pass keeps what the last full one said.
        if let wait = facts.retryAfter, self.facts[resource.name] != nil { return wait }
        let findings = facts.findings(
            hasKeyCanary: resource.hasKeyCanary, hasEntraCanary: credential != nil, deployment: resource.probe.needsDeployment ? resource.deployment : nil)
        self.facts.record(facts, resource: resource.name)
        let changed = board.record(findings: findings, resource: resource.name)
        metrics.record(facts: facts, resource: resource.name, credential: credential, dataAction: resource.probe.dataAction)
        metrics.record(warnings: board.warnings(resource.name), resource: resource.name)
        if changed {
            for finding in findings {
                logger.log(.warning, "\(resource.name): \(finding.message)", [("RESOURCE", resource.name), ("CHECK", finding.check.rawValue)])
            }
        }
        for problem in facts.problems {
            logger.log(.debug, "\(resource.name): Resource Manager: \(problem)", [("RESOURCE", resource.name)])
        }
        return facts.retryAfter
    }

    /// The facts behind a verdict: a `permission_denied` turns into `role_propagating` when
    /// Resource Manager shows a role covering the call, and otherwise names the roles held.
    func explain(_ result: ProbeResult, resource: ResourceConfig) -> ProbeResult {
        guard let failure = result.verdict.failure, let facts = facts[resource.name] else { return result }
        var explained = result
        explained.verdict = .failure(facts.explain(failure, dataAction: resource.probe.dataAction, tokenIssuedAt: result.tokenIssuedAt))
        return explained
    }
}
