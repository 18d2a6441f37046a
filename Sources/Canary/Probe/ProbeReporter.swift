// Turns outcomes into metrics, and into log entries when an outcome changes.

/// Records every probe in metrics and logs changes of outcome (not every successful round).
public struct ProbeReporter: Sendable {
    public let metrics: CanaryMetrics
    public let logger: EventLogger

    public init(metrics: CanaryMetrics, logger: EventLogger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Records a probe; logs it when its verdict differs from `previous` (nil: the first round).
    public func report(_ probe: ProbeResult, previous: ProbeVerdict?) {
        metrics.record(probe)
        let changed: Bool
        switch (previous, probe.verdict) {
        case (nil, _): changed = true
        case (.success?, .success): changed = false
        case (.failure(let old, _)?, .failure(let new, _)): changed = old != new
        default: changed = true
        }
        guard changed else { return }
        var fields: [(String, String)] = [("RESOURCE", probe.resource), ("AUTH", probe.auth.rawValue), ("HTTP_STATUS", String(probe.status))]
        if let timings = probe.timings { fields.append(("DURATION_MS", String(Int((timings.total * 1000).rounded())))) }
        if let credential = probe.credential { fields.append(("CREDENTIAL", credential)) }
        if let expiresIn = probe.tokenExpiresIn { fields.append(("TOKEN_EXPIRES_IN_S", String(Int(expiresIn)))) }
        if let aadsts = probe.aadsts { fields.append(("AADSTS", String(aadsts))) }
        switch probe.verdict {
        case .success:
            let what = previous == nil ? "probe succeeded" : "probe recovered"
            logger.log(previous == nil ? .info : .notice, "\(probe.resource) \(probe.auth.rawValue): \(what)", fields)
        case .failure(let reason, let detail):
            fields.insert(("REASON", reason.rawValue), at: 2)
            logger.log(.error, "\(probe.resource) \(probe.auth.rawValue): probe failed: \(reason.rawValue): \(detail)", fields)
        }
    }

    /// Records the pair's divergence.
    public func reportRound(_ round: RoundResult) {
        metrics.recordDivergence(resource: round.resource, key: round.apiKey?.verdict, entra: round.entraID?.verdict)
    }

    /// Records a token acquisition and logs it (one entry per attempt).
    public func report(_ event: TokenAcquisitionEvent, now: Double) {
        metrics.record(event)
        var fields: [(String, String)] = [("CREDENTIAL", event.credential), ("DURATION_MS", String(Int((event.durationSeconds * 1000).rounded())))]
        switch event.result {
        case .success(let token):
            fields.append(("TOKEN_EXPIRES_IN_S", String(Int(token.expiresOn - now))))
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
