// Turns outcomes into metrics, status and log entries: the scheduler's and token caches' observer.
import Auth
import Log
import Metrics
import Probe
import Schedule
import Status

/// Records every probe in metrics and logs changes of outcome (not every successful round).
public struct ProbeReporter: ScheduleObserver {
    public let metrics: CanaryMetrics
    public let logger: EventLogger
    public let board: StatusBoard

    public init(metrics: CanaryMetrics, logger: EventLogger, board: StatusBoard) {
        self.metrics = metrics
        self.logger = logger
        self.board = board
    }

    /// Records a probe; logs it when its verdict changed (or on the first round).
    public func report(_ probe: ProbeResult) {
        metrics.record(probe)
        let transition = board.record(probe)
        let previous = transition.previous
        if transition.warningsChanged {
            metrics.record(warnings: board.warnings(probe.resource), resource: probe.resource)
        }
        if let recovery = transition.permissionRecoverySeconds {
            metrics.recordPermissionRecovery(resource: probe.resource, seconds: recovery)
            logger.log(
                .notice, "\(probe.resource) entra_id: the data-plane role took effect after \(recovery.rounded().clampedInt) s of permission_denied",
                [("RESOURCE", probe.resource), ("AUTH", probe.auth.rawValue), ("RECOVERY_S", String(recovery.rounded().clampedInt))])
        }
        let changed: Bool
        switch (previous, probe.verdict) {
        case (nil, _): changed = true
        case (.success?, .success): changed = false
        case (.failure(let old)?, .failure(let new)): changed = old.reason != new.reason
        default: changed = true
        }
        guard changed else { return }
        var fields: [(String, String)] = [("RESOURCE", probe.resource), ("AUTH", probe.auth.rawValue), ("HTTP_STATUS", String(probe.status))]
        if let timings = probe.timings { fields.append(("DURATION_MS", String((timings.total * 1000).rounded().clampedInt))) }
        if let credential = probe.credential { fields.append(("CREDENTIAL", credential)) }
        if let expiresIn = probe.tokenExpiresIn { fields.append(("TOKEN_EXPIRES_IN_S", String(expiresIn.clampedInt))) }
        if let aadsts = probe.verdict.failure?.evidence.aadsts { fields.append(("AADSTS", String(aadsts))) }
        switch probe.verdict {
        case .success:
            let what = previous == nil ? "probe succeeded" : "probe recovered"
            logger.log(previous == nil ? .info : .notice, "\(probe.resource) \(probe.auth.rawValue): \(what)", fields)
        case .failure(let failure):
            fields.insert(("REASON", failure.reason.rawValue), at: 2)
            logger.log(
                .error, "\(probe.resource) \(probe.auth.rawValue): probe failed: \(failure.reason.rawValue): \(failure.detail(now: probe.finishedAt))", fields)
        }
    }

    public func roundStarted(lag: Double) {
        metrics.recordStartLag(lag)
    }

    public func roundFinished(_ round: RoundResult) {
        for probe in round.results { report(probe) }
        reportRound(round)
    }

    /// Records the pair's divergence.
    public func reportRound(_ round: RoundResult) {
        let diverged = metrics.recordDivergence(resource: round.resource, key: round.apiKey?.verdict, entra: round.entraID?.verdict)
        board.record(divergence: diverged, resource: round.resource)
    }

    /// Records a token acquisition and logs it (one entry per attempt).
    public func report(_ event: TokenAcquisitionEvent, now: Double) {
        metrics.record(event)
        board.record(event)
        var fields: [(String, String)] = [("CREDENTIAL", event.credential), ("DURATION_MS", String((event.durationSeconds * 1000).rounded().clampedInt))]
        switch event.result {
        case .success(let token):
            fields.append(("TOKEN_EXPIRES_IN_S", String((token.expiresOn - now).clampedInt)))
            let who = token.claims.map { " for object \($0.objectID ?? "?") in tenant \($0.tenantID ?? "?"), audience \($0.audience ?? "?")" } ?? ""
            fields.append(("SOURCE", token.source))
            logger.log(.info, "\(event.credential): token acquired from \(token.source)\(who)", fields)
        case .failure(let error):
            if let code = error.aadsts { fields.append(("AADSTS", String(code))) }
            fields.append(("REASON", FailureReason.tokenAcquisitionFailed.rawValue))
            fields.append(("REFRESH_REASON", RefreshFailureReason(error).rawValue))
            let kept = event.keptOldToken ? " (the cached token is still valid and stays in use)" : ""
            logger.log(.error, "\(event.credential): token acquisition failed: \(error)\(kept)", fields)
        }
    }
}
