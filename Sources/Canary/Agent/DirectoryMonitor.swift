// The directory beside the probes: reads what Microsoft Graph holds of every configured
// credential (an application's secrets, certificates and federated credentials, its service
// principal) on its interval, and says what it finds against the configured credential. It never
// delays or fails a probe: it runs on its own task, and nothing waits for it.
import Auth
import Config
import ControlPlane
import HTTPClient
import Log
import Metrics
import Probe
import Support
import Synchronization

public final class DirectoryMonitor: Sendable {
    /// Resource Manager, where a user-assigned identity's federated credentials are read (with
    /// `control_plane:`'s credential), and the subscriptions to look for it in.
    struct ResourceManagerAccess: Sendable {
        var reader: ControlPlaneReader
        var tokens: TokenCache
        var subscriptions: [String]
    }

    let settings: DirectoryConfig
    /// The directory credential's settings, for telling whether a reload changed them.
    let credentialSettings: CredentialSettings
    /// The credentials whose facts are read: secrets, certificates and workload identities.
    let credentials: [CredentialConfig]
    let reader: DirectoryReader
    let tokens: TokenCache
    public let facts: DirectoryStore
    let resourceManager: ResourceManagerAccess?
    /// The canaries' token caches by credential name: a managed identity's token says which
    /// identity the host gave.
    let canaryTokens: [String: TokenCache]
    let metrics: CanaryMetrics
    let logger: EventLogger
    let clock: any CanaryClock
    /// Credentials whose facts a reload carried over: the first pass skips them while fresh.
    private let carried: Mutex<Set<String>>

    /// Facts go to `facts`, the board's store, which outlives a reload. A reload passes the
    /// previous agent's monitor: with the same settings and credential, its Graph token and the
    /// facts of unchanged credentials carry over, and the first pass reads only what is due.
    init(
        settings: DirectoryConfig, credentials: [CredentialConfig], client: HTTPClient, timeoutSeconds: Double, credential: CredentialConfig,
        facts: DirectoryStore, metrics: CanaryMetrics, logger: EventLogger, clock: any CanaryClock, tokenRetryInterval: Double,
        resourceManager: ResourceManagerAccess? = nil, canaryTokens: [String: TokenCache] = [:], previous: DirectoryMonitor? = nil
    ) {
        self.resourceManager = resourceManager
        self.settings = settings
        self.credentialSettings = credential.settings
        self.credentials = credentials.filter { DirectoryFacts.appID($0.settings) != nil || $0.settings.kind == .managedIdentity }
        self.canaryTokens = canaryTokens
        self.reader = DirectoryReader(client: client, endpoint: settings.endpoint, timeoutSeconds: timeoutSeconds) { metrics.recordDirectoryRequest($0) }
        self.facts = facts
        if let previous, previous.settings == settings, previous.credentialSettings == credential.settings {
            tokens = previous.tokens
            let unchanged = Set(
                self.credentials.filter { new in previous.credentials.contains { $0.name == new.name && $0.settings == new.settings } }.map(\.name))
            facts.keep(unchanged)
            carried = Mutex(unchanged)
        } else {
            // Its own cache: Graph's audience, and events kept out of the canary's token metrics.
            tokens = TokenCache(
                credential: credential.name, source: TokenSourceFactory.make(credential.settings.withScope(settings.scope)), client: client,
                clock: clock, timeoutSeconds: timeoutSeconds, retryInterval: tokenRetryInterval, observe: { _ in })
            facts.keep([])
            carried = Mutex([])
        }
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        metrics.prepareDirectory()
        for name in carried.withLock({ $0 }) {
            if let known = facts[name] { metrics.record(directory: known) }
        }
    }

    /// Reads every credential now and then on the interval, until cancelled.
    func run() async {
        var first = true
        while !Task.isCancelled {
            let skip = first ? carried.withLock { $0 } : []
            first = false
            let wall = clock.wallSeconds
            for credential in credentials where !Task.isCancelled {
                if skip.contains(credential.name), let known = facts[credential.name], wall - known.readAt < settings.interval.seconds { continue }
                // Throttled: the pass waits as long as Graph said, then reads this credential
                // again (three times at most) and goes on with the rest.
                var attempts = 0
                while attempts < 3, let wait = await read(credential) {
                    attempts += 1
                    logger.log(.warning, "Microsoft Graph throttles the directory reads: they resume in \(Int(wait)) s", [("CREDENTIAL", credential.name)])
                    do { try await clock.sleep(untilMonotonic: clock.monotonicSeconds + wait) } catch { return }
                }
            }
            do { try await clock.sleep(untilMonotonic: clock.monotonicSeconds + settings.interval.seconds) } catch { return }
        }
    }

