// Resource Manager's facts behind the verdicts (issue 13): the simulated control plane read through
// the real libcurl client with a Resource Manager token, and what the agent makes of it.
import AzureSimulator
import CanaryTestSupport
import Foundation
import HTTPClient
import HTTPServer
import Testing

@testable import Agent
@testable import Config
@testable import ControlPlane
@testable import Diagnose
@testable import Log
@testable import Metrics
@testable import Probe
@testable import Status
@testable import Support

/// A Resource Manager token for the app, straight from the simulated token endpoint.
func resourceManagerToken(_ world: World) async throws -> String {
    let form = "grant_type=client_credentials&client_id=\(Names.client)&client_secret=\(Names.secret)&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
    let answer = try await client.execute(
        HTTPClientRequest(
            method: "POST", url: world.simulator.authority + "/\(Names.tenant)/oauth2/v2.0/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form.utf8)))
    return String(try #require(String(decoding: answer.body, as: UTF8.self).firstMatch(of: /"access_token":"([^"]+)"/)?.1))
}

@Suite(.serialized) struct ControlPlaneTests {
    /// A config whose resources carry their `arm_id`, read through the app's own credential.
    static func config(_ world: World, resources: [(name: String, endpoint: String, key: Bool)], controlPlaneEndpoint: String? = nil) -> String {
        var text = """
            listen: "127.0.0.1:0"
            interval: 60s
            timeout: 2s
            control_plane:
              credential: app
              endpoint: \(controlPlaneEndpoint ?? world.simulator.authority)

            """ + world.credentialsYAML() + "resources:\n"
        for resource in resources {
            let armID = SimulatedResource(name: resource.name, tenantID: Names.tenant, apiKey: "", deployments: []).armID
            text += """
                  - name: \(resource.name)
                    endpoint: \(resource.endpoint)
                    deployment: \(Names.deployment)
                    credential: app
                    arm_id: \(armID)

                """
            if resource.key { text += "    api_key_file: resource.key\n" }
        }
        return text
    }

    /// Reads the control plane for every resource, then runs one round.
    static func readThenProbe(_ agent: Agent) async throws {
        let monitor = try #require(agent.controlPlane)
        for resource in agent.config.resources { await monitor.read(resource) }
        await agent.scheduler.runAllOnce()
    }

    /// The Entra ID probe's reason and its evidence, as the status page has them.
    static func entraVerdict(_ agent: Agent, _ resource: String) -> (reason: FailureReason?, evidence: Evidence?) {
        let view = StatusView(board: agent.board, now: SystemClock().wallSeconds, version: "test")
        let probe = view.resources.first { $0.name == resource }?.probes.first { $0.auth == .entraID }
        return (probe?.reason, probe?.failure?.evidence)
    }

    /// The question's case with Resource Manager beside it: the principal holds Owner, which
    /// grants no data action. The verdict names what it holds and what to assign.
    @Test func permissionDeniedNamesTheRolesHeldAndTheOneToAssign() async throws {
        let world = try World()
        let endpoint = world.addResource("owner-only", grantRole: false)
        world.simulator.grantRole(resource: "owner-only", objectID: Names.object, role: SimulatedRole.named("Owner")!)
        let agent = world.agent(try world.config(Self.config(world, resources: [("owner-only", endpoint, true)])))
        defer { agent.shutdown() }
        try await Self.readThenProbe(agent)

        let (reason, evidence) = Self.entraVerdict(agent, "owner-only")
        #expect(reason == .permissionDenied, "\(String(describing: evidence))")
        let roles = try #require(evidence?.roles)
        let accountID =
            "/subscriptions/\(SimulatedResource.defaultSubscription)/resourceGroups/rg-canary/providers/Microsoft.CognitiveServices/accounts/owner-only"
        #expect(roles.held?.map(\.name) == ["Owner"] && roles.held?.first?.scope == accountID && roles.held?.first?.grantsData == false, "\(roles)")
        #expect(roles.covering == nil && roles.unread.isEmpty && roles.resourceID == accountID, "\(roles)")
        #expect(
            evidence?.httpStatus == 401 && evidence?.serviceCode == "PermissionDenied" && evidence?.principal == Names.object, "\(String(describing: evidence))"
        )
        #expect(agent.value(CanaryMetrics.dataActionGranted, ["owner-only", "app"]) == 0)
        #expect(agent.count(CanaryMetrics.failures, ["owner-only", "entra_id", "permission_denied"]) == 1)
        let armID = SimulatedResource(name: "owner-only", tenantID: Names.tenant, apiKey: "", deployments: []).armID
        #expect(agent.value(CanaryMetrics.resourceInfo, ["owner-only", armID, "OpenAI", "eastus"]) == 1)
        #expect(agent.value(CanaryMetrics.controlPlaneRequests, ["success"]) >= 4, "account, deployments, role assignments, the role, permissions")
        #expect(agent.value(CanaryMetrics.controlPlaneRequests, ["failure"]) == 0)

        // The status page, status.json and diagnose's step 3 show what Resource Manager says.
        let view = StatusView(board: agent.board, now: SystemClock().wallSeconds, version: "test")
        #expect(view.html.contains("Resource Manager: account: kind OpenAI, location eastus, custom subdomain owner-only, local auth enabled"), "\(view.html)")
        #expect(view.html.contains("Owner at /subscriptions/"), "\(view.html)")
        #expect(view.json.contains(#""roles":[{"role":"Owner","role_id":"8e3af657-a8ff-443c-a75c-2fe8c4bcb635""#), "\(view.json)")
        #expect(view.resources.first?.probes.first { $0.auth == .entraID }?.possiblyPropagating == false, "Resource Manager settles it: no role to propagate")
        let diagnosis = await Diagnoser(client: HTTPClient(), clock: SystemClock(), timeoutSeconds: 2, azPath: nil).diagnose(agent.config)
        let step = try #require(diagnosis.first?.steps.first { $0.number == 3 })
        #expect(
            step.evidence.contains {
                $0.hasPrefix("Resource Manager: roles of \(Names.object): Owner at /subscriptions/") && $0.hasSuffix("(control plane only)")
            }, "\(step.evidence)")
        #expect(
            step.evidence.contains("Resource Manager: Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action: not granted"),
            "\(step.evidence)")
    }

    /// A role assigned a moment ago: Resource Manager shows it, the data plane does not honour
    /// it yet. That is role_propagating, with the role, its scope and its age; once it takes
    /// effect the probe succeeds.
    @Test func aRoleResourceManagerShowsButTheDataPlaneDoesNotYetHonourIsPropagating() async throws {
        let world = try World()
        let endpoint = world.addResource("propagating", grantRole: false)
        // 30 s, far more than the test needs on a loaded machine; it is cut short below.
        world.simulator.grantRole(resource: "propagating", objectID: Names.object, effectiveAfterSeconds: 30)
        let agent = world.agent(try world.config(Self.config(world, resources: [("propagating", endpoint, true)])))
        defer { agent.shutdown() }
        try await Self.readThenProbe(agent)

        let (reason, evidence) = Self.entraVerdict(agent, "propagating")
        #expect(reason == .rolePropagating, "\(String(describing: evidence))")
        let roles = try #require(evidence?.roles)
        let covering = try #require(roles.covering)
        #expect(covering.name == "Cognitive Services OpenAI User" && covering.scope.hasPrefix("/subscriptions/") && covering.grantsData, "\(covering)")
        let age = try #require(covering.assignedAt).distance(to: SystemClock().wallSeconds)
        #expect(age >= -1 && age < 30, "assigned \(age) s ago")
        #expect(roles.dataAction == "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
        #expect(roles.tokenIssuedAt != nil, "the token in use is dated")
        #expect(agent.count(CanaryMetrics.failures, ["propagating", "entra_id", "role_propagating"]) == 1)
        #expect(agent.count(CanaryMetrics.failures, ["propagating", "entra_id", "permission_denied"]) == 0)
        #expect(agent.value(CanaryMetrics.dataActionGranted, ["propagating", "app"]) == 1)
        #expect(world.logs.chunks.contains { $0.contains("reason=role_propagating") })
        let diagnosis = await Diagnoser(client: HTTPClient(), clock: SystemClock(), timeoutSeconds: 2, azPath: nil).diagnose(agent.config)
        let step = try #require(diagnosis.first?.steps.first { $0.number == 3 })
        #expect(step.evidence.contains { $0.hasPrefix("role_propagating: Cognitive Services OpenAI User at /subscriptions/") }, "\(step.evidence)")
        #expect(step.fix == FailureReason.rolePropagating.fix)

        // The assignment reaches the data plane (granting it again, effective now, cuts the wait short).
        world.simulator.grantRole(resource: "propagating", objectID: Names.object)
        await agent.scheduler.runAllOnce()
        #expect(Self.entraVerdict(agent, "propagating").reason == nil, "the role took effect")
        // The role_propagating stretch is a propagation time like a permission_denied one.
        let recovery = try #require(agent.metrics.registry.value(CanaryMetrics.permissionRecovery.name, ["propagating"]), "no recovery recorded")
        #expect(recovery >= 0 && recovery < 60, "\(recovery)")
    }

    /// The facts are read when the agent starts, and again as soon as a resource's Entra ID
    /// canary starts failing, not only on the interval (10 minutes here).
    @Test func aResourceThatStartsFailingIsReadAgainAtOnce() async throws {
        let world = try World()
        let endpoint = world.addResource("revoked")
        let text = Self.config(world, resources: [("revoked", endpoint, true)]).replacingOccurrences(of: "interval: 60s", with: "interval: 1s")
        let agent = world.agent(try world.config(text))
        defer { agent.shutdown() }
        let running = Task { await agent.run() }
        defer { running.cancel() }
        var deadline = Date().addingTimeInterval(30)
        while agent.controlPlaneFacts["revoked"]?.roles?.isEmpty != false, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let first = try #require(agent.controlPlaneFacts["revoked"], "no facts at start")
        #expect(first.roles?.map(\.roleName) == ["Cognitive Services OpenAI User"])

        world.simulator.revokeRole(resource: "revoked", objectID: Names.object)
        world.simulator.grantRole(resource: "revoked", objectID: Names.object, role: SimulatedRole.named("Reader")!)
        deadline = Date().addingTimeInterval(30)
        while agent.controlPlaneFacts["revoked"]?.roles?.map(\.roleName) != ["Reader"], Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let second = try #require(agent.controlPlaneFacts["revoked"])
        #expect(second.roles?.map(\.roleName) == ["Reader"], "read again once the canary failed: \(second.roles ?? [])")
        #expect(second.readAt > first.readAt)
        // The next round's verdict names what is held now.
        deadline = Date().addingTimeInterval(30)
        func held() -> [RoleEvidence.Role]? { Self.entraVerdict(agent, "revoked").evidence?.roles?.held }
        while held()?.map(\.name) != ["Reader"], Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(held()?.map(\.name) == ["Reader"] && held()?.first?.scope.hasPrefix("/subscriptions/") == true, "\(held() ?? [])")
        running.cancel()
        await running.value
    }

    /// A pass cancelled in flight (a reload, discovery swapping the agent, a stop) is not counted as
    /// a failure of Resource Manager (the demo showed two such "failures" per start before), and
    /// records no facts.
    @Test func aCancelledPassCountsNoFailure() async throws {
        let world = try World()
        let endpoint = world.addResource("slow-arm")
        // A Resource Manager that takes 3 s to answer anything.
        let slow = try HTTPServer(host: "127.0.0.1", port: 0, threading: .threadPerConnection) { _ in
            usleep(3_000_000)
            return HTTPResponse(status: 503)
        }
        defer { slow.stop() }
        let agent = world.agent(
            try world.config(
                Self.config(
                    world, resources: [("slow-arm", endpoint, true)],
                    controlPlaneEndpoint: "http://127.0.0.1:\(slow.boundAddress.port)")))
        defer { agent.shutdown() }
        let monitor = try #require(agent.controlPlane)
        let resource = agent.config.resources[0]
        let pass = Task { await monitor.read(resource) }
        try await Task.sleep(for: .milliseconds(500))
        pass.cancel()
        _ = await pass.value
        #expect(agent.value(CanaryMetrics.controlPlaneRequests, ["failure"]) == 0)
        // Issue 17, item 5a: nor is it recorded as facts: what was known before stays.
        #expect(agent.controlPlaneFacts["slow-arm"] == nil, "a cancelled read was recorded as facts")
    }

    /// A reload of an unchanged file keeps the control plane's token, facts and findings: no
    /// Resource Manager request, no token request. Dropping control_plane drops them.
    @Test func aReloadKeepsTheFactsAndRereadsNothing() async throws {
        let world = try World()
        let endpoint = world.addResource("keyless") { $0.localAuthDisabled = true }
        let path = world.directory + "/config.yaml"
        let text = Self.config(world, resources: [("keyless", endpoint, true)])
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let logger = EventLogger(format: .logfmt, level: .debug) { world.logs.append($0) }
        let supervisor = Supervisor(
            config: try ConfigLoader.load(path: path, variables: [:]), path: path, variables: [:], logger: logger,
            build: BuildInfo(version: "t", revision: "t", swiftVersion: "6"))
        let running = Task { await supervisor.run() }
        defer { running.cancel() }
        let registry = supervisor.reference.current.metrics.registry
        func warning() -> Double { registry.value(CanaryMetrics.configWarnings.name, ["keyless", "local_auth_disabled"]) ?? 0 }  // absent: none
        let deadline = Date().addingTimeInterval(30)
        while supervisor.reference.current.controlPlaneFacts["keyless"] == nil || warning() != 1, Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let facts = try #require(supervisor.reference.current.controlPlaneFacts["keyless"])
        #expect(warning() == 1)
        // Let the first rounds' token requests settle, then count.
        try await Task.sleep(for: .milliseconds(500))
        let (reads, tokens) = (world.simulator.resourceManagerRequestCount, world.simulator.tokenRequestCount(clientID: Names.client))

        _ = await supervisor.reload()
        try await Task.sleep(for: .seconds(1.5))
        #expect(world.simulator.resourceManagerRequestCount == reads, "a reload of an unchanged file re-read Resource Manager")
        #expect(world.simulator.tokenRequestCount(clientID: Names.client) == tokens, "a reload of an unchanged file asked for a token")
        #expect(supervisor.reference.current.controlPlaneFacts["keyless"] == facts)
        #expect(warning() == 1, "the finding stays with its facts")

        // Without control_plane the facts and their findings go.
        try text.replacingOccurrences(of: "control_plane:\n  credential: app\n  endpoint: \(world.simulator.authority)\n", with: "")
            .write(toFile: path, atomically: true, encoding: .utf8)
        _ = await supervisor.reload()
        #expect(supervisor.reference.current.config.controlPlane == nil)
        #expect(supervisor.reference.current.controlPlaneFacts["keyless"] == nil)
        #expect(warning() == 0)
        running.cancel()
        await running.value
    }

    /// Facts that make a canary pointless or broken become configuration warnings.
    @Test func resourceManagerFactsBecomeWarnings() async throws {
        let world = try World()
        let keyless = world.addResource("keyless") { $0.localAuthDisabled = true }
        let empty = world.addResource("empty") {
            $0.deploymentMissing = true
            $0.publicNetworkAccessDisabled = true
        }
        let regional = world.addResource("regional") { $0.regionalEndpoint = true }
        let agent = world.agent(
            try world.config(Self.config(world, resources: [("keyless", keyless, true), ("empty", empty, false), ("regional", regional, true)])))
        defer { agent.shutdown() }
        try await Self.readThenProbe(agent)

        #expect(agent.value(CanaryMetrics.configWarnings, ["keyless", "local_auth_disabled"]) == 1)
        #expect(agent.value(CanaryMetrics.configWarnings, ["keyless", "deployment_missing"]) == -1)
        #expect(agent.value(CanaryMetrics.configWarnings, ["empty", "deployment_missing"]) == 1)
        #expect(agent.value(CanaryMetrics.configWarnings, ["empty", "public_network_disabled"]) == 1)
        #expect(agent.value(CanaryMetrics.configWarnings, ["empty", "local_auth_disabled"]) == -1, "no key canary there")
        #expect(agent.value(CanaryMetrics.configWarnings, ["regional", "no_custom_subdomain"]) == 1)
        #expect(agent.value(CanaryMetrics.configWarnings, ["keyless", "no_custom_subdomain"]) == -1)
        #expect(agent.board.warnings("regional").contains { $0.message.hasPrefix("the account has no custom subdomain, so Entra ID tokens cannot work on it") })
        #expect(world.logs.chunks.contains { $0.contains("the account has no deployment \\\"\(Names.deployment)\\\"; it has none") }, "\(world.logs.chunks)")
        let page = StatusView(board: agent.board, now: SystemClock().wallSeconds, version: "test").html
        #expect(page.contains("Resource Manager says local auth is disabled"))
    }

    /// Resource Manager down, or the reader forbidden: probes go on exactly as without it.
    @Test func aControlPlaneThatIsDownOrForbiddenNeverFailsOrDelaysAProbe() async throws {
        let world = try World()
        let healthy = world.addResource("healthy")
        world.simulator.setResourceManagerStatus(503)
        let agent = world.agent(try world.config(Self.config(world, resources: [("healthy", healthy, true)])))
        defer { agent.shutdown() }
        try await Self.readThenProbe(agent)
        #expect(agent.value(CanaryMetrics.probeSuccess, ["healthy", "entra_id"]) == 1)
        #expect(agent.value(CanaryMetrics.probeSuccess, ["healthy", "api_key"]) == 1)
        #expect(agent.value(CanaryMetrics.controlPlaneRequests, ["failure"]) >= 1)
        #expect(agent.value(CanaryMetrics.dataActionGranted, ["healthy", "app"]) == -1, "unknown: absent")
        let facts = try #require(agent.controlPlaneFacts["healthy"])
        #expect(facts.problems.contains { $0.hasPrefix("account: HTTP 503 ServiceUnavailable") }, "\(facts.problems)")

        // Forbidden: a principal with no role at all gets AuthorizationFailed for every read.
        world.simulator.setResourceManagerStatus(nil)
        world.simulator.revokeRole(resource: "healthy", objectID: Names.object)
        await agent.controlPlane!.read(agent.config.resources[0])
        let forbidden = try #require(agent.controlPlaneFacts["healthy"])
        #expect(
            forbidden.problems.contains {
                $0.contains(
                    "role assignments: HTTP 403 AuthorizationFailed: The client '\(Names.client)' with object id '\(Names.object)' does not have "
                        + "authorization to perform action 'Microsoft.Authorization/roleAssignments/read'"
                )
            },
            "\(forbidden.problems)")
        // The permissions API needs no role: it says the principal holds nothing.
        #expect(forbidden.callerPermissions == [])

        // Throttled: the read stops, says how long Resource Manager asked to wait, and the last
        // full pass's facts stay.
        world.simulator.setResourceManagerStatus(429)
        let wait = await agent.controlPlane!.read(agent.config.resources[0])
        #expect(wait == 17)
        #expect(agent.controlPlaneFacts["healthy"] == forbidden, "a throttled pass keeps the last facts")
        world.simulator.setResourceManagerStatus(nil)
        let diagnosis = await Diagnoser(client: HTTPClient(), clock: SystemClock(), timeoutSeconds: 2, azPath: nil).diagnose(agent.config)
        let step = try #require(diagnosis.first?.steps.first { $0.number == 3 })
        #expect(
            step.evidence.contains {
                $0.hasPrefix("Resource Manager: could not read role assignments: HTTP 403 AuthorizationFailed")
                    && $0.contains("Microsoft.Authorization/roleAssignments/read")
            }, "\(step.evidence)")
        #expect(agent.value(CanaryMetrics.dataActionGranted, ["healthy", "app"]) == 0)
    }

    /// The body of the first `answer` block in docs/azure-answers.md with this reason.
    static func recordedBody(_ reason: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: repositoryRoot + "/docs/azure-answers.md", encoding: .utf8)
        var body: String?
        for block in text.components(separatedBy: "```answer").dropFirst() {
            let lines = block.components(separatedBy: "```")[0].split(separator: "\n")
            if lines.contains("reason: " + reason) {
                body = lines.first { $0.hasPrefix("body: ") }.map { String($0.dropFirst(6)) }
                break
            }
        }
        let data = try #require(body, "no recorded answer \(reason)").data(using: .utf8)!
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every key path of a JSON object, arrays' first items included (`value[].properties.scope`).
    static func keyPaths(_ value: Any, _ prefix: String = "") -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set<String>()) { paths, member in
                let path = prefix.isEmpty ? member.key : prefix + "." + member.key
                paths.insert(path)
                paths.formUnion(keyPaths(member.value, path))
            }
        }
        if let array = value as? [Any], let first = array.first { return keyPaths(first, prefix + "[]") }
        return []
    }

    /// The simulator answers with Resource Manager's real shapes: every key of the recorded real
    /// answers (docs/azure-answers.md) is in the simulator's, but those the real service adds
    /// later or the recording tool put there.
    @Test func theSimulatorsResourceManagerAnswersHaveTheRealShapes() async throws {
        let world = try World()
        world.addResource("shape")
        let armID = SimulatedResource(name: "shape", tenantID: Names.tenant, apiKey: "", deployments: []).armID
        let token = try await resourceManagerToken(world)
        func simulated(_ path: String) async throws -> [String: Any] {
            let response = try await client.execute(HTTPClientRequest(url: world.simulator.authority + path, headers: [("Authorization", "Bearer \(token)")]))
            #expect(response.status == 200, "\(path): \(String(decoding: response.body, as: UTF8.self))")
            return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        }
        let cases: [(String, String, Set<String>)] = [
            (
                "arm_account", armID + "?api-version=2024-10-01",
                [
                    "apiVersion", "properties.dateCreated", "properties.isMigrated", "systemData",
                    "properties.endpoints.OpenAI Dall-E API", "properties.endpoints.OpenAI Whisper API",
                    "properties.endpoints.OpenAI Model Scaleset API", "properties.endpoints.OpenAI Realtime API",
                ]
            ),
            ("arm_deployments", armID + "/deployments?api-version=2024-10-01", ["value[].properties.deploymentState", "value[].properties.serviceTier"]),
            (
                "arm_role_assignments",
                armID + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=assignedTo(%27\(Names.object)%27)", []
            ),
            (
                "arm_role_definition", armID + "/providers/Microsoft.Authorization/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd?api-version=2022-04-01",
                []
            ),
        ]
        for (reason, path, laterOrTooling) in cases {
            let real = Self.keyPaths(try Self.recordedBody(reason)).subtracting(laterOrTooling)
            let ours = Self.keyPaths(try await simulated(path))
            #expect(real.subtracting(ours).isEmpty, "\(reason): the simulator lacks \(real.subtracting(ours).sorted())")
        }
    }
}

