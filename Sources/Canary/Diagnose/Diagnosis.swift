// `aoai-canary diagnose`: the five troubleshooting steps of the 401 question, walked for each resource.
import Auth
import Config
import ControlPlane
import HTTPClient
import JSON
import Log
import Posix
import Probe
import Status
import Support

/// One step's verdict.
public enum StepOutcome: String, Sendable {
    case pass, fail, skipped
}

/// One step of the checklist, with its evidence (never a secret) and, when it failed, the fix.
public struct DiagnosisStep: Sendable {
    public var number: Int
    public var title: String
    public var outcome: StepOutcome
    public var evidence: [String]
    public var fix: String?
    /// A command to run for the fix (the role assignment).
    public var command: String?
}

/// The checklist of one resource.
public struct ResourceDiagnosis: Sendable {
    public var resource: String
    public var endpoint: String
    public var credential: String?
    public var steps: [DiagnosisStep]
    /// Whether the Entra ID call works; nil when the resource has no Entra ID canary, or when
    /// the call could not tell (`entraUnjudged`).
    public var entraWorks: Bool?
    /// The reason the Entra ID call failed when that reason says nothing about auth (throttled,
    /// a server error, the network): the principal is judged neither way.
    public var entraUnjudged: FailureReason?
}

/// Walks the steps against the live service, once per resource.
public struct Diagnoser: Sendable {
    public let client: HTTPClient
    public let clock: any CanaryClock
    public let timeoutSeconds: Double
    /// The Azure CLI for step 5; nil to skip that cross-check.
    public let azPath: String?

    public static let role = "Cognitive Services OpenAI User"

    public init(client: HTTPClient, clock: any CanaryClock, timeoutSeconds: Double, azPath: String?) {
        self.client = client
        self.clock = clock
        self.timeoutSeconds = timeoutSeconds
        self.azPath = azPath
    }

    /// Diagnoses the resources of `config` (all, or the one named).
    /// Walks every resource (or the one named), in the configuration's order. `starting` is told
    /// each resource (its position and the count) before its steps, `finished` each checklist as
    /// soon as it is done, so that a caller can show them while the rest are still walked.
    /// One discovery pass over the file's `discovery:` entries, as the agent's first pass: the
    /// resources it finds (the listed ones win a shared name) and what could not be listed.
    /// Without `control_plane:` or `discovery:` it finds nothing and says nothing.
    public func discover(_ config: CanaryConfig) async -> (config: CanaryConfig, problems: [String]) {
        guard let settings = config.controlPlane, !config.discovery.isEmpty, let credential = config.credential(named: settings.credential) else {
            return (config, [])
        }
        let context = AcquisitionContext(client: client, clock: clock, timeoutSeconds: timeoutSeconds)
        var problems: [String] = []
        let found: DiscoveryResult
        do {
            let token = try await TokenSourceFactory.make(credential.settings.withScope(settings.scope)).acquireToken(context)
            found = await ControlPlaneReader(client: client, endpoint: settings.endpoint, timeoutSeconds: timeoutSeconds)
                .discover(config.discovery, token: token.accessToken.exposedValue)
        } catch {
            return (config, ["discovery: no Resource Manager token for credential \(settings.credential): \(error)"])
        }
        problems += found.problems.map { "discovery: \($0)" }
        let merged = EffectiveConfig.merge(file: config, discovered: found.resources, shard: nil) { problems.append("discovery: \($0)") }
        return (merged, problems)
    }

