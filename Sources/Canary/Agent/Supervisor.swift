// Runs the agent and swaps it on reload: a bad configuration is refused and the old one keeps running.
import Config
import ControlPlane
import Endpoint
import Log
import Metrics
import Posix
import Status
import Support
import Synchronization

/// The agent in service now, readable from the HTTP server's threads.
public final class AgentReference: Sendable {
    private let agent: Mutex<Agent>

    public init(_ agent: Agent) {
        self.agent = Mutex(agent)
    }

    public var current: Agent { agent.withLock { $0 } }

    func replace(_ new: Agent) {
        agent.withLock { $0 = new }
    }
}

extension AgentReference: StatusSource {
    public func snapshot() -> StatusSnapshot {
        let agent = current
        return StatusSnapshot(registry: agent.metrics.registry, board: agent.board, schedule: agent.scheduler.health)
    }
}

/// A request to re-read the configuration, from SIGHUP or `POST /-/reload`, and where its
/// outcome goes.
struct ReloadRequest: Sendable {
    let answer: @Sendable (Result<Int, ConfigErrors>) -> Void
    /// False for discovery's changes: the file is not read again, only the found set applied.
    var rereadFile = true
}

/// Owns the running agent's schedule and replaces the agent when the configuration is
/// reloaded. A service: `run()` runs the agent in service until cancelled. Reloads from every
/// door (SIGHUP, `POST /-/reload`) enter one queue and are applied one at a time by `run()`;
/// requests that arrive while a file is read share its outcome.
public final class Supervisor: Service {
    public let reference: AgentReference
    private let path: String
    private let variables: [String: String]
    private let logger: EventLogger
    private let build: BuildInfo
    private let clock: any CanaryClock
    private let requests = RequestQueue<ReloadRequest>()
    private let heartbeat = Mutex<(interval: Double, beat: @Sendable () -> Void)?>(nil)
    private let afterApply = Mutex<(@Sendable () -> Void)?>(nil)
    /// The configuration as the file last gave it (the agent runs it merged with discovery's
    /// finds, less other shards' resources).
    private let fileConfig: Mutex<CanaryConfig>
    private let shard: Shard?
    private let discoverer: Discoverer
    /// Seconds between looks at the configuration and secret files (`run --config.watch`); nil
    /// reloads only when asked (SIGHUP, `POST /-/reload`).
    private let watchInterval = Mutex<(seconds: Double, baseline: [String: FileStatus?])?>(nil)

    public init(
        config: CanaryConfig, path: String, variables: [String: String], logger: EventLogger, build: BuildInfo, clock: any CanaryClock = SystemClock(),
        shard: Shard? = nil
    ) {
        self.path = path
        self.variables = variables
        self.logger = logger
        self.build = build
        self.clock = clock
        self.fileConfig = Mutex(config)
        self.shard = shard
        let agent = Agent(config: EffectiveConfig.merge(file: config, discovered: [], shard: shard), logger: logger, build: build, clock: clock)
        self.discoverer = Discoverer(client: agent.httpClient, clock: clock, logger: logger, shard: shard)
        agent.metrics.recordReload(successful: true, at: clock.wallSeconds)
        if let shard { agent.metrics.record(shard: shard) }
        reference = AgentReference(agent)
    }

    /// Called on every pass of each agent's scheduler loop, at least every `interval` seconds
    /// (the service watchdog and status). Set it before `run()`.
    public func setHeartbeat(every interval: Double, _ beat: @escaping @Sendable () -> Void) {
        heartbeat.withLock { $0 = (interval, beat) }
    }

    /// Called after every configuration put in service (a reload, discovery's change): the
    /// executable gives the freed memory back to the system there.
    public func setAfterApply(_ action: @escaping @Sendable () -> Void) {
        afterApply.withLock { $0 = action }
    }

    /// Reloads on its own when the configuration file or a file it names (a secret, a CA
    /// bundle) changes, looked at every `interval` seconds: a Kubernetes ConfigMap or Secret
    /// swapped under its mount, or a file edited in place. Set it before `run()`.
    public func watchFiles(every interval: Double) {
        // What the files are now: a change from here on, even before `run()`, is seen.
        let baseline = fingerprint()
        watchInterval.withLock { $0 = (interval, baseline) }
    }

    /// Asks for a reload from any thread; `answer` gets the outcome once it is applied (at
    /// once, changing nothing, when the supervisor has stopped).
    public func requestReload(_ answer: @escaping @Sendable (Result<Int, ConfigErrors>) -> Void) {
        if !requests.push(ReloadRequest(answer: answer)) {
            answer(.success(reference.current.config.resources.count))
        }
    }

    /// Reloads and returns the outcome.
    public func reload() async -> Result<Int, ConfigErrors> {
        await withCheckedContinuation { continuation in
            requestReload { continuation.resume(returning: $0) }
        }
    }