/// Discovery (issue 13): accounts found through Resource Manager are probed like listed ones,
/// appear and disappear without a restart, and those that stay keep their counters.
@Suite(.serialized) struct DiscoveryTests {
    static func config(_ world: World, listed: String, tags: String, extra: String = "") -> String {
        """
        listen: "127.0.0.1:0"
        interval: 1s
        timeout: 2s
        control_plane:
          credential: app
          endpoint: \(world.simulator.authority)
        discovery:
          - subscription: \(SimulatedResource.defaultSubscription)
            tags: \(tags)
            credential: app
            api_key: list_keys
            probe: chat_completions
            deployment: auto
            interval: 1s

        """ + world.credentialsYAML() + """
            resources:
              - name: \(listed)
                endpoint: \(world.simulator.endpoint(for: "listed"))
                deployment: \(Names.deployment)
                api_key_file: resource.key
            \(extra)
            """
    }

    @Test func discoveredAccountsAreProbedAndFollowTheFileWithoutARestart() async throws {
        let world = try World()
        world.addResource("listed")
        for (name, team) in [("alpha", "ai"), ("beta", "ai"), ("gamma", "web")] {
            world.addResource(name) { $0.tags = ["team": team] }
            // The canary's principal may read the accounts and list their keys.
            world.simulator.grantRole(resource: name, objectID: Names.object, role: SimulatedRole.named("Cognitive Services User")!)
        }
        let path = world.directory + "/config.yaml"
        try Self.config(world, listed: "listed", tags: "{team: ai}").write(toFile: path, atomically: true, encoding: .utf8)
        let logger = EventLogger(format: .logfmt, level: .debug) { world.logs.append($0) }
        let supervisor = Supervisor(
            config: try ConfigLoader.load(path: path, variables: [:]), path: path, variables: [:], logger: logger,
            build: BuildInfo(version: "t", revision: "t", swiftVersion: "6"))
        let running = Task { await supervisor.run() }
        defer { running.cancel() }
        let registry = supervisor.reference.current.metrics.registry
        func value(_ descriptor: some MetricFamily, _ labels: [String]) -> Double { registry.value(descriptor.name, labels) ?? -1 }
        func names() -> [String] { supervisor.reference.current.config.resources.map(\.name) }
        // Deadlines are generous: on a loaded 2-core machine the first pass and rounds can take seconds.
        var deadline = Date().addingTimeInterval(30)
        while names() != ["listed", "alpha", "beta"] || value(CanaryMetrics.probeSuccess, ["alpha", "api_key"]) != 1
            || value(CanaryMetrics.probeSuccess, ["alpha", "entra_id"]) != 1, Date() < deadline
        {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(names() == ["listed", "alpha", "beta"], "\(world.logs.chunks.suffix(10))")
        #expect(value(CanaryMetrics.discoveredResources, [SimulatedResource.defaultSubscription]) == 2)
        // Probed with the key from listKeys and with a token, on the deployment auto picked.
        #expect(value(CanaryMetrics.probeSuccess, ["alpha", "api_key"]) == 1, "\(world.logs.chunks.suffix(10))")
        #expect(value(CanaryMetrics.probeSuccess, ["alpha", "entra_id"]) == 1)
        let alpha = try #require(supervisor.reference.current.config.resources.first { $0.name == "alpha" })
        #expect(alpha.deployment == Names.deployment && alpha.armID?.name == "alpha" && alpha.endpoint == world.simulator.endpoint(for: "alpha"))
        #expect(!registry.render().contains(Names.key), "the listed key never reaches the metrics")
        #expect(!world.logs.chunks.joined().contains(Names.key), "nor the log")

        // The file now takes every team: gamma appears, alpha and beta stay with their counters
        // (the listed resource's own account is found too, and the listed name wins).
        let before = value(CanaryMetrics.probes, ["alpha", "entra_id"])
        try Self.config(world, listed: "listed", tags: "{}").write(toFile: path, atomically: true, encoding: .utf8)
        _ = await supervisor.reload()
        deadline = Date().addingTimeInterval(30)
        while names() != ["listed", "alpha", "beta", "gamma"], Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(names() == ["listed", "alpha", "beta", "gamma"])
        #expect(value(CanaryMetrics.probes, ["alpha", "entra_id"]) >= before, "alpha kept its counters")
        #expect(value(CanaryMetrics.discoveredResources, [SimulatedResource.defaultSubscription]) == 4)
        #expect(
            world.logs.chunks.contains { $0.contains("level=error") && $0.contains("discovered account listed") && $0.contains("has the name of a listed") })

        // An account removed from the subscription disappears, its series with it.
        world.simulator.updateResource("beta") { $0.subscriptionID = "00000000-0000-4000-8000-0000000000ff" }
        try Self.config(world, listed: "listed", tags: "{}").replacingOccurrences(of: "    interval: 1s", with: "    interval: 2s")
            .write(toFile: path, atomically: true, encoding: .utf8)
        _ = await supervisor.reload()
        deadline = Date().addingTimeInterval(30)
        while names() != ["listed", "alpha", "gamma"], Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(names() == ["listed", "alpha", "gamma"], "\(world.logs.chunks.suffix(8))")
        #expect(!registry.render().contains(#"resource="beta""#), "beta's series are gone")

        // A name clash is an error in the log, not a crash: the listed resource wins.
        try Self.config(world, listed: "alpha", tags: "{team: ai}").write(toFile: path, atomically: true, encoding: .utf8)
        _ = await supervisor.reload()
        deadline = Date().addingTimeInterval(30)
        while !world.logs.chunks.contains(where: { $0.contains("discovered account alpha") }), Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(world.logs.chunks.contains { $0.contains("level=error") && $0.contains("discovered account alpha") && $0.contains("has the name of a listed") })
        #expect(supervisor.reference.current.config.resources.filter { $0.name == "alpha" }.count == 1)
        running.cancel()
        await running.value
    }