    public func diagnose(
        _ config: CanaryConfig, resource name: String? = nil, starting: (_ resource: String, _ position: Int, _ count: Int) -> Void = { _, _, _ in },
        finished: (ResourceDiagnosis) -> Void = { _ in }
    ) async -> [ResourceDiagnosis] {
        let context = AcquisitionContext(client: client, clock: clock, timeoutSeconds: timeoutSeconds)
        var tokens: [String: Result<CachedToken, TokenAcquisitionError>] = [:]
        var armToken: Result<CachedToken, TokenAcquisitionError>?
        var graphToken: Result<CachedToken, TokenAcquisitionError>?
        var directoryFacts: [String: DirectoryFacts] = [:]
        var results: [ResourceDiagnosis] = []
        let walked = config.resources.filter { name == nil || $0.name == name }
        for (position, resource) in walked.enumerated() {
            starting(resource.name, position + 1, walked.count)
            var token: Result<CachedToken, TokenAcquisitionError>?
            if let credential = resource.credential, let settings = config.credential(named: credential)?.settings {
                if tokens[credential] == nil {
                    do {
                        tokens[credential] = .success(try await TokenSourceFactory.make(settings).acquireToken(context))
                    } catch {
                        tokens[credential] = .failure(error)
                    }
                }
                token = tokens[credential]
            }
            let scope = resource.credential.flatMap { config.credential(named: $0)?.settings.scope }
            let facts = await controlPlaneFacts(config, resource: resource, canaryToken: token, context: context, armTokens: &armToken)
            var report = await diagnose(resource, scope: scope, token: token, controlPlane: facts)
            if let credential = resource.credential.flatMap({ config.credential(named: $0) }),
                let step = await directoryStep(
                    config, credential: credential, context: context, cache: &directoryFacts, graphToken: &graphToken, armToken: &armToken)
            {
                report.steps.append(step)
            }
            finished(report)
            results.append(report)
        }
        return results
    }

    /// 6. The credential as the directory sees it, when `directory:` is set and the credential
    /// is an application's: read once per credential for the whole walk.
    func directoryStep(
        _ config: CanaryConfig, credential: CredentialConfig, context: AcquisitionContext, cache: inout [String: DirectoryFacts],
        graphToken: inout Result<CachedToken, TokenAcquisitionError>?, armToken: inout Result<CachedToken, TokenAcquisitionError>?
    ) async -> DiagnosisStep? {
        guard let settings = config.directory, let appID = DirectoryFacts.appID(credential.settings) else { return nil }
        let title = "The credential as the directory sees it"
        if cache[credential.name] == nil {
            let presented = DirectoryFacts.presented(credential.settings)
            if graphToken == nil, let reader = config.credential(named: settings.credential) {
                do {
                    graphToken = .success(try await TokenSourceFactory.make(reader.settings.withScope(settings.scope)).acquireToken(context))
                } catch {
                    graphToken = .failure(error)
                }
            }
            switch graphToken {
            case .success(let token)?:
                var facts = await DirectoryReader(client: client, endpoint: settings.endpoint, timeoutSeconds: timeoutSeconds)
                    .read(credential: credential.name, appID: appID, presented: presented, token: token.accessToken.exposedValue, now: clock.wallSeconds)
                // A user-assigned identity's federated credentials, from Resource Manager, as the agent reads them.
                if facts.applicationNotFound != nil { await resourceManagerToken(config, context: context, cache: &armToken) }
                let arm = config.controlPlane.map { ControlPlaneReader(client: client, endpoint: $0.endpoint, timeoutSeconds: timeoutSeconds) }
                let armResult = armToken
                await DirectoryReader.addIdentity(to: &facts, subscriptions: DirectoryReader.subscriptions(of: config), arm: arm) {
                    guard let armResult else { throw TokenAcquisitionError.unavailable("no control_plane credential") }
                    return try armResult.get().accessToken.exposedValue
                }
                cache[credential.name] = facts
            case .failure(let error)?:
                var facts = DirectoryFacts(credential: credential.name, appID: appID, readAt: clock.wallSeconds, presented: presented)
                facts.problems = ["no Microsoft Graph token for credential \(settings.credential): \(error)"]
                cache[credential.name] = facts
            case nil:
                return nil
            }
        }
        guard let facts = cache[credential.name] else { return nil }
        let evidence = facts.lines + facts.problems.map { "could not read \($0)" }
        guard let finding = facts.findingSentences.first else {
            let read = facts.secrets != nil || facts.servicePrincipalEnabled != nil
            return DiagnosisStep(number: 6, title: title, outcome: read ? .pass : .skipped, evidence: evidence)
        }
        return DiagnosisStep(number: 6, title: title, outcome: .fail, evidence: evidence, fix: finding, command: facts.fixCommand)
    }

