// The resources the agent probes: those the file lists, plus those discovery finds, less those
// of other shards. Discovery runs beside the schedule and hands a changed set to the supervisor,
// which applies it as it applies a reload (counters and schedules of what stays carry over).
import Auth
import Config
import ControlPlane
import HTTPClient
import Log
import Support
import Synchronization

/// Runs discovery on the control plane's interval (and at once when the file's discovery
/// entries change), and tells `changed` when what it finds differs from what it found before.
final class Discoverer: Sendable {
    private struct State {
        var found: DiscoveryResult?
        var entries: [DiscoveryConfig]?
    }

    private let client: HTTPClient
    private let clock: any CanaryClock
    private let logger: EventLogger
    /// This agent's part of the estate: keys are asked for its accounts only.
    private let shard: Shard?
    private let state = Mutex(State())
    /// Rung when the file is read again: its discovery entries may have changed.
    private let wakeup = Wakeup()

    init(client: HTTPClient, clock: any CanaryClock, logger: EventLogger, shard: Shard? = nil) {
        self.client = client
        self.clock = clock
        self.logger = logger
        self.shard = shard
    }

    var found: DiscoveryResult? { state.withLock { $0.found } }

    /// The file was read again: look at its discovery entries now rather than at the next pass.
    func fileChanged() {
        wakeup.signal()
    }

    /// Until cancelled. `config` gives the file's configuration now; `changed` is called with
    /// the new set when it differs. Between passes it waits for the next one, or for
    /// `fileChanged()`.
    func run(config: @escaping @Sendable () -> CanaryConfig, changed: @escaping @Sendable () -> Void) async {
        var next = 0.0
        var tokens: (settings: CredentialSettings, cache: TokenCache)?
        var hasDiscovery = false
        while !Task.isCancelled {
            let file = config()
            let entriesChanged = state.withLock { $0.entries != file.discovery }
            hasDiscovery = file.controlPlane != nil && !file.discovery.isEmpty
            if let settings = file.controlPlane, !file.discovery.isEmpty, let credential = file.credential(named: settings.credential),
                entriesChanged || clock.monotonicSeconds >= next
            {
                next = clock.monotonicSeconds + settings.interval.seconds
                let scoped = credential.settings.withScope(settings.scope)
                if tokens?.settings != scoped {
                    tokens = (
                        scoped,
                        TokenCache(
                            credential: credential.name, source: TokenSourceFactory.make(scoped), client: client, clock: clock,
                            timeoutSeconds: file.timeout.seconds, observe: { _ in })
                    )
                }
                var result: DiscoveryResult
                do {
                    let token = try await tokens!.cache.token()
                    result = await ControlPlaneReader(client: client, endpoint: settings.endpoint, timeoutSeconds: file.timeout.seconds)
                        .discover(file.discovery, token: token.accessToken.exposedValue) { [shard] in shard?.owns($0) ?? true }
                } catch {
                    result = DiscoveryResult(
                        problems: ["no Resource Manager token for credential \(settings.credential): \(error)"],
                        failedSubscriptions: Set(file.discovery.map { $0.subscription.lowercased() }))
                }
                // A pass cut short by the stop is no finding.
                guard !Task.isCancelled else { return }
                for problem in result.problems { logger.log(.warning, "discovery: \(problem)", [("CONFIG", "discovery")]) }
                if let wait = result.retryAfter { next = max(next, clock.monotonicSeconds + wait) }
                let update = state.withLock { state -> Bool in
                    // A subscription that could not be listed keeps what it had.
                    if let previous = state.found, !result.failedSubscriptions.isEmpty {
                        let names = Set(result.resources.map(\.name))
                        let kept = previous.resources.filter { result.failedSubscriptions.contains($0.armID?.subscription.lowercased() ?? "") }
                        result.resources += kept.filter { !names.contains($0.name) }
                        for subscription in result.failedSubscriptions {
                            if let key = previous.counts.keys.first(where: { $0.lowercased() == subscription }) { result.counts[key] = previous.counts[key] }
                        }
                    }
                    let same = state.found.map { Self.same($0, result) } ?? false
                    state.entries = file.discovery
                    state.found = result
                    return !same
                }
                if update { changed() }
            } else if file.discovery.isEmpty, state.withLock({ $0.found != nil }) {
                state.withLock { $0 = State() }
                changed()
            }
            await wakeup.wait(untilMonotonic: hasDiscovery ? next : .infinity, clock: clock)
        }
    }

    private static func same(_ a: DiscoveryResult, _ b: DiscoveryResult) -> Bool {
        a.counts == b.counts && a.resources.count == b.resources.count && zip(a.resources, b.resources).allSatisfy { $0.sameSettings(as: $1) }
    }
}
