// The status page and status.json: one view of the board, rendered as HTML or JSON.
import Config
import ControlPlane
import JSON
import Log
import Probe
import Support

/// What the status page shows, computed from the board at one moment.
public struct StatusView: Sendable {
    public struct Probe: Sendable {
        public var auth: AuthMode
        public var result: String
        public var reason: FailureReason? { failure?.reason }
        /// The failure with its evidence; nil while it succeeds or before its first round.
        public var failure: ProbeFailure?
        public var detail: String
        public var fix: String
        public var httpStatus: Int
        public var lastProbe: Double
        public var lastSuccess: Double?
        public var possiblyPropagating: Bool
    }

    public struct Resource: Sendable {
        public var name: String
        public var endpoint: String
        public var credential: String?
        public var divergence: Bool
        public var warnings: [ConfigWarning]
        public var probes: [Probe]
        /// What Resource Manager said at the last pass; nil without `control_plane:` or `arm_id`.
        public var controlPlane: ControlPlaneFacts? = nil
    }

    /// Said on the page, in status.json and by /-/ready while the configuration names no resource.
    public static let noResourcesNotice =
        "The configuration names no resources, so nothing is probed: add them under resources: and reload (systemctl reload aoai-canary)."

    public var now: Double
    public var version: String
    public var resources: [Resource]
    /// Why the agent is not ready, or nil: a configuration without resources.
    public var notReady: String? { resources.isEmpty ? Self.noResourcesNotice : nil }
    public var credentials: [StatusBoard.CredentialState]
    /// What the directory says of each credential, with `directory:`.
    public var directory: [String: DirectoryFacts]

    /// Where the metrics are served, for the page's link.
    public var metricsPath: String

    public init(board: StatusBoard, now: Double, version: String, metricsPath: String = "/metrics") {
        self.now = now
        self.version = version
        self.metricsPath = metricsPath
        credentials = board.credentials
        directory = board.directory.snapshot
        let facts = board.controlPlane.snapshot
        resources = board.resources.map { resource in
            let controlPlane = facts[resource.name]
            return Resource(
                name: resource.name, endpoint: resource.endpoint, credential: resource.credential, divergence: resource.divergence,
                warnings: resource.warnings,
                probes: resource.modes.map { auth in
                    guard let state = resource.probes[auth] else {
                        return Probe(
                            auth: auth, result: "pending", failure: nil, detail: "no round yet", fix: "", httpStatus: 0, lastProbe: 0, lastSuccess: nil,
                            possiblyPropagating: false)
                    }
                    var fix = state.verdict.failure?.fix ?? ""
                    // Resource Manager's roles, when read, settle it: no covering role is no propagation.
                    let propagating =
                        state.verdict.reason == .permissionDenied && state.deniedSince.map { now - $0 < StatusBoard.propagationWindow } == true
                        && (controlPlane?.roles == nil || controlPlane?.unreadRoles.isEmpty == false)
                    if propagating {
                        fix =
                            "Possibly still propagating: role assignments take up to 10 minutes, and the service needs a fresh token to see them. If none was "
                            + "made, assign Cognitive Services OpenAI User."
                    }
                    switch state.verdict {
                    case .success:
                        return Probe(
                            auth: auth, result: "success", failure: nil, detail: "", fix: "", httpStatus: state.status, lastProbe: state.lastProbe,
                            lastSuccess: state.lastSuccess, possiblyPropagating: false)
                    case .failure(let failure):
                        return Probe(
                            auth: auth, result: "failure", failure: failure, detail: failure.detail(now: now), fix: fix, httpStatus: state.status,
                            lastProbe: state.lastProbe, lastSuccess: state.lastSuccess, possiblyPropagating: propagating)
                    }
                }, controlPlane: controlPlane)
        }
    }