    /// A Resource Manager token for `control_plane:`'s credential, asked for once per walk.
    func resourceManagerToken(_ config: CanaryConfig, context: AcquisitionContext, cache: inout Result<CachedToken, TokenAcquisitionError>?) async {
        guard cache == nil, let settings = config.controlPlane, let credential = config.credential(named: settings.credential) else { return }
        do {
            cache = .success(try await TokenSourceFactory.make(credential.settings.withScope(settings.scope)).acquireToken(context))
        } catch {
            cache = .failure(error)
        }
    }

    /// What Resource Manager says about the resource, when `control_plane:` is set and it has an
    /// `arm_id`; a Resource Manager token that cannot be had is itself what it could not read.
    func controlPlaneFacts(
        _ config: CanaryConfig, resource: ResourceConfig, canaryToken: Result<CachedToken, TokenAcquisitionError>?,
        context: AcquisitionContext, armTokens: inout Result<CachedToken, TokenAcquisitionError>?
    ) async -> ControlPlaneFacts? {
        guard let settings = config.controlPlane, let armID = resource.armID, let credential = config.credential(named: settings.credential) else { return nil }
        await resourceManagerToken(config, context: context, cache: &armTokens)
        guard case .success(let armToken)? = armTokens else {
            if case .failure(let error)? = armTokens {
                return ControlPlaneFacts(
                    armID: armID, readAt: clock.wallSeconds, problems: ["no Resource Manager token for credential \(settings.credential): \(error)"])
            }
            return nil
        }
        var principal: String?
        if case .success(let token)? = canaryToken { principal = token.claims?.objectID }
        var cache = ControlPlaneReader.RoleCache()
        return await ControlPlaneReader(client: client, endpoint: settings.endpoint, timeoutSeconds: timeoutSeconds)
            .read(
                armID, armToken: armToken, settings: settings, canaryCredential: resource.credential, canaryPrincipal: principal,
                now: clock.wallSeconds, roleCache: &cache)
    }

