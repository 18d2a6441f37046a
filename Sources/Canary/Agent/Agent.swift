// The running agent: one HTTP client, token caches, the scheduler, metrics and the endpoint, wired.
import HTTPClient
import HTTPServer

/// Everything `aoai-canary run` runs, built from one configuration.
public final class Agent: Sendable {
    public let config: CanaryConfig
    public let metrics: CanaryMetrics
    public let logger: EventLogger
    public let scheduler: Scheduler
    public let tokenCaches: [String: TokenCache]
    public let board: StatusBoard
    /// Resource Manager's facts behind the verdicts; nil without `control_plane:`.
    public let controlPlane: ControlPlaneMonitor?
    private let sources: [(String, any TokenSource)]
    private let client: HTTPClient

    /// An agent for `config`. A reload passes the previous agent: its metrics and HTTP client
    /// carry over (counters of resources that remain keep counting) and so does its status; so
    /// do the token cache of every credential whose settings did not change, and (`carried`, by
    /// resource name) the schedule of every resource whose settings did not: a reload of an
    /// unchanged file requests no token and starts no round.
    public init(config: CanaryConfig, logger: EventLogger, build: BuildInfo, clock: any CanaryClock = SystemClock(), tokenRetryInterval: Double = 30, previous: Agent? = nil,
                carried: [String: Schedule.Entry] = [:]) {
        self.config = config
        self.logger = logger
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
        let board = previous.map { StatusBoard(config: config, previous: $0.board) } ?? StatusBoard(config: config)
        self.board = board
        let reporter = ProbeReporter(metrics: metrics, logger: logger, board: board)
        let timeout = config.timeout.seconds

        var caches: [String: TokenCache] = [:]
        var sources: [(String, any TokenSource)] = []
        let report: @Sendable (TokenAcquisitionEvent) -> Void = { reporter.report($0, now: clock.wallSeconds) }
        for credential in config.credentials {
            if let previous, previous.config.credential(named: credential.name) == credential, previous.config.timeout == config.timeout,
               let cache = previous.tokenCaches[credential.name], let kept = previous.sources.first(where: { $0.0 == credential.name }) {
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

        for resource in config.resources {
            metrics.prepare(resource: resource.name, modes: AuthMode.modes(of: resource), credential: resource.credential)
            metrics.record(warnings: board.warnings(resource.name), resource: resource.name)
        }

        let prober = Prober(client: client, clock: clock, timeoutSeconds: timeout)
        let cachesByName = caches
        // A resource's schedule carries over when it, its interval and its credential are unchanged.
        var kept: [String: Schedule.Entry] = [:]
        if let previous {
            for resource in config.resources {
                guard let entry = carried[resource.name], let old = previous.config.resources.first(where: { $0.name == resource.name }),
                      old.sameSettings(as: resource), (old.interval ?? previous.config.interval) == (resource.interval ?? config.interval),
                      old.credential.flatMap(previous.config.credential(named:)) == resource.credential.flatMap(config.credential(named:)) else { continue }
                kept[resource.name] = entry
            }
        }
        let monitor: ControlPlaneMonitor? = config.controlPlane.flatMap { settings in
            config.credential(named: settings.credential).map { credential in ControlPlaneMonitor(settings: settings, resources: config.resources, client: client, timeoutSeconds: timeout, credential: credential,
                                          canaryTokens: caches, board: board, metrics: metrics, logger: logger, clock: clock, tokenRetryInterval: tokenRetryInterval,
                                          previous: previous?.controlPlane) }
        }
        self.controlPlane = monitor
        self.scheduler = Scheduler(resources: config.resources, defaultInterval: config.interval, clock: clock, observer: reporter, carried: kept) { resource in
            var round = await prober.round(resource, tokens: resource.credential.flatMap { cachesByName[$0] })
            // Resource Manager's facts name what the data plane cannot, and a failure asks for them afresh.
            if let monitor, let entra = round.entraID {
                round.entraID = monitor.explain(entra, resource: resource)
                monitor.noteEntraID(resource: resource.name, failing: entra.verdict != .success)
            }
            return round
        }
    }


    /// Records every credential's material expiry again (after a reload cleared them).
    public func recordCredentialExpiries() {
        for (name, source) in sources { metrics.record(credential: name, expiries: source.credentialExpiries()) }
    }

    /// Runs the schedule until cancelled.
    public func run() async {
        guard let controlPlane else { return await scheduler.run() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.scheduler.run() }
            group.addTask { await controlPlane.run() }
            await group.next()
            group.cancelAll()
        }
    }

    /// The HTTP client every part of this agent (and the next one, after a reload) shares.
    public var httpClient: HTTPClient { client }

    /// Stops the HTTP client's thread (after `run` returned).
    public func shutdown() {
        client.shutdown()
    }
}
