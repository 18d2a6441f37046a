// The agent's metric families: names, HELP texts, labels and buckets in one place.

/// The aoai_canary_* families and the operations that update them.
public struct CanaryMetrics: Sendable {
    public let registry: MetricsRegistry

    static let durationBuckets: [Double] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let scheduleNote = "Updated by the agent's own probe schedule, not by scrapes (probes cost money and must not multiply with scrapers)."

    public static let probeSuccess = MetricDescriptor(name: "aoai_canary_probe_success", help: "1 if the last probe of this resource with this auth mode succeeded, else 0. " + scheduleNote, type: .gauge, labelNames: ["resource", "auth"])
    public static let probeDuration = MetricDescriptor(name: "aoai_canary_probe_duration_seconds", help: "Duration of probe HTTP calls in seconds. " + scheduleNote, type: .histogram, labelNames: ["resource", "auth"], buckets: durationBuckets)
    public static let httpPhase = MetricDescriptor(name: "aoai_canary_probe_http_duration_seconds", help: "Duration of each HTTP phase of the last probe, from libcurl's timers (resolve, connect, tls, processing, transfer). " + scheduleNote, type: .gauge, labelNames: ["resource", "auth", "phase"])
    public static let httpStatus = MetricDescriptor(name: "aoai_canary_probe_http_status_code", help: "HTTP status of the last probe, 0 when there was no response. " + scheduleNote, type: .gauge, labelNames: ["resource", "auth"])
    public static let probes = MetricDescriptor(name: "aoai_canary_probes_total", help: "Probes made, including those that failed before a call for want of a token. " + scheduleNote, type: .counter, labelNames: ["resource", "auth"])
    public static let failures = MetricDescriptor(name: "aoai_canary_probe_failures_total", help: "Failed probes by reason. " + scheduleNote, type: .counter, labelNames: ["resource", "auth", "reason"])
    public static let lastSuccess = MetricDescriptor(name: "aoai_canary_last_success_timestamp_seconds", help: "Unix time of the last successful probe, 0 before the first. " + scheduleNote, type: .gauge, labelNames: ["resource", "auth"])
    public static let divergence = MetricDescriptor(name: "aoai_canary_auth_divergence", help: "1 when, in the last round, the API key probe passed authentication (succeeded, or got request_rejected) and the Entra ID probe did not. " + scheduleNote, type: .gauge, labelNames: ["resource"])
    public static let tokenExpiry = MetricDescriptor(name: "aoai_canary_token_expiry_timestamp_seconds", help: "Unix time at which the cached Entra ID token expires.", type: .gauge, labelNames: ["credential"])
    public static let tokenAcquisitions = MetricDescriptor(name: "aoai_canary_token_acquisitions_total", help: "Entra ID token requests by result (success or failure).", type: .counter, labelNames: ["credential", "result"])
    public static let tokenDuration = MetricDescriptor(name: "aoai_canary_token_acquisition_duration_seconds", help: "Duration of Entra ID token requests in seconds.", type: .histogram, labelNames: ["credential"], buckets: durationBuckets)
    public static let tokenInfo = MetricDescriptor(name: "aoai_canary_token_info", help: "Claims of the cached Entra ID token (decoded, not verified) and the credential type that issued it (for default, the one in the chain that answered); always 1.", type: .gauge, labelNames: ["credential", "tenant_id", "object_id", "app_id", "audience", "version", "source"])
    public static let tokenRefreshAt = MetricDescriptor(name: "aoai_canary_token_refresh_at_timestamp_seconds", help: "Unix time at which the cached token will be refreshed (refresh_in, half the life of long managed identity tokens, or 5 minutes before expiry).", type: .gauge, labelNames: ["credential"])
    public static let tokenLifetime = MetricDescriptor(name: "aoai_canary_token_lifetime_seconds", help: "Lifetime the issuer gave the cached token, in seconds.", type: .gauge, labelNames: ["credential"])
    public static let refreshFailures = MetricDescriptor(name: "aoai_canary_token_refresh_failures_total", help: "Failed token acquisitions by reason.", type: .counter, labelNames: ["credential", "reason"])
    public static let credentialExpiry = MetricDescriptor(name: "aoai_canary_credential_expiry_timestamp_seconds", help: "Unix time at which the credential itself expires: a client secret (secret_expires), a certificate (notAfter) or a federated token (exp).", type: .gauge, labelNames: ["credential", "kind"])
    public static let clockSkew = MetricDescriptor(name: "aoai_canary_clock_skew_seconds", help: "This host's clock minus the service's, estimated from the Date headers of the last answers (1 s resolution); positive when this host is ahead.", type: .gauge, labelNames: [])
    public static let configWarnings = MetricDescriptor(name: "aoai_canary_config_warnings", help: "1 when a configuration check warns about the resource (check: regional_endpoint, extra_path, insecure_http, scope_cloud_mismatch, key_auth_disabled, secret_file_mode), else 0.", type: .gauge, labelNames: ["resource", "check"])
    public static let permissionRecovery = MetricDescriptor(name: "aoai_canary_permission_recovery_seconds", help: "How long the last permission_denied stretch of the Entra ID probe lasted before it succeeded (role assignment propagation), in seconds.", type: .gauge, labelNames: ["resource"])
    public static let reloadSuccessful = MetricDescriptor(name: "aoai_canary_config_last_reload_successful", help: "1 if the last configuration load (start or reload) succeeded, 0 if it was rejected and the previous configuration kept running.", type: .gauge, labelNames: [])
    public static let reloadTimestamp = MetricDescriptor(name: "aoai_canary_config_last_reload_success_timestamp_seconds", help: "Unix time of the last successful configuration load.", type: .gauge, labelNames: [])
    public static let startLag = MetricDescriptor(name: "aoai_canary_round_start_lag_seconds", help: "How late rounds start against their slot in the schedule.", type: .histogram, labelNames: [], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5])
    public static let buildInfo = MetricDescriptor(name: "aoai_canary_build_info", help: "Build information of the running agent; always 1.", type: .gauge, labelNames: ["version", "revision", "swift_version"])

    static let phases = ["resolve", "connect", "tls", "processing", "transfer"]

    public init(registry: MetricsRegistry = MetricsRegistry(), build: BuildInfo) {
        self.registry = registry
        for descriptor in [Self.probeSuccess, Self.probeDuration, Self.httpPhase, Self.httpStatus, Self.probes, Self.failures,
                           Self.lastSuccess, Self.divergence, Self.tokenExpiry, Self.tokenAcquisitions, Self.tokenDuration,
                           Self.tokenInfo, Self.tokenRefreshAt, Self.tokenLifetime, Self.refreshFailures, Self.credentialExpiry, Self.clockSkew, Self.configWarnings, Self.permissionRecovery, Self.reloadSuccessful, Self.reloadTimestamp, Self.startLag, Self.buildInfo] {
            registry.register(descriptor)
        }
        registry.set(Self.buildInfo.name, [build.version, build.revision, build.swiftVersion], 1)
        registry.touch(Self.startLag.name, [])
    }

    /// Creates every series a resource can produce, at 0, so rate() and increase() work from the start.
    public func prepare(resource: String, modes: [AuthMode]) {
        for auth in modes {
            let labels = [resource, auth.rawValue]
            registry.touch(Self.probeSuccess.name, labels)
            registry.touch(Self.probeDuration.name, labels)
            registry.touch(Self.httpStatus.name, labels)
            registry.touch(Self.probes.name, labels)
            registry.touch(Self.lastSuccess.name, labels)
            for phase in Self.phases { registry.touch(Self.httpPhase.name, labels + [phase]) }
            for reason in FailureReason.possible(for: auth) {
                registry.touch(Self.failures.name, labels + [reason.rawValue])
            }
        }
        registry.touch(Self.divergence.name, [resource])
    }

    /// Creates a credential's counters at 0, and its known expiries.
    public func prepare(credential: String, expiries: [CredentialExpiry] = []) {
        registry.touch(Self.tokenAcquisitions.name, [credential, "success"])
        registry.touch(Self.tokenAcquisitions.name, [credential, "failure"])
        registry.touch(Self.tokenDuration.name, [credential])
        for reason in RefreshFailureReason.allCases {
            registry.touch(Self.refreshFailures.name, [credential, reason.rawValue])
        }
        record(credential: credential, expiries: expiries)
    }

    public func record(credential: String, expiries: [CredentialExpiry]) {
        for expiry in expiries {
            registry.set(Self.credentialExpiry.name, [credential, expiry.kind], expiry.timestamp)
        }
    }

    /// Records one probe.
    public func record(_ result: ProbeResult) {
        let labels = [result.resource, result.auth.rawValue]
        registry.add(Self.probes.name, labels)
        registry.set(Self.httpStatus.name, labels, Double(result.status))
        if let serviceDate = result.serviceDate {
            // The header has whole seconds: its middle is the best estimate of the service's time.
            registry.set(Self.clockSkew.name, [], (result.finishedAt - (serviceDate + 0.5)).rounded())
        }
        if let timings = result.timings {
            registry.observe(Self.probeDuration.name, labels, timings.total)
            let values = [timings.resolve, timings.connect, timings.tls, timings.processing, timings.transfer]
            for (phase, value) in zip(Self.phases, values) { registry.set(Self.httpPhase.name, labels + [phase], value) }
        }
        switch result.verdict {
        case .success:
            registry.set(Self.probeSuccess.name, labels, 1)
            registry.set(Self.lastSuccess.name, labels, result.finishedAt)
        case .failure(let reason, _):
            registry.set(Self.probeSuccess.name, labels, 0)
            registry.add(Self.failures.name, labels + [reason.rawValue])
        }
    }

    /// Records the pair's divergence once both halves of a round are in; returns it.
    @discardableResult
    public func recordDivergence(resource: String, key: ProbeVerdict?, entra: ProbeVerdict?) -> Bool {
        func passed(_ verdict: ProbeVerdict?) -> Bool { verdict == .success || verdict?.reason?.passedAuthentication == true }
        let diverged = passed(key) && entra != nil && !passed(entra)
        registry.set(Self.divergence.name, [resource], diverged ? 1 : 0)
        return diverged
    }

    /// Sets every check of a resource: 1 for the warnings it has, 0 for the rest.
    public func record(warnings: [ConfigWarning], resource: String) {
        for check in LintCheck.allCases {
            registry.set(Self.configWarnings.name, [resource, check.rawValue], warnings.contains { $0.check == check } ? 1 : 0)
        }
    }

    /// Records one token acquisition attempt.
    public func record(_ event: TokenAcquisitionEvent) {
        registry.observe(Self.tokenDuration.name, [event.credential], event.durationSeconds)
        switch event.result {
        case .success(let token):
            registry.add(Self.tokenAcquisitions.name, [event.credential, "success"])
            registry.set(Self.tokenExpiry.name, [event.credential], token.expiresOn)
            registry.set(Self.tokenRefreshAt.name, [event.credential], token.refreshAt)
            registry.set(Self.tokenLifetime.name, [event.credential], token.lifetime)
            let claims = token.claims
            registry.remove(Self.tokenInfo.name) { $0.first == event.credential }
            registry.set(Self.tokenInfo.name, [
                event.credential, claims?.tenantID ?? "", claims?.objectID ?? "", claims?.appID ?? "",
                claims?.audience ?? "", claims?.version ?? "", token.source,
            ], 1)
        case .failure(let error):
            registry.add(Self.tokenAcquisitions.name, [event.credential, "failure"])
            registry.add(Self.refreshFailures.name, [event.credential, RefreshFailureReason(error).rawValue])
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