    /// The directory's findings behind a failed token request of `credential`: why Entra ID
    /// refused it, in the failure's evidence.
    func explain(_ result: ProbeResult, credential: String) -> ProbeResult {
        guard result.verdict.reason == .tokenAcquisitionFailed, let findings = facts[credential]?.findings, !findings.isEmpty,
            case .failure(var failure) = result.verdict
        else { return result }
        failure.evidence.directory = findings
        var explained = result
        explained.verdict = .failure(failure)
        return explained
    }

    /// One credential: its facts in the store and the metrics, and a warning when what they say
    /// changes. Returns the seconds Graph asked to wait when it throttled the read.
    @discardableResult
    public func read(_ credential: CredentialConfig) async -> Double? {
        let appID: String
        let presented: PresentedCredential
        if case .managedIdentity(let settings) = credential.settings {
            // Which identity the host gave is in its token: the canary's, asked for as usual.
            guard let claims = (try? await canaryTokens[credential.name]?.token())?.claims, let clientID = claims.appID else {
                var pending = DirectoryFacts(
                    credential: credential.name, appID: "?", readAt: clock.wallSeconds, presented: .unknown("no token from the managed identity yet"))
                pending.problems = ["no token from the managed identity yet, to tell which identity the host gives"]
                facts.record(pending)
                return nil
            }
            appID = clientID
            presented = .managedIdentity(
                requested: settings.selector, clientID: claims.appID, objectID: claims.objectID, resourceID: claims.managedIdentityResourceID)
        } else {
            guard let id = DirectoryFacts.appID(credential.settings) else { return nil }
            appID = id
            presented = DirectoryFacts.presented(credential.settings)
        }
        var fresh: DirectoryFacts
        do {
            let token = try await tokens.token()
            fresh = await reader.read(
                credential: credential.name, appID: appID, presented: presented, token: token.accessToken.exposedValue, now: clock.wallSeconds)
        } catch {
            fresh = DirectoryFacts(credential: credential.name, appID: appID, readAt: clock.wallSeconds, presented: presented)
            fresh.problems = ["no Microsoft Graph token for credential \(settings.credential): \(error)"]
        }
        if case .unknown(let why) = presented { fresh.problems.append(why) }
        let resourceManager = self.resourceManager
        await DirectoryReader.addIdentity(to: &fresh, subscriptions: resourceManager?.subscriptions ?? [], arm: resourceManager?.reader) {
            try await resourceManager!.tokens.token().accessToken.exposedValue
        }
        guard !Task.isCancelled else { return nil }
        let before = facts[credential.name]
        // A throttled read keeps what the last full one said.
        if let wait = fresh.retryAfter, before != nil { return wait }
        facts.record(fresh)
        metrics.record(directory: fresh)
        let earlier = before?.findings ?? []
        for finding in fresh.findings where !earlier.contains(finding) {
            logger.log(.warning, "\(credential.name): \(finding)", [("CREDENTIAL", credential.name)])
        }
        // A fact that changed without being a finding: a rotated secret's new end date, a
        // federated credential that now matches, a secret that is held again.
        if let before {
            if case .found(let old, let kind) = before.registration, case .found(let new, _) = fresh.registration, old != new {
                let date: (Double?) -> String = { $0.map { Timestamp.iso8601(wallSeconds: $0) } ?? "none" }
                logger.log(
                    .warning,
                    "\(credential.name): the directory's end date of the configured \(kind.replacing("_", with: " ")) changed from \(date(old)) to \(date(new))",
                    [("CREDENTIAL", credential.name)])
            }
            if before.federatedMatch == false, fresh.federatedMatch == true {
                logger.log(.info, "\(credential.name): a federated credential now accepts the workload's token", [("CREDENTIAL", credential.name)])
            }
            if before.registration == .missing, case .found = fresh.registration {
                logger.log(.info, "\(credential.name): the application holds the configured credential again", [("CREDENTIAL", credential.name)])
            }
        }
        if fresh.problems != (before?.problems ?? []) {
            for problem in fresh.problems {
                logger.log(.warning, "\(credential.name): the directory could not be read: \(problem)", [("CREDENTIAL", credential.name)])
            }
        }
        return fresh.retryAfter
    }
}