    /// A subscription with more accounts than Resource Manager puts on a page: discovery follows
    /// nextLink and finds them all.
    @Test func discoveryFollowsNextLinkToTheLastPage() async throws {
        let world = try World()
        let names = (1...12).map { String(format: "acct-%02d", $0) }
        for name in names { world.addResource(name) }
        // Reader of the subscription, as a control-plane reader would be.
        world.simulator.grantRole(resource: names[0], objectID: Names.object, role: SimulatedRole.named("Reader")!, at: .subscription)
        let token = try await resourceManagerToken(world)
        let http = HTTPClient()
        defer { http.shutdown() }
        let reader = ControlPlaneReader(client: http, endpoint: world.simulator.authority, timeoutSeconds: 2)
        let result = await reader.discover([DiscoveryConfig(subscription: SimulatedResource.defaultSubscription, credential: "app")], token: token)
        #expect(result.problems.isEmpty, "\(result.problems)")
        #expect(result.resources.map(\.name) == names, "three pages of five")
        #expect(result.counts[SimulatedResource.defaultSubscription] == 12)
    }

    /// `diagnose` walks what discovery finds after one pass, and `--resource` finds a
    /// discovered account by name; a name neither listed nor found is refused with both lists.
    @Test func diagnoseWalksDiscoveredAccounts() async throws {
        let world = try World()
        world.addResource("listed")
        world.addResource("found") { $0.tags = ["team": "ai"] }
        world.simulator.grantRole(resource: "found", objectID: Names.object, role: SimulatedRole.named("Cognitive Services User")!)
        let path = world.directory + "/config.yaml"
        try Self.config(world, listed: "listed", tags: "{team: ai}").write(toFile: path, atomically: true, encoding: .utf8)

        let one = try await runBinary(["diagnose", "--config", path, "--resource", "found"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(one.status == 0, "\(one.stdout)\n\(one.stderr)")
        #expect(one.stdout.hasPrefix("found  \(world.simulator.endpoint(for: "found"))"), "\(one.stdout)")
        #expect(one.stdout.contains("[PASS] 3. Principal and data action"), "\(one.stdout)")

        let all = try await runBinary(["diagnose", "--config", path, "--format", "json"], environment: ["PATH": "/usr/bin:/bin"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any], "\(all.stdout)\n\(all.stderr)")
        let walked = (document["resources"] as? [[String: Any]])?.compactMap { $0["resource"] as? String }
        #expect(walked == ["listed", "found"], "\(all.stdout)")

        let missing = try await runBinary(["diagnose", "--config", path, "--resource", "nowhere"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("no resource \"nowhere\" in \(path) (defined: listed; discovered: found)"), "\(missing.stderr)")
    }

    /// `--shard`: every resource belongs to exactly one shard, and shards are about even.
    @Test func shardsPartitionTheEstate() throws {
        let resources = (0..<3000).map { index -> ResourceConfig in
            var resource = ResourceConfig(name: "r\(index)", endpoint: "https://r\(index).openai.azure.com/", apiKey: Secret("k"))
            if index % 2 == 0 {
                resource.armID = ARMResourceID(
                    "/subscriptions/5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/r\(index)")
            }
            return resource
        }
        let shards = (1...3).map { Shard("\($0)/3")! }
        var total = 0
        for shard in shards {
            let owned = EffectiveConfig.merge(file: CanaryConfig(resources: resources), discovered: [], shard: shard).resources
            #expect(owned.count > 800 && owned.count < 1200, "\(shard): \(owned.count)")
            total += owned.count
        }
        #expect(total == 3000)
        for resource in resources { #expect(shards.filter { $0.owns(resource) }.count == 1) }
        for bad in ["0/3", "4/3", "1/0", "x/2", "1", "1/2/3", "-1/2"] { #expect(Shard(bad) == nil, "\(bad)") }
    }
}
