// The running agent: one HTTP client, token caches, the scheduler, metrics and the endpoint, wired.
import Auth
import Config
import ControlPlane
import HTTPClient
import HTTPServer
import Log
import Metrics
import Probe
import Schedule
import Status
import Support

/// Everything `aoai-canary run` runs, built from one configuration.
public final class Agent: Sendable {
    public let config: CanaryConfig
    public let metrics: CanaryMetrics
    public let logger: EventLogger
    public let scheduler: Scheduler
    public let tokenCaches: [String: TokenCache]
    public let board: StatusBoard
    /// Resource Manager's facts behind the verdicts and on the status page (empty without
    /// `control_plane:`); they outlive a reload, as the board does.
    public let controlPlaneFacts: ControlPlaneStore
    /// Reads Resource Manager into `controlPlaneFacts`; nil without `control_plane:`.
    public let controlPlane: ControlPlaneMonitor?
    /// Reads Microsoft Graph's facts about the credentials; nil without `directory:`.
    public let directory: DirectoryMonitor?
    private let sources: [(String, any TokenSource)]
    private let client: HTTPClient

    /// What this agent changed against the one it replaces (everything added for the first).
    public let change: ConfigChange
    /// The scheduler's round runner and observer for this configuration: `adoptSchedule` hands
    /// them to the scheduler the agents share.
    private let runRound: Scheduler.RoundRunner
    private let reporter: ProbeReporter

    /// An agent for `config`. A reload passes the previous agent: its scheduler, metrics, status
    /// board and HTTP client carry over (counters of resources that remain keep counting), and
    /// so does the token cache of every credential whose settings did not change. What changed
    /// is worked out once (`change`) and each part acts on that alone, in time linear in the
    /// number of resources: unchanged resources keep their schedule, series and status. The
    /// new resources and runner reach the running schedule with `adoptSchedule()`.
    public init(
        config: CanaryConfig, logger: EventLogger, build: BuildInfo, clock: any CanaryClock = SystemClock(), tokenRetryInterval: Double = 30,
        previous: Agent? = nil
    ) {
        self.config = config
        self.logger = logger
        let change = previous.map { ConfigChange(from: $0.config, to: config) } ?? ConfigChange(initial: config)
        self.change = change
        let client = previous?.client ?? HTTPClient()
        self.client = client
        let metrics: CanaryMetrics
        if let previous {
            metrics = previous.metrics
        } else {
            metrics = CanaryMetrics(build: build)
            metrics.registry.addCollector { ProcessMetrics.render() }
        }
        self.metrics = metrics
        let facts = previous?.controlPlaneFacts ?? ControlPlaneStore()
        facts.apply(config, change: change)
        self.controlPlaneFacts = facts
        let board: StatusBoard
        if let previous {
            board = previous.board
            board.apply(config, change: change)
        } else {
            board = StatusBoard(config: config, controlPlane: facts, directory: DirectoryStore())
        }
        self.board = board
        let reporter = ProbeReporter(metrics: metrics, logger: logger, board: board)
        self.reporter = reporter
        let timeout = config.timeout.seconds

        var caches: [String: TokenCache] = [:]
        var sources: [(String, any TokenSource)] = []
        let report: @Sendable (TokenAcquisitionEvent) -> Void = { reporter.report($0, now: clock.wallSeconds) }
        for credential in config.credentials {
            if let previous, change.keepsTokens(credential: credential.name),
                let cache = previous.tokenCaches[credential.name], let kept = previous.sources.first(where: { $0.0 == credential.name })
            {
                cache.events.redirect(to: report)
                caches[credential.name] = cache
                sources.append(kept)
                metrics.prepare(credential: credential.name, expiries: kept.1.credentialExpiries())
                continue
            }
            let source = TokenSourceFactory.make(credential.settings)
            sources.append((credential.name, source))
            metrics.prepare(credential: credential.name, expiries: source.credentialExpiries())
            caches[credential.name] = TokenCache(
                credential: credential.name, source: source, client: client,
                clock: clock, timeoutSeconds: timeout, retryInterval: tokenRetryInterval, observe: report)
        }
        self.tokenCaches = caches
        self.sources = sources

        // Series are made for what is new or changed; unchanged resources keep theirs untouched.
        for resource in config.resources where !change.isUnchanged(resource: resource.name) {
            metrics.prepare(resource: resource.name, modes: AuthMode.modes(of: resource), credential: resource.credential)
        }
        for resource in config.resources {
            metrics.record(warnings: board.warnings(resource.name), resource: resource.name)
        }

        let prober = Prober(client: client, clock: clock, timeoutSeconds: timeout)
        let cachesByName = caches
        let monitor: ControlPlaneMonitor? = config.controlPlane.flatMap { settings in
            config.credential(named: settings.credential).map { credential in
                ControlPlaneMonitor(
                    settings: settings, resources: config.resources, client: client, timeoutSeconds: timeout, credential: credential,
                    canaryTokens: caches, facts: facts, board: board, metrics: metrics, logger: logger, clock: clock, tokenRetryInterval: tokenRetryInterval,
                    previous: previous?.controlPlane, change: change)
            }
        }
        self.controlPlane = monitor
        let directory: DirectoryMonitor? = config.directory.flatMap { settings in
            config.credential(named: settings.credential).map { credential in
                DirectoryMonitor(
                    settings: settings, credentials: config.credentials, client: client, timeoutSeconds: timeout, credential: credential,
                    facts: board.directory, metrics: metrics, logger: logger, clock: clock, tokenRetryInterval: tokenRetryInterval,
                    resourceManager: monitor.map { Self.resourceManagerAccess(config, controlPlane: $0) },
                    canaryTokens: caches, previous: previous?.directory)
            }
        }
        self.directory = directory
        // Without `directory:` (any more), nothing of it stays on the page.
        if directory == nil { board.directory.keep([]) }
        let runRound: Scheduler.RoundRunner = { resource in
            var round = await prober.round(resource, tokens: resource.credential.flatMap { cachesByName[$0] })
            // Resource Manager's facts name what the data plane cannot, and a failure asks for them afresh.
            if let monitor, let entra = round.entraID {
                round.entraID = monitor.explain(entra, resource: resource)
                monitor.noteEntraID(resource: resource.name, failing: entra.verdict != .success)
            }
            // The directory's facts say why Entra ID refused the credential a token.
            if let directory, let entra = round.entraID, let credential = resource.credential {
                round.entraID = directory.explain(entra, credential: credential)
            }
            return round
        }
        self.runRound = runRound
        self.scheduler =
            previous?.scheduler
            ?? Scheduler(resources: config.resources, defaultInterval: config.interval, clock: clock, observer: reporter, runRound: runRound)
    }