    /// Resource Manager's facts in one line each, for the page, `diagnose` and logs.
    /// A credential's directory facts in status.json: what was read, what it says, and what
    /// could not be read.
    static func json(_ facts: DirectoryFacts) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("app_id", .string(facts.appID)),
            ("read_at", .string(Timestamp.iso8601(wallSeconds: facts.readAt))),
            ("facts", .array(facts.lines.map(JSONValue.string))),
            ("findings", .array(facts.findings.map(JSONValue.string))),
            ("problems", .array(facts.problems.map(JSONValue.string))),
        ]
        if let match = facts.federatedMatch { members.append(("federated_credential_match", .bool(match))) }
        switch facts.registration {
        case .found: members.append(("in_directory", .bool(true)))
        case .missing: members.append(("in_directory", .bool(false)))
        case .unknown: break
        }
        return .object(members)
    }

    /// The status page's cell: the findings in red, else the facts, and what could not be read.
    static func directoryCell(_ facts: DirectoryFacts) -> String {
        var parts = facts.findings.map { "<span class=\"bad\">\(escape($0))</span>" }
        if parts.isEmpty { parts = facts.lines.map(escape) }
        parts += facts.problems.map { "could not read " + escape($0) }
        return parts.isEmpty ? "–" : parts.joined(separator: "<br>")
    }

    public static func controlPlaneLines(_ facts: ControlPlaneFacts, dataAction: String?) -> [String] {
        var lines: [String] = []
        if let account = facts.account {
            var parts = [
                "kind \(account.kind)", "location \(account.location)", "custom subdomain \(account.customSubDomain ?? "none")",
                "local auth \(account.localAuthDisabled ? "disabled" : "enabled")",
            ]
            if let access = account.publicNetworkAccess { parts.append("public network access \(access)") }
            if let action = account.networkDefaultAction { parts.append("network rules default \(action)") }
            lines.append("account: " + parts.joined(separator: ", "))
        }
        if let deployments = facts.deployments {
            lines.append(
                "deployments: "
                    + (deployments.isEmpty
                        ? "none"
                        : deployments.map { "\($0.name) (\([$0.model, $0.version].compactMap { $0 }.joined(separator: " ")))" }.joined(separator: ", ")))
        }
        if facts.roles != nil { lines.append("roles of \(facts.principal ?? "the principal"): \(facts.heldRoles)") }
        if let dataAction, let granted = facts.dataActionGranted(dataAction) {
            lines.append("\(dataAction): \(granted ? "granted" : "not granted")")
        }
        lines += facts.problems.map { "could not read \($0)" }
        return lines
    }

    // MARK: JSON

    /// A failure's evidence, field by field, for status.json.
    static func json(_ evidence: Evidence) -> JSONValue {
        func role(_ role: RoleEvidence.Role) -> JSONValue {
            .object([
                ("role", .string(role.name)), ("scope", .string(role.scope)), ("assigned_at", time(role.assignedAt)), ("data_plane", .bool(role.grantsData)),
            ])
        }
        var token = JSONValue.null
        if let claims = evidence.token {
            token = .object([
                ("audience", string(claims.audience)), ("expected_audience", .string(claims.expectedAudience)),
                ("tenant_id", string(claims.tenantID)), ("object_id", string(claims.objectID)),
                ("issued_at", time(claims.issuedAt)), ("expires_at", time(claims.expiresAt)), ("not_before", time(claims.notBefore)),
                ("service_time", time(claims.serviceTime)),
            ])
        }
        var roles = JSONValue.null
        if let facts = evidence.roles {
            let held: JSONValue = facts.held.map { .array($0.map(role)) } ?? .null
            let covering: JSONValue = facts.covering.map(role) ?? .null
            roles = .object([
                ("data_action", .string(facts.dataAction)), ("arm_id", .string(facts.resourceID)), ("held", held),
                ("unread", .array(facts.unread.map(JSONValue.string))), ("covering", covering),
            ])
        }
        let status: JSONValue = evidence.httpStatus.map(JSONValue.int) ?? .null
        let aadsts: JSONValue = evidence.aadsts.map(JSONValue.int) ?? .null
        return .object([
            ("http_status", status), ("code", string(evidence.serviceCode)), ("message", string(evidence.serviceMessage)),
            ("failure", string(evidence.failure)), ("aadsts", aadsts), ("principal", string(evidence.principal)),
            ("data_action", string(evidence.dataAction)), ("named_tenant", string(evidence.namedTenant)),
            ("token", token), ("roles", roles),
        ])
    }

    /// One probe's row of status.json.
    static func json(_ probe: Probe, now: Double) -> JSONValue {
        let evidence: JSONValue = probe.failure.map { json($0.evidence) } ?? .null
        let sinceSuccess: JSONValue = probe.lastSuccess.map { .int((now - $0).clampedInt) } ?? .null
        return .object([
            ("auth", .string(probe.auth.rawValue)),
            ("result", .string(probe.result)),
            ("reason", string(probe.reason?.rawValue)),
            ("detail", .string(probe.detail)),
            ("evidence", evidence),
            ("fix", .string(probe.fix)),
            ("http_status", .int(probe.httpStatus)),
            ("last_probe", probe.lastProbe > 0 ? time(probe.lastProbe) : .null),
            ("last_success", time(probe.lastSuccess)),
            ("seconds_since_success", sinceSuccess),
            ("possibly_propagating", .bool(probe.possiblyPropagating)),
        ])
    }

    public var json: String {
        let document = JSONValue.object([
            ("generated_at", time(now)),
            ("version", .string(version)),
            ("ready", .bool(notReady == nil)),
            ("notice", string(notReady)),
            (
                "resources",
                .array(
                    resources.map { resource in
                        .object([
                            ("name", .string(resource.name)),
                            ("endpoint", .string(resource.endpoint)),
                            ("credential", string(resource.credential)),
                            ("divergence", .bool(resource.divergence)),
                            ("warnings", .array(resource.warnings.map { .object([("check", .string($0.check.rawValue)), ("message", .string($0.message))]) })),
                            (
                                "control_plane",
                                resource.controlPlane.map { facts in
                                    .object([
                                        ("arm_id", .string(facts.armID.description)),
                                        ("read_at", time(facts.readAt)),
                                        ("kind", string(facts.account?.kind)),
                                        ("location", string(facts.account?.location)),
                                        ("custom_subdomain", string(facts.account?.customSubDomain)),
                                        ("local_auth_disabled", facts.account.map { .bool($0.localAuthDisabled) } ?? .null),
                                        ("public_network_access", string(facts.account?.publicNetworkAccess)),
                                        (
                                            "deployments",
                                            facts.deployments.map {
                                                .array(
                                                    $0.map {
                                                        .object([("name", .string($0.name)), ("model", string($0.model)), ("version", string($0.version))])
                                                    })
                                            } ?? .null
                                        ),
                                        ("principal", string(facts.principal)),
                                        (
                                            "roles",
                                            facts.roles.map {
                                                .array(
                                                    $0.map { role in
                                                        .object([
                                                            ("role", .string(role.roleName)), ("role_id", .string(role.roleID)), ("scope", .string(role.scope)),
                                                            ("assigned_at", time(role.createdOn)), ("data_plane", .bool(role.grantsData)),
                                                        ])
                                                    })
                                            } ?? .null
                                        ),
                                        ("problems", .array(facts.problems.map(JSONValue.string))),
                                    ])
                                } ?? .null
                            ),
                            ("probes", .array(resource.probes.map { Self.json($0, now: now) })),
                        ])
                    })
            ),
            (
                "credentials",
                .array(
                    credentials.map { credential in
                        .object([
                            ("name", .string(credential.name)),
                            ("type", .string(credential.type)),
                            ("source", string(credential.source)),
                            ("object_id", string(credential.objectID)),
                            ("tenant_id", string(credential.tenantID)),
                            ("expires_at", time(credential.expiresOn)),
                            ("expires_in_seconds", credential.expiresOn.map { .int(($0 - now).rounded(.down).clampedInt) } ?? .null),
                            ("refresh_at", time(credential.refreshAt)),
                            ("last_error", string(credential.lastError)),
                            ("directory", directory[credential.name].map { Self.json($0) } ?? .null),
                        ])
                    })
            ),
        ])
        return document.rendered + "\n"
    }

    // MARK: HTML

    public var html: String {
        var rows = ""
        for resource in resources {
            // One tbody per resource: on a phone it is one card, its name above both canaries.
            rows += "<tbody>"
            for (index, probe) in resource.probes.enumerated() {
                let rowClass = resource.divergence ? "diverged" : (probe.result == "failure" ? "failed" : "")
                rows += "<tr class=\"\(rowClass)\">"
                if index == 0 {
                    let badge = resource.divergence ? " <span class=\"badge\">key works, Entra ID fails</span>" : ""
                    var warnings = resource.warnings.map { "<div class=\"warn\">⚠ \(escape($0.message))</div>" }.joined()
                    if let facts = resource.controlPlane {
                        warnings +=
                            "<div class=\"endpoint\">Resource Manager: " + Self.controlPlaneLines(facts, dataAction: nil).map(escape).joined(separator: "<br>")
                            + "</div>"
                    }
                    rows +=
                        "<th rowspan=\"\(resource.probes.count)\" scope=\"rowgroup\">\(escape(resource.name))\(badge)<div "
                        + "class=\"endpoint\">\(escape(resource.endpoint))</div>\(warnings)</th>"
                }
                let result =
                    probe.result == "success"
                    ? "<span class=\"ok\">✔ success</span>"
                    : probe.result == "failure" ? "<span class=\"bad\">✘ \(escape(probe.reason?.rawValue ?? "failure"))</span>" : "pending"
                let propagating = probe.possiblyPropagating ? "<div class=\"note\">possibly propagating</div>" : ""
                rows += "<td data-label=\"Auth\">\(probe.auth == .apiKey ? "API key" : "Entra ID")</td>"
                rows += "<td data-label=\"Last result\">\(result)\(propagating)<div class=\"detail\">\(escape(probe.detail))</div></td>"
                rows += "<td data-label=\"Fix\">\(codeSpans(escape(probe.fix)))</td>"
                rows += "<td data-label=\"Last success\">\(probe.lastSuccess.map { escape(ago(now - $0)) } ?? "never")</td>"
                rows += "</tr>\n"
            }
            rows += "</tbody>\n"
        }
        var tokens = ""
        let readsDirectory = !directory.isEmpty
        for credential in credentials {
            let expiry = credential.expiresOn.map { $0 > now ? "in \(duration($0 - now))" : "expired \(duration(now - $0)) ago" } ?? "no token yet"
            let source = credential.source.map { $0 == credential.type ? "" : " (" + escape($0) + ")" } ?? ""
            tokens += "<tr><th scope=\"row\">\(escape(credential.name))</th><td data-label=\"Type\">\(escape(credential.type))\(source)</td>"
            tokens += "<td data-label=\"Object id\">\(escape(credential.objectID ?? "–"))</td><td data-label=\"Token expires\">\(escape(expiry))</td>"
            tokens += "<td data-label=\"Last error\">\(credential.lastError.map { "<span class=\"bad\">\(escape($0))</span>" } ?? "–")</td>"
            if readsDirectory {
                tokens += "<td data-label=\"The directory says\">\(directory[credential.name].map(Self.directoryCell) ?? "–")</td>"
            }
            tokens += "</tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="refresh" content="30">
            <title>aoai-canary status</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:1em;color:#1b1f24;background:#f6f8fa}
            h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
            .sub{color:#57606a;font-size:.9em;margin-bottom:1em}
            .wrap{overflow-x:auto}
            table{border-collapse:collapse;width:100%;background:#fff;font-size:.9em}
            th,td{border:1px solid #d0d7de;padding:.4em .5em;text-align:left;vertical-align:top}
            thead th{background:#eaeef2}
            tr.diverged td,tr.diverged th{background:#fff3cd}
            tr.failed td{background:#fff5f5}
            .ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
            .badge{display:inline-block;background:#cf222e;color:#fff;border-radius:1em;padding:0 .6em;font-size:.8em;font-weight:600}
            .endpoint,.detail{color:#57606a;font-size:.85em;font-weight:normal;word-break:break-all}
            .warn{color:#9a6700;font-size:.85em;font-weight:normal}.note{color:#9a6700;font-size:.85em}
            a{color:#0969da}code{font-size:.9em;background:#eaeef2;border-radius:3px;padding:0 .2em;word-break:break-all}
            @media (max-width:40em){
            table,thead,tbody,tr,th,td{display:block}
            thead{position:absolute;left:-9999px}
            table{background:none}
            .resources tbody,.tokens tr{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 .8em}
            th,td{border:none;border-top:1px solid #eaeef2}
            .resources tbody tr:first-child th,.tokens th{border-top:none}
            td[data-label]::before{content:attr(data-label);display:block;color:#57606a;font-size:.8em;font-weight:600}
            .wrap{overflow-x:visible}
            }
            </style></head>
            <body>
            <h1>aoai-canary status</h1>
            <div class="sub">\(escape(Timestamp.iso8601(wallSeconds: now))) · version \(escape(version)) · <a href="\(escape(metricsPath))">metrics</a> · <a \
            href="/status.json">status.json</a> · refreshes every 30 s</div>
            \(notReady.map { "<p class=\"warn\" role=\"alert\">⚠ \(escape($0))</p>" } ?? "")
            <h2>Resources</h2>
            <div class="wrap"><table class="resources">
            <thead><tr><th>Resource</th><th>Auth</th><th>Last result</th><th>Fix</th><th>Last success</th></tr></thead>
            \(rows)</table></div>
            <h2>Tokens</h2>
            <div class="wrap"><table class="tokens">
            <thead><tr><th>Credential</th><th>Type</th><th>Object id</th><th>Token expires</th><th>Last error</th>\(readsDirectory ? "<th>The directory says</th>" : "")</tr></thead>
            <tbody>
            \(tokens)</tbody></table></div>
            </body></html>

            """
    }

    func ago(_ seconds: Double) -> String { "\(duration(seconds)) ago" }

    func duration(_ seconds: Double) -> String {
        PromDuration.format(.seconds(Int64(max(0, seconds.rounded(.down).clampedInt))))
    }
}

/// Turns `code` spans of already escaped text into <code> elements.
func codeSpans(_ escaped: String) -> String {
    let parts = escaped.split(separator: "`", omittingEmptySubsequences: false)
    guard parts.count >= 3, parts.count % 2 == 1 else { return escaped }
    return parts.enumerated().map { $0.offset % 2 == 1 ? "<code>\($0.element)</code>" : String($0.element) }.joined()
}

/// Escapes text for HTML element content and attribute values.
public func escape(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&#39;"
        default: result.append(character)
        }
    }
    return result
}

/// A time in status.json: ISO 8601, or null.
private func time(_ value: Double?) -> JSONValue { value.map { .string(Timestamp.iso8601(wallSeconds: $0)) } ?? .null }

/// A string in status.json, or null.
private func string(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