    func diagnose(_ resource: ResourceConfig, scope: String?, token: Result<CachedToken, TokenAcquisitionError>?, controlPlane: ControlPlaneFacts? = nil) async
        -> ResourceDiagnosis
    {
        let prober = Prober(client: client, clock: clock, timeoutSeconds: timeoutSeconds)
        let expected = EndpointAudience.expected(for: resource.endpoint)
        var steps: [DiagnosisStep] = []

        // 1. The scope asked for and the token's audience.
        switch token {
        case nil:
            steps.append(
                DiagnosisStep(number: 1, title: "Scope and audience", outcome: .skipped, evidence: ["no credential: this resource has no Entra ID canary"]))
        case .failure(let error)?:
            let reason = RefreshFailureReason(error)
            steps.append(
                DiagnosisStep(
                    number: 1, title: "Scope and audience", outcome: .fail,
                    evidence: ["asked for \(scope ?? "?")", "no token: \(error)", "refresh failure reason: \(reason.rawValue)"],
                    fix: FailureReason.tokenAcquisitionFailed.fix))
        case .success(let token)?:
            let audience = token.claims?.audience ?? "(not in the token)"
            if EndpointAudience.same(audience, expected) {
                steps.append(
                    DiagnosisStep(
                        number: 1, title: "Scope and audience", outcome: .pass,
                        evidence: ["asked for \(scope ?? "?")", "the token's aud is \(audience), as this endpoint wants"]))
            } else {
                steps.append(
                    DiagnosisStep(
                        number: 1, title: "Scope and audience", outcome: .fail,
                        evidence: ["asked for \(scope ?? "?")", "the token's aud is \(audience); this endpoint wants \(expected)"],
                        fix: "set scope: \(expected)/.default on the credential"))
            }
        }

        // 2. The endpoint's form.
        let endpointProblems = ConfigLint.checks(resource, credential: nil).filter { [.regionalEndpoint, .extraPath, .insecureHTTP].contains($0.0) }
        if endpointProblems.isEmpty {
            steps.append(
                DiagnosisStep(number: 2, title: "Endpoint form", outcome: .pass, evidence: ["\(resource.endpoint): the resource's own host, no extra path"]))
        } else {
            steps.append(
                DiagnosisStep(
                    number: 2, title: "Endpoint form", outcome: .fail, evidence: endpointProblems.map(\.1),
                    fix: "use the resource's custom subdomain endpoint, https://<name>.openai.azure.com/, with no path"))
        }

        // 3. The principal and the data action: the Entra ID call itself.
        var entraWorks: Bool?
        var entraUnjudged: FailureReason?
        var entraResult: ProbeResult?
        if case .success(let token)? = token {
            var result = await prober.probe(resource, auth: .entraID, headers: Prober.tokenHeaders(resource, token: token))
            result.verdict = TokenDiagnosis.refine(
                result.verdict, claims: token.claims, endpoint: resource.endpoint, serviceTime: result.serviceDate ?? result.finishedAt)
            entraResult = result
            let claims = token.claims
            let who = "object id \(claims?.objectID ?? "?"), app id \(claims?.appID ?? "?"), tenant \(claims?.tenantID ?? "?") (from \(token.source))"
            switch result.verdict {
            case .success:
                entraWorks = true
                steps.append(
                    DiagnosisStep(
                        number: 3, title: "Principal and data action", outcome: .pass,
                        evidence: [who, "the Entra ID call succeeds (HTTP \(result.status)): the principal has the data action"]))
            case .failure(let failure) where failure.reason.passedAuthentication:
                entraWorks = true
                steps.append(
                    DiagnosisStep(
                        number: 3, title: "Principal and data action", outcome: .pass,
                        evidence: [
                            who,
                            "the Entra ID call passed authentication (HTTP \(result.status)), but the service refused the probe itself: "
                                + "\(failure.reason.rawValue): \(failure.detail(now: result.finishedAt))",
                            "the probe needs changing: \(failure.fix)",
                        ]))
            case .failure(let failure) where failure.reason.provesNothingAboutAuth:
                // A throttled call (or one the network or the service failed) proves nothing about
                // the principal's roles: neither pass nor fail.
                entraUnjudged = failure.reason
                steps.append(
                    DiagnosisStep(
                        number: 3, title: "Principal and data action", outcome: .skipped,
                        evidence: [
                            who,
                            "the Entra ID call got no answer about the principal: \(failure.reason.rawValue): \(failure.detail(now: result.finishedAt))",
                            "a \(failure.reason.rawValue) call proves nothing about permissions; run diagnose again once it passes (\(failure.fix))",
                        ]))
            case .failure(let failure):
                entraWorks = false
                var step = DiagnosisStep(
                    number: 3, title: "Principal and data action", outcome: .fail,
                    evidence: [who, "the Entra ID call fails: \(failure.reason.rawValue): \(failure.detail(now: result.finishedAt))"], fix: failure.reason.fix)
                if failure.reason == .permissionDenied {
                    let type = claims?.scopes != nil ? "User" : "ServicePrincipal"
                    step.fix =
                        "assign the role \"\(Self.role)\" to object id \(claims?.objectID ?? "?") at the resource's scope; a new assignment takes up to 10 "
                        + "minutes, and a fresh token is needed to see it"
                    let scope =
                        resource.armID?.description
                        ?? "/subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.CognitiveServices/accounts/<account-name>"
                    step.command =
                        "az role assignment create --role \"\(Self.role)\" --assignee-object-id \(claims?.objectID ?? "<object-id>") "
                        + "--assignee-principal-type \(type) --scope \(scope)"
                }
                steps.append(step)
            }
        } else {
            if token != nil { entraWorks = false }
            steps.append(DiagnosisStep(number: 3, title: "Principal and data action", outcome: .skipped, evidence: ["no token to call with"]))
        }
        // What Resource Manager says beside the call: the roles behind the verdict, and what it
        // could not read and why.
        if let facts = controlPlane, let index = steps.lastIndex(where: { $0.number == 3 }) {
            let action = resource.probe.dataAction
            steps[index].evidence += StatusView.controlPlaneLines(facts, dataAction: action).map { "Resource Manager: " + $0 }
            if entraResult?.verdict.reason == .permissionDenied, let role = facts.coveringRole(action) {
                let age = role.createdOn.map { " \(PromDuration.format(.seconds(max(0, (clock.wallSeconds - $0).clampedInt)))) ago" } ?? ""
                steps[index].evidence.append(
                    "role_propagating: \(role.roleName) at \(role.scope) was assigned\(age) and covers \(action); it has not reached the data plane yet")
                steps[index].fix = FailureReason.rolePropagating.fix
                steps[index].command = nil
            }
        }

        // 4. The token's version, issue and expiry times, and clock skew.
        if case .success(let token)? = token {
            let now = clock.wallSeconds
            var evidence = ["version \(token.claims?.version ?? "?")"]
            if let issued = token.claims?.issuedAt { evidence.append("issued \(Timestamp.iso8601(wallSeconds: issued))") }
            evidence.append(
                "expires \(Timestamp.iso8601(wallSeconds: token.expiresOn)) (in \(PromDuration.format(.seconds(max(0, (token.expiresOn - now).clampedInt)))))")
            var failed = token.expiresOn <= now
            if let serviceDate = entraResult?.serviceDate {
                let skew = (now - (serviceDate + 0.5)).rounded().clampedInt
                evidence.append("clock skew \(skew) s (this host minus the service's Date header)")
                if abs(skew) > 300 { failed = true }
            } else {
                evidence.append("clock skew unknown (no Date header)")
            }
            if let reason = entraResult?.verdict.reason, reason == .tokenExpired || reason == .tokenNotYetValid { failed = true }
            steps.append(
                DiagnosisStep(
                    number: 4, title: "Token version and times", outcome: failed ? .fail : .pass, evidence: evidence,
                    fix: failed ? "fix the host clock (NTP) and refresh tokens before they expire" : nil))
        } else {
            steps.append(DiagnosisStep(number: 4, title: "Token version and times", outcome: .skipped, evidence: ["no token"]))
        }

        // 5. The same call with the key, and with an Azure CLI token.
        steps.append(await crossCheck(resource, prober: prober, expected: expected, entraWorks: entraWorks))
        return ResourceDiagnosis(
            resource: resource.name, endpoint: resource.endpoint, credential: resource.credential, steps: steps, entraWorks: entraWorks,
            entraUnjudged: entraUnjudged)
    }