    /// Hands this agent's resources, round runner and observer to the running schedule (shared
    /// with the agent this one replaces); the loop does not stop.
    public func adoptSchedule() async {
        await scheduler.apply(resources: config.resources, change: change, defaultInterval: config.interval, observer: reporter, runRound: runRound)
    }

    /// Where the directory monitor looks for user-assigned identities: `control_plane:`'s
    /// Resource Manager, through its monitor's reader and token (one token for both), in the
    /// subscriptions of the resources and of discovery.
    static func resourceManagerAccess(_ config: CanaryConfig, controlPlane: ControlPlaneMonitor) -> DirectoryMonitor.ResourceManagerAccess {
        DirectoryMonitor.ResourceManagerAccess(
            reader: controlPlane.reader, tokens: controlPlane.tokens, subscriptions: DirectoryReader.subscriptions(of: config))
    }

    /// Records every credential's material expiry again (after a reload cleared them).
    public func recordCredentialExpiries() {
        for (name, source) in sources { metrics.record(credential: name, expiries: source.credentialExpiries()) }
        // The directory's dates, where it has read them, stand for those.
        if let directory {
            for facts in directory.facts.snapshot.values { metrics.record(directory: facts) }
        }
    }

    /// Runs the schedule and, beside it, the control plane, until cancelled. Neither ends the
    /// other: a control plane with nothing to read waits.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.scheduler.run() }
            group.addTask { await self.runBeside() }
        }
    }

    /// What runs beside the schedule for this configuration only (the control plane and the directory), until
    /// cancelled; a reload cancels it and starts the next agent's.
    public func runBeside() async {
        // Both run until cancelled; neither ends the other.
        await withDiscardingTaskGroup { group in
            if let controlPlane { group.addTask { await controlPlane.run() } }
            if let directory { group.addTask { await directory.run() } }
        }
    }

    /// The HTTP client every part of this agent (and the next one, after a reload) shares.
    public var httpClient: HTTPClient { client }

    /// Stops the HTTP client's thread (after `run` returned).
    public func shutdown() {
        client.shutdown()
    }
}
