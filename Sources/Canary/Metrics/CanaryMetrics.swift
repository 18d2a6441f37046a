// The agent's metric families: names, HELP texts, labels and buckets in one place.
import Auth
import Config
import ControlPlane
import Probe

/// The aoai_canary_* families and the operations that update them.
public struct CanaryMetrics: Sendable {
    public let registry: MetricsRegistry

    static let durationBuckets: [Double] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let scheduleNote = "Updated by the agent's own probe schedule, not by scrapes (probes cost money and must not multiply with scrapers)."

    public static let probeSuccess = GaugeFamily(
        "aoai_canary_probe_success", help: "1 if the last probe of this resource with this auth mode succeeded, else 0. " + scheduleNote,
        labels: ["resource", "auth"])
    /// By auth mode only: a histogram per resource cost 13 series each, the most of any family.
    public static let probeDuration = HistogramFamily(
        "aoai_canary_probe_duration_seconds", help: "Duration of probe HTTP calls in seconds, over every resource. " + scheduleNote, labels: ["auth"],
        buckets: durationBuckets)
    public static let lastDuration = GaugeFamily(
        "aoai_canary_probe_last_duration_seconds", help: "Duration of the last probe's HTTP call in seconds. " + scheduleNote, labels: ["resource", "auth"])
    public static let httpPhase = GaugeFamily(
        "aoai_canary_probe_http_duration_seconds",
        help:
            "Duration of each HTTP phase of the last probe, from libcurl's timers (resolve, connect, tls, processing, transfer), while that probe "
            + "failed; absent while it succeeds. " + scheduleNote,
        labels: ["resource", "auth", "phase"])
    public static let httpStatus = GaugeFamily(
        "aoai_canary_probe_http_status_code", help: "HTTP status of the last probe, 0 when there was no response. " + scheduleNote,
        labels: ["resource", "auth"])
    public static let probes = CounterFamily(
        "aoai_canary_probes_total", help: "Probes made, including those that failed before a call for want of a token. " + scheduleNote,
        labels: ["resource", "auth"])
    public static let failures = CounterFamily(
        "aoai_canary_probe_failures_total", help: "Failed probes by reason. " + scheduleNote, labels: ["resource", "auth", "reason"])
    public static let lastSuccess = GaugeFamily(
        "aoai_canary_last_success_timestamp_seconds", help: "Unix time of the last successful probe, 0 before the first. " + scheduleNote,
        labels: ["resource", "auth"])
    public static let lastFailureReason = GaugeFamily(
        "aoai_canary_last_failure_reason",
        help:
            "1 for the reason the last probe of this resource with this auth mode failed; absent while it succeeds. Alert rules read it so that failures "
            + "counted before a recovery raise nothing. " + scheduleNote,
        labels: ["resource", "auth", "reason"])
    public static let divergence = GaugeFamily(
        "aoai_canary_auth_divergence",
        help: "1 when, in the last round, the API key probe passed authentication (succeeded, or got request_rejected) and the Entra ID probe did not. "
            + scheduleNote, labels: ["resource"])
    public static let resourceCredential = GaugeFamily(
        "aoai_canary_resource_credential_info",
        help:
            "The credential whose tokens the Entra ID canary of this resource uses; always 1. Alert rules join on it to give per-resource alerts a credential "
            + "label.",
        labels: ["resource", "credential"])
    public static let dataActionGranted = GaugeFamily(
        "aoai_canary_data_action_granted",
        help:
            "1 when Azure Resource Manager shows the canary's principal holding the data action the probe needs, 0 when it does not; absent when unknown (no "
            + "control_plane, or the roles could not be read).",
        labels: ["resource", "credential"])
    public static let resourceInfo = GaugeFamily(
        "aoai_canary_resource_info", help: "The account as Azure Resource Manager describes it; always 1.", labels: ["resource", "arm_id", "kind", "location"])
    public static let controlPlaneRequests = CounterFamily(
        "aoai_canary_control_plane_requests_total", help: "Azure Resource Manager requests by result (success or failure). They never delay or fail a probe.",
        labels: ["result"])
    public static let discoveredResources = GaugeFamily(
        "aoai_canary_discovered_resources", help: "Resources discovery found through Azure Resource Manager, by subscription.", labels: ["subscription"])
    public static let tokenExpiry = GaugeFamily(
        "aoai_canary_token_expiry_timestamp_seconds", help: "Unix time at which the cached Entra ID token expires.", labels: ["credential"])
    public static let tokenAcquisitions = CounterFamily(
        "aoai_canary_token_acquisitions_total", help: "Entra ID token requests by result (success or failure).", labels: ["credential", "result"])
    public static let tokenDuration = HistogramFamily(
        "aoai_canary_token_acquisition_duration_seconds", help: "Duration of Entra ID token requests in seconds.", labels: ["credential"],
        buckets: durationBuckets)
    public static let tokenInfo = GaugeFamily(
        "aoai_canary_token_info",
        help:
            "Claims of the cached Entra ID token (decoded, not verified) and the credential type that issued it (for default, the one in the chain that "
            + "answered); always 1.",
        labels: ["credential", "tenant_id", "object_id", "app_id", "audience", "version", "source"])
    public static let tokenRefreshAt = GaugeFamily(
        "aoai_canary_token_refresh_at_timestamp_seconds",
        help: "Unix time at which the cached token will be refreshed (refresh_in, half the life of long managed identity tokens, or 5 minutes before expiry).",
        labels: ["credential"])
    public static let tokenLifetime = GaugeFamily(
        "aoai_canary_token_lifetime_seconds", help: "Lifetime the issuer gave the cached token, in seconds.", labels: ["credential"])
    public static let refreshFailures = CounterFamily(
        "aoai_canary_token_refresh_failures_total", help: "Failed token acquisitions by reason.", labels: ["credential", "reason"])
    public static let credentialExpiry = GaugeFamily(
        "aoai_canary_credential_expiry_timestamp_seconds",
        help:
            "Unix time at which the credential itself expires: a client secret, a certificate or a federated token; source says where the date comes "
            + "from (directory: Microsoft Graph, config: secret_expires, certificate: its notAfter, token_file: the token's exp).",
        labels: ["credential", "kind", "source"])
    public static let directoryRequests = CounterFamily(
        "aoai_canary_directory_requests_total", help: "Microsoft Graph requests by result (success or failure). They never delay or fail a probe.",
        labels: ["result"])
    public static let federatedCredentialMatch = GaugeFamily(
        "aoai_canary_federated_credential_match",
        help: "1 when one of the application's federated credentials accepts the workload's token (issuer, subject and audience), 0 when none does.",
        labels: ["credential"])
    public static let credentialInDirectory = GaugeFamily(
        "aoai_canary_credential_in_directory",
        help: "1 when the application holds the configured secret (by its hint) or certificate (by its thumbprint), 0 when it does not.",
        labels: ["credential"])
    public static let clockSkew = GaugeFamily(
        "aoai_canary_clock_skew_seconds",
        help: "This host's clock minus the service's, estimated from the Date headers of the last answers (1 s resolution); positive when this host is ahead.")
    public static let configWarnings = GaugeFamily(
        "aoai_canary_config_warnings",
        help:
            "1 when a configuration check warns about the resource (check: regional_endpoint, extra_path, insecure_http, scope_cloud_mismatch, "
            + "key_auth_disabled, secret_file_mode, unknown_api_version; from Resource Manager: local_auth_disabled, no_custom_subdomain, public_network_disabled, "
            + "deployment_missing); absent for the checks it passes.",
        labels: ["resource", "check"])
    public static let permissionRecovery = GaugeFamily(
        "aoai_canary_permission_recovery_seconds",
        help: "How long the last permission_denied stretch of the Entra ID probe lasted before it succeeded (role assignment propagation), in seconds.",
        labels: ["resource"])
    public static let reloadSuccessful = GaugeFamily(
        "aoai_canary_config_last_reload_successful",
        help: "1 if the last configuration load (start or reload) succeeded, 0 if it was rejected and the previous configuration kept running.")
    public static let reloadTimestamp = GaugeFamily(
        "aoai_canary_config_last_reload_success_timestamp_seconds", help: "Unix time of the last successful configuration load.")
    public static let startLag = HistogramFamily(
        "aoai_canary_round_start_lag_seconds", help: "How late rounds start against their slot in the schedule.",
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5])
    public static let shardInfo = GaugeFamily(
        "aoai_canary_shard_info",
        help:
            "The part of the estate this agent probes (run --shard INDEX/COUNT); always 1, absent without --shard. Two agents of one job with the same index, "
            + "or with different counts, probe some resources twice.",
        labels: ["index", "count"])
    public static let buildInfo = GaugeFamily(
        "aoai_canary_build_info", help: "Build information of the running agent; always 1.", labels: ["version", "revision", "swift_version"])

    static let phases = ["resolve", "connect", "tls", "processing", "transfer"]

    /// Every family, in the order they are rendered: registered together, so writing to a
    /// family that is not here fails loudly (the registry's precondition), never silently.
    public static let all: [any MetricFamily] = [
        probeSuccess, probeDuration, lastDuration, httpPhase, httpStatus, probes, failures, lastSuccess, lastFailureReason, divergence,
        resourceCredential, dataActionGranted, resourceInfo, controlPlaneRequests, discoveredResources, tokenExpiry, tokenAcquisitions, tokenDuration,
        tokenInfo, tokenRefreshAt, tokenLifetime, refreshFailures,
        credentialExpiry, directoryRequests, federatedCredentialMatch, credentialInDirectory, clockSkew, configWarnings, permissionRecovery, reloadSuccessful,
        reloadTimestamp, startLag, shardInfo, buildInfo,
    ]

    public init(registry: MetricsRegistry = MetricsRegistry(), build: BuildInfo) {
        self.registry = registry
        for family in Self.all { registry.register(family) }
        registry.set(Self.buildInfo, [build.version, build.revision, build.swiftVersion], 1)
        registry.touch(Self.startLag, [])
    }

    /// Creates every series a resource can produce, at 0, so rate() and increase() work from the start.
    public func prepare(resource: String, modes: [AuthMode], credential: String? = nil) {
        registry.remove(Self.resourceCredential, first: resource)
        if let credential, modes.contains(.entraID) { registry.set(Self.resourceCredential, [resource, credential], 1) }
        for auth in modes {
            let labels = [resource, auth.rawValue]
            registry.touch(Self.probeSuccess, labels)
            registry.touch(Self.probeDuration, [auth.rawValue])
            registry.touch(Self.httpStatus, labels)
            registry.touch(Self.probes, labels)
            registry.touch(Self.lastSuccess, labels)
            // No failure counter is exported before its reason happens: the registry serves a new
            // counter at 0 before it counts, so increase() sees its first failure (see `add`).
        }
        registry.touch(Self.divergence, [resource])
    }

    /// Creates a credential's counters at 0, and its known expiries.
    public func prepare(credential: String, expiries: [CredentialExpiry] = []) {
        registry.touch(Self.tokenAcquisitions, [credential, "success"])
        registry.touch(Self.tokenAcquisitions, [credential, "failure"])
        registry.touch(Self.tokenDuration, [credential])
        for reason in RefreshFailureReason.allCases {
            registry.touch(Self.refreshFailures, [credential, reason.rawValue])
        }
        record(credential: credential, expiries: expiries)
    }

    public func record(credential: String, expiries: [CredentialExpiry]) {
        for expiry in expiries {
            // The directory's date, once read, stands for the credential's own.
            if registry.value(Self.credentialExpiry, [credential, expiry.kind, "directory"]) != nil { continue }
            registry.set(Self.credentialExpiry, [credential, expiry.kind, expiry.source], expiry.timestamp)
        }
    }

    /// Creates the directory's request counters at 0, when there is a directory to read.
    public func prepareDirectory() {
        registry.touch(Self.directoryRequests, ["success"])
        registry.touch(Self.directoryRequests, ["failure"])
    }

    public func recordDirectoryRequest(_ result: String) {
        registry.add(Self.directoryRequests, [result])
    }

    /// What a pass over the directory found for a credential: whether the application holds the
    /// configured secret or certificate, its expiry in place of the file's, and whether a
    /// federated credential accepts the workload's token; what is unknown is left absent.
    public func record(directory facts: DirectoryFacts) {
        let credential = facts.credential
        switch facts.registration {
        case .found(let expiresAt, let kind):
            registry.set(Self.credentialInDirectory, [credential], 1)
            if let expiresAt {
                registry.remove(Self.credentialExpiry, first: credential) { $0[1] == kind }
                registry.set(Self.credentialExpiry, [credential, kind, "directory"], expiresAt)
            }
        case .missing:
            registry.set(Self.credentialInDirectory, [credential], 0)
        case .unknown:
            break
        }
        if let match = facts.federatedMatch {
            registry.set(Self.federatedCredentialMatch, [credential], match ? 1 : 0)
        }
    }

    /// Records one probe.
    public func record(_ result: ProbeResult) {
        let labels = [result.resource, result.auth.rawValue]
        registry.add(Self.probes, labels)
        registry.set(Self.httpStatus, labels, Double(result.status))
        if let serviceDate = result.serviceDate {
            // The header has whole seconds: its middle is the best estimate of the service's time.
            registry.set(Self.clockSkew, [], (result.finishedAt - (serviceDate + 0.5)).rounded())
        }
        if let timings = result.timings {
            registry.observe(Self.probeDuration, [result.auth.rawValue], timings.total)
            registry.set(Self.lastDuration, labels, timings.total)
        }
        // A failed probe's phases say where its time went; a succeeding one's are not exported.
        if result.verdict != .success, let timings = result.timings {
            let values = [timings.resolve, timings.connect, timings.tls, timings.processing, timings.transfer]
            for (phase, value) in zip(Self.phases, values) { registry.set(Self.httpPhase, labels + [phase], value) }
        }
        // The last failure's reason goes when the next probe ends; only a probe that failed last
        // time (or the first) can have one, so a resource that keeps succeeding costs no removal.
        let previous = registry.set(Self.probeSuccess, labels, result.verdict == .success ? 1 : 0)
        if previous != 1 {
            let auth = result.auth.rawValue
            registry.remove(Self.lastFailureReason, first: result.resource) { $0[1] == auth }
            if result.verdict == .success || result.timings == nil { registry.remove(Self.httpPhase, first: result.resource) { $0[1] == auth } }
        }
        switch result.verdict {
        case .success:
            registry.set(Self.lastSuccess, labels, result.finishedAt)
        case .failure(let failure):
            registry.add(Self.failures, labels + [failure.reason.rawValue])
            registry.set(Self.lastFailureReason, labels + [failure.reason.rawValue], 1)
        }
    }

    /// Records the pair's divergence once both halves of a round are in; returns it.
    @discardableResult
    public func recordDivergence(resource: String, key: ProbeVerdict?, entra: ProbeVerdict?) -> Bool {
        func passed(_ verdict: ProbeVerdict?) -> Bool { verdict == .success || verdict?.reason?.passedAuthentication == true }
        let diverged = passed(key) && entra != nil && !passed(entra)
        registry.set(Self.divergence, [resource], diverged ? 1 : 0)
        return diverged
    }

    /// A resource's warnings: one series at 1 per warning it has, none for the checks it passes.
    public func record(warnings: [ConfigWarning], resource: String) {
        registry.remove(Self.configWarnings, first: resource)
        for check in Set(warnings.map(\.check)) {
            registry.set(Self.configWarnings, [resource, check.rawValue], 1)
        }
    }

    /// Creates the control plane's request counters at 0, when there is a control plane.
    public func prepareControlPlane() {
        registry.touch(Self.controlPlaneRequests, ["success"])
        registry.touch(Self.controlPlaneRequests, ["failure"])
    }

    /// What discovery found, per subscription; the series of subscriptions no longer searched go.
    public func record(discovered counts: [String: Int]) {
        registry.remove(Self.discoveredResources, where: { _ in true })
        for (subscription, count) in counts { registry.set(Self.discoveredResources, [subscription], Double(count)) }
    }

    public func recordControlPlaneRequest(_ result: String) {
        registry.add(Self.controlPlaneRequests, [result])
    }

    /// What a pass over Resource Manager found for a resource: its description, and whether its
    /// principal holds the data action (left absent when that is unknown).
    public func record(facts: ControlPlaneFacts, resource: String, credential: String?, dataAction: String) {
        registry.remove(Self.resourceInfo, first: resource)
        if let account = facts.account {
            registry.set(Self.resourceInfo, [resource, facts.armID.description, account.kind, account.location], 1)
        }
        registry.remove(Self.dataActionGranted, first: resource)
        if let credential, let granted = facts.dataActionGranted(dataAction) {
            registry.set(Self.dataActionGranted, [resource, credential], granted ? 1 : 0)
        }
    }

    /// Which shard this agent is, for the rule that finds two agents probing the same part.
    public func record(shard: Shard) {
        registry.set(Self.shardInfo, [String(shard.index), String(shard.count)], 1)
    }

    /// How late a round started against its slot.
    public func recordStartLag(_ lag: Double) {
        registry.observe(Self.startLag, [], lag)
    }

    /// How long a resource's permission_denied stretch lasted before the role took effect.
    public func recordPermissionRecovery(resource: String, seconds: Double) {
        registry.set(Self.permissionRecovery, [resource], seconds)
    }

    /// The outcome of a configuration load: at start, or a reload accepted or refused.
    public func recordReload(successful: Bool, at time: Double) {
        registry.set(Self.reloadSuccessful, [], successful ? 1 : 0)
        if successful { registry.set(Self.reloadTimestamp, [], time) }
    }

    /// Drops what a reload removed: the series of removed resources and credentials, of auth
    /// modes a changed resource no longer has, and every credential expiry (re-recorded from
    /// the new sources). Costs what is removed, not the number of series kept.
    public func forget(_ change: ConfigChange, config: CanaryConfig) {
        registry.removeSeries(label: "resource", values: change.removedResources)
        registry.removeSeries(label: "credential", values: change.removedCredentials)
        for resource in config.resources where change.changedResources[resource.name] != nil {
            let modes = AuthMode.modes(of: resource)
            for auth in AuthMode.allCases where !modes.contains(auth) {
                registry.removeSeries(matching: ["resource": resource.name, "auth": auth.rawValue])
            }
        }
        registry.remove(Self.credentialExpiry) { _ in true }
    }

    /// Records one token acquisition attempt.
    public func record(_ event: TokenAcquisitionEvent) {
        registry.observe(Self.tokenDuration, [event.credential], event.durationSeconds)
        switch event.result {
        case .success(let token):
            registry.add(Self.tokenAcquisitions, [event.credential, "success"])
            registry.set(Self.tokenExpiry, [event.credential], token.expiresOn)
            registry.set(Self.tokenRefreshAt, [event.credential], token.refreshAt)
            registry.set(Self.tokenLifetime, [event.credential], token.lifetime)
            let claims = token.claims
            registry.remove(Self.tokenInfo, first: event.credential)
            registry.set(
                Self.tokenInfo,
                [
                    event.credential, claims?.tenantID ?? "", claims?.objectID ?? "", claims?.appID ?? "",
                    claims?.audience ?? "", claims?.version ?? "", token.source,
                ], 1)
        case .failure(let error):
            registry.add(Self.tokenAcquisitions, [event.credential, "failure"])
            registry.add(Self.refreshFailures, [event.credential, RefreshFailureReason(error).rawValue])
        }
        record(credential: event.credential, expiries: event.credentialExpiries)
    }
}

/// What the binary says about itself.
public struct BuildInfo: Sendable {
    public var version: String
    public var revision: String
    public var swiftVersion: String

    public init(version: String, revision: String, swiftVersion: String) {
        self.version = version
        self.revision = revision
        self.swiftVersion = swiftVersion
    }
}