    /// Runs the agent in service until cancelled. One schedule runs throughout: a reload, or a
    /// change in discovery's set, is applied to it in place, so probing never stops while a
    /// file is read or a new agent is built. Only what runs beside the schedule for one
    /// configuration (the control plane) is stopped and started again.
    public func run() async {
        // Discovery runs beside the agents, across reloads; a changed set is applied as a reload
        // that reads no file.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await self.discoverer.run(config: { self.fileConfig.withLock { $0 } }) {
                    _ = self.requests.push(ReloadRequest(answer: { _ in }, rereadFile: false))
                }
            }
            group.addTask { await self.runAgents() }
            if let watching = self.watchInterval.withLock({ $0 }) {
                group.addTask { await self.watch(every: watching.seconds, from: watching.baseline) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func runAgents() async {
        let scheduler = reference.current.scheduler
        if let heartbeat = heartbeat.withLock({ $0 }) { await scheduler.setHeartbeat(every: heartbeat.interval, heartbeat.beat) }
        await withDiscardingTaskGroup { group in
            group.addTask { await scheduler.run() }
            while !Task.isCancelled {
                let agent = reference.current
                var accepted: (requests: [ReloadRequest], config: CanaryConfig)?
                do {
                    // The control plane runs beside the wait for reloads; a refused file changes
                    // nothing, and only one that loads ends this scope, which cancels and awaits it.
                    async let _: Void = agent.runBeside()
                    while accepted == nil, let batch = await nextBatch() {
                        switch batch.config {
                        case .success(let config):
                            accepted = (batch.requests, config)
                        case .failure(let errors):
                            let outcome = refuse(errors, agent: agent)
                            for request in batch.requests { request.answer(outcome) }
                        }
                    }
                }
                guard let accepted else { break }
                let onlyDiscovery = accepted.requests.allSatisfy { !$0.rereadFile }
                let outcome = await apply(accepted.config, old: agent, onlyDiscovery: onlyDiscovery)
                for request in accepted.requests { request.answer(outcome) }
            }
            group.cancelAll()
        }
        // Requests that raced the stop change nothing.
        for late in requests.close() { late.answer(.success(reference.current.config.resources.count)) }
        reference.current.shutdown()
    }

    /// Waits for the next request, loads the configuration once, and takes with it every
    /// request that arrived meanwhile: they all get this outcome. Nil when cancelled.
    private func nextBatch() async -> (requests: [ReloadRequest], config: Result<CanaryConfig, ConfigErrors>)? {
        guard let first = await requests.next() else { return nil }
        let batch = [first] + requests.drain()
        var config: Result<CanaryConfig, ConfigErrors> = .success(fileConfig.withLock { $0 })
        if batch.contains(where: \.rereadFile) {
            config = load()
            if case .success(let file) = config {
                fileConfig.withLock { $0 = file }
                discoverer.fileChanged()
            }
        }
        let logger = self.logger
        return (
            batch,
            config.map { file in
                EffectiveConfig.merge(file: file, discovered: discoverer.found?.resources ?? [], shard: shard) {
                    logger.log(.error, "discovery: \($0)", [("CONFIG", "discovery")])
                }
            }
        )
    }

    /// Looks at the files every `interval` seconds and asks for a reload when what they are
    /// changed: a file replaced (another inode, as the kubelet's symlink swap gives), rewritten
    /// (size or time) or gone. A refused file is not retried until it changes again.
    private func watch(every interval: Double, from baseline: [String: FileStatus?]) async {
        var last = baseline
        while !Task.isCancelled {
            do { try await clock.sleep(untilMonotonic: clock.monotonicSeconds + interval) } catch { return }
            let now = fingerprint()
            guard now != last else { continue }
            logger.log(.info, "the configuration file or a file it names changed: reloading", [("CONFIG", path)])
            _ = await reload()
            // Files the new configuration names for the first time are taken as they are now;
            // the others as they were before the reload, so a change made meanwhile is seen.
            var seen: [String: FileStatus?] = [:]
            for (file, status) in fingerprint() { seen[file] = now[file] ?? status }
            last = seen
        }
    }

    /// What the configuration file and the files the running configuration names are now.
    private func fingerprint() -> [String: FileStatus?] {
        let config = fileConfig.withLock { $0 }
        var paths = Set(config.secretFileMarks.keys)
        paths.insert(path)
        for resource in config.resources { if let file = resource.caFile { paths.insert(file) } }
        var status: [String: FileStatus?] = [:]
        for file in paths { status[file] = try? System.status(path: file) }
        return status
    }

    private func load() -> Result<CanaryConfig, ConfigErrors> {
        do {
            return .success(try ConfigLoader.load(path: path, variables: variables))
        } catch {
            return .failure(error)
        }
    }

    /// Records a refused file: the previous configuration keeps running.
    private func refuse(_ error: ConfigErrors, agent: Agent) -> Result<Int, ConfigErrors> {
        agent.metrics.recordReload(successful: false, at: clock.wallSeconds)
        agent.metrics.registry.markChanged()
        logger.log(
            .error,
            "configuration reload rejected, the previous configuration keeps running: \(error.issues.count) error(s): "
                + "\(error.issues.first.map(\.description) ?? "")",
            [("CONFIG", path)])
        return .failure(error)
    }

    /// Puts a configuration that loaded in service in place of `old`, whose schedule goes on.
    private func apply(_ config: CanaryConfig, old: Agent, onlyDiscovery: Bool = false) async -> Result<Int, ConfigErrors> {
        let agent = Agent(config: config, logger: logger, build: build, clock: clock, previous: old)
        let change = agent.change
        agent.metrics.record(discovered: discoverer.found?.counts ?? [:])
        agent.metrics.forget(change, config: config)
        agent.recordCredentialExpiries()
        await agent.adoptSchedule()
        if !onlyDiscovery { agent.metrics.recordReload(successful: true, at: clock.wallSeconds) }
        reference.replace(agent)
        if change.listenChanged {
            logger.log(.warning, "listen changed to \(config.listen): a restart is needed to move the endpoint", [("CONFIG", path)])
        }
        let summary = change.summary
        logger.log(
            .info,
            (onlyDiscovery
                ? "discovery changed the resources: \(config.resources.count) resources"
                : "configuration reloaded: \(config.resources.count) resources, \(config.credentials.count) credentials")
                + (summary.isEmpty ? "" : "; \(summary)"), [("CONFIG", path)])
        if config.resources.isEmpty { logger.log(.warning, StatusView.noResourcesNotice, [("CONFIG", path)]) }
        agent.metrics.registry.markChanged()
        afterApply.withLock { $0 }?()
        return .success(config.resources.count)
    }
}
