// Runs the agent and swaps it on reload: a bad configuration is refused and the old one keeps running.
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
        return StatusSnapshot(registry: agent.metrics.registry, board: agent.board)
    }
}

/// Owns the running agent's schedule and replaces the agent when the configuration is reloaded.
public actor Supervisor {
    public nonisolated let reference: AgentReference
    private let path: String
    private let variables: [String: String]
    private let logger: EventLogger
    private let build: BuildInfo
    private let clock: any CanaryClock
    private var runner: Task<Void, Never>?
    private var heartbeat: (@Sendable () -> Void)?
    private var heartbeatInterval: Double = 10
    /// Reloads run one at a time (SIGHUP and POST can overlap); later ones wait here.
    private var reloading = false
    private var waitingReloads: [CheckedContinuation<Void, Never>] = []
    private var stopped = false

    public init(config: CanaryConfig, path: String, variables: [String: String], logger: EventLogger, build: BuildInfo, clock: any CanaryClock = SystemClock()) {
        self.path = path
        self.variables = variables
        self.logger = logger
        self.build = build
        self.clock = clock
        let agent = Agent(config: config, logger: logger, build: build, clock: clock)
        agent.metrics.registry.set(CanaryMetrics.reloadSuccessful.name, [], 1)
        agent.metrics.registry.set(CanaryMetrics.reloadTimestamp.name, [], clock.wallSeconds)
        reference = AgentReference(agent)
    }

    /// Called on every pass of the scheduler loop, at least every `interval` seconds (the
    /// service watchdog and status).
    public func setHeartbeat(every interval: Double, _ beat: @escaping @Sendable () -> Void) {
        heartbeat = beat
        heartbeatInterval = interval
    }

    /// Starts the current agent's schedule.
    public func start() async {
        guard !stopped else { return }
        if let running = runner {
            runner = nil
            running.cancel()
            await running.value
        }
        let agent = reference.current
        if let heartbeat { await agent.scheduler.setHeartbeat(every: heartbeatInterval, heartbeat) }
        // One task per agent generation, cancelled and awaited by reload and stop.
        runner = Task { await agent.run() }
    }

    /// Re-reads the configuration file. On success the new agent takes over (counters of
    /// resources that remain carry on, series of removed ones are dropped); on failure nothing
    /// changes but the reload metrics and a log entry.
    public func reload() async -> Result<Int, ConfigErrors> {
        while reloading {
            await withCheckedContinuation { waitingReloads.append($0) }
        }
        reloading = true
        defer {
            reloading = false
            if !waitingReloads.isEmpty { waitingReloads.removeFirst().resume() }
        }
        let old = reference.current
        // After stop, a late reload (a POST racing SIGTERM) changes nothing.
        guard !stopped else { return .success(old.config.resources.count) }
        let config: CanaryConfig
        do {
            config = try ConfigLoader.load(path: path, variables: variables)
        } catch {
            old.metrics.registry.set(CanaryMetrics.reloadSuccessful.name, [], 0)
            logger.log(.error, "configuration reload rejected, the previous configuration keeps running: \(error.issues.count) error(s): \(error.issues.first.map(\.description) ?? "")",
                       [("CONFIG", path)])
            return .failure(error)
        }
        if let running = runner {
            runner = nil
            running.cancel()
            await running.value
        }
        let agent = Agent(config: config, logger: logger, build: build, clock: clock, previous: old)
        let removedResources = Set(old.config.resources.map(\.name)).subtracting(config.resources.map(\.name))
        let removedCredentials = Set(old.config.credentials.map(\.name)).subtracting(config.credentials.map(\.name))
        let registry = agent.metrics.registry
        registry.removeSeries(label: "resource", values: removedResources)
        registry.removeSeries(label: "credential", values: removedCredentials)
        // A resource that keeps its name may drop its key or its credential: its series for that
        // auth mode go, or alerts would go on reading the last value.
        for resource in config.resources {
            for auth in AuthMode.allCases where !AuthMode.modes(of: resource).contains(auth) {
                registry.removeSeries(matching: ["resource": resource.name, "auth": auth.rawValue])
            }
        }
        // Expiry kinds are re-recorded from the new sources (a removed secret_expires disappears).
        registry.remove(CanaryMetrics.credentialExpiry.name) { _ in true }
        agent.recordCredentialExpiries()
        agent.metrics.registry.set(CanaryMetrics.reloadSuccessful.name, [], 1)
        agent.metrics.registry.set(CanaryMetrics.reloadTimestamp.name, [], clock.wallSeconds)
        reference.replace(agent)
        if config.listen != old.config.listen {
            logger.log(.warning, "listen changed to \(config.listen): a restart is needed to move the endpoint", [("CONFIG", path)])
        }
        logger.log(.info, "configuration reloaded: \(config.resources.count) resources, \(config.credentials.count) credentials"
                   + (removedResources.isEmpty ? "" : "; removed \(removedResources.sorted().joined(separator: ", "))"), [("CONFIG", path)])
        await start()
        return .success(config.resources.count)
    }

    /// Stops the schedule: rounds in flight are cancelled.
    public func stop() async {
        stopped = true
        if let running = runner {
            runner = nil
            running.cancel()
            await running.value
        }
        reference.current.shutdown()
    }
}