    private func crossCheck(_ resource: ResourceConfig, prober: Prober, expected: String, entraWorks: Bool?) async -> DiagnosisStep {
        var evidence: [String] = []
        var worked: [Bool] = []
        if let headers = Prober.keyHeaders(resource) {
            let result = await prober.probe(resource, auth: .apiKey, headers: headers)
            if result.verdict.reason == .keyAuthDisabled {
                // By design on such a resource: it says nothing about Entra ID.
                evidence.append("the key is refused because local auth is disabled (HTTP \(result.status)): by design; drop the key canary")
            } else {
                worked.append(result.verdict == .success)
                evidence.append(
                    result.verdict == .success
                        ? "the key call succeeds (HTTP \(result.status))"
                        : "the key call fails: \(result.verdict.reason?.rawValue ?? "?") (HTTP \(result.status))")
            }
        } else {
            evidence.append("key call: skipped (no api_key_file or api_key_env)")
        }
        if let azPath {
            let cli = AzureCLISource(settings: AzureCLISettings(azPath: azPath, tenantID: nil, scope: expected + "/.default", timeoutSeconds: 30))
            do {
                let token = try await cli.acquireToken(AcquisitionContext(client: client, clock: clock, timeoutSeconds: timeoutSeconds))
                let result = await prober.probe(resource, auth: .entraID, headers: Prober.tokenHeaders(resource, token: token))
                worked.append(result.verdict == .success)
                let who = token.claims?.objectID.map { " as object id \($0)" } ?? ""
                evidence.append(
                    result.verdict == .success
                        ? "an Azure CLI token\(who) succeeds (HTTP \(result.status))"
                        : "an Azure CLI token\(who) fails: \(result.verdict.reason?.rawValue ?? "?") (HTTP \(result.status))")
            } catch {
                evidence.append("Azure CLI: no token (\(RefreshFailureReason(error).rawValue))")
            }
        } else {
            evidence.append("Azure CLI: skipped (az not found on PATH)")
        }
        guard !worked.isEmpty else {
            return DiagnosisStep(number: 5, title: "Key and Azure CLI cross-check", outcome: .skipped, evidence: evidence)
        }
        if worked.contains(true), entraWorks == false {
            evidence.append(
                "conclusion: the resource answers other callers, so the problem is the configured credential (its identity, scope or role), not the resource")
        } else if !worked.contains(true), entraWorks != true {
            evidence.append("conclusion: every way in fails, so look at the resource or the network first")
        }
        return DiagnosisStep(number: 5, title: "Key and Azure CLI cross-check", outcome: worked.allSatisfy { $0 } ? .pass : .fail, evidence: evidence)
    }

    /// The `az` on PATH, if any.
    public static func findAzureCLI(path: String?) -> String? {
        for directory in (path ?? "").split(separator: ":") {
            let candidate = "\(directory)/az"
            if System.isExecutable(candidate) { return candidate }
        }
        return nil
    }
}

extension ResourceDiagnosis {
    /// The checklist as a person reads it.
    public var text: String {
        var text = "\(resource)  \(endpoint)" + (credential.map { "  (credential \($0))" } ?? "") + "\n"
        for step in steps {
            let mark: String
            switch step.outcome {
            case .pass: mark = "[PASS]"
            case .fail: mark = "[FAIL]"
            case .skipped: mark = "[SKIP]"
            }
            text += "  \(mark) \(step.number). \(step.title)\n"
            for line in step.evidence { text += "         \(line)\n" }
            if let fix = step.fix { text += "         fix: \(fix)\n" }
            if let command = step.command { text += "           \(command)\n" }
        }
        return text
    }

    /// The same checklist for scripts.
    public var json: JSONValue {
        .object([
            ("resource", .string(resource)),
            ("endpoint", .string(endpoint)),
            ("credential", credential.map(JSONValue.string) ?? .null),
            ("entra_id_works", entraWorks.map(JSONValue.bool) ?? .null),
            ("entra_id_unjudged", entraUnjudged.map { JSONValue.string($0.rawValue) } ?? .null),
            (
                "steps",
                .array(
                    steps.map { step in
                        .object([
                            ("number", .int(step.number)),
                            ("title", .string(step.title)),
                            ("outcome", .string(step.outcome.rawValue)),
                            ("evidence", .array(step.evidence.map(JSONValue.string))),
                            ("fix", step.fix.map(JSONValue.string) ?? .null),
                            ("command", step.command.map(JSONValue.string) ?? .null),
                        ])
                    })
            ),
        ])
    }
}
