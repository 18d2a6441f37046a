// Issue 17: probing never stops for the control plane, discovery or a reload; health says so
// only while rounds run; a hostile Resource Manager costs bounded time and memory and gets no
// token it should not.
import AzureSimulator
import CanaryTestSupport
import Foundation
import HTTPClient
import Synchronization
import Testing

@testable import Agent
@testable import Config
@testable import ControlPlane
@testable import Endpoint
@testable import HTTPServer
@testable import Log
@testable import Metrics
@testable import Probe
@testable import Schedule
@testable import Status

/// Polls `condition` for up to `seconds` (a bound for a stuck test, not a timing).
func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return true
}

/// A Resource Manager look-alike on loopback: `route` answers by path (and query), and every
/// request is recorded.
final class HostileResourceManager: @unchecked Sendable {
    let server: HTTPServer
    let requests = Locked<[String]>([])
    var authority: String { "http://127.0.0.1:\(server.boundAddress.port)" }

    init(_ route: @escaping @Sendable (_ path: String, _ authority: String) -> HTTPResponse) throws {
        let box = Locked<String>("")
        let requests = self.requests
        server = try HTTPServer(host: "127.0.0.1", port: 0, threading: .threadPerConnection) { request in
            requests.withLock {
                $0.append(request.path + (request.query.isEmpty ? "" : "?" + request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")))
            }
            return route(request.path, box.withLock { $0 })
        }
        box.withLock { $0 = authority }
    }

    deinit { server.stop() }

    static func json(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: text)
    }
}

@Suite(.serialized) struct NeverBlindTests {
    static let build = BuildInfo(version: "t", revision: "t", swiftVersion: "6")

    static func supervisor(_ world: World, _ text: String) throws -> Supervisor {
        let path = world.directory + "/config.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let logger = EventLogger(format: .logfmt, level: .debug) { world.logs.append($0) }
        return Supervisor(config: try ConfigLoader.load(path: path, variables: [:]), path: path, variables: [:], logger: logger, build: build)
    }

    /// A 1 s configuration with a control plane at `endpoint` (and `extra` top-level YAML), and
    /// one listed resource probed with its key only.
    static func controlPlaneConfig(_ world: World, endpoint: String, listed: String, extra: String = "") -> String {
        """
        listen: "127.0.0.1:0"
        interval: 1s
        timeout: 2s
        control_plane:
          credential: app
          endpoint: \(endpoint)
        \(extra)
        """ + world.credentialsYAML() + """
            resources:
              - name: \(listed)
                endpoint: \(world.addResource(listed))
                deployment: \(Names.deployment)
                api_key_file: resource.key

            """
    }

    static func endpointStatus(_ supervisor: Supervisor, _ path: String) -> Int {
        StatusEndpoint(source: supervisor.reference, version: "t").handle(HTTPRequest(method: "GET", path: path)).status
    }

    /// Item 1: a control plane with nothing to read (no resource has an arm_id) used to end the
    /// task group it shared with the schedule: 0 probes, while /-/ready said 200.
    @Test func aControlPlaneWithNothingToReadStopsNoProbe() async throws {
        let world = try World()
        let supervisor = try Self.supervisor(world, Self.controlPlaneConfig(world, endpoint: world.simulator.authority, listed: "plain"))
        let running = Task { await supervisor.run() }
        let registry = supervisor.reference.current.metrics.registry
        #expect(await eventually { (registry.value(CanaryMetrics.probes.name, ["plain", "api_key"]) ?? 0) >= 3 }, "\(world.logs.chunks.suffix(5))")
        #expect(Self.endpointStatus(supervisor, "/-/ready") == 200)
        #expect(Self.endpointStatus(supervisor, "/-/healthy") == 200)
        running.cancel()
        await running.value
        // Stopped: no round will start, and health says so.
        #expect(Self.endpointStatus(supervisor, "/-/ready") == 503)
        #expect(Self.endpointStatus(supervisor, "/-/healthy") == 503)
    }

    /// Item 1, through discovery: while Resource Manager answers 503 (or finds nothing), the
    /// listed resource is probed on its interval.
    @Test func aFailingDiscoveryStopsNoProbe() async throws {
        let world = try World()
        let manager = try HostileResourceManager { _, _ in
            HostileResourceManager.json(#"{"error":{"code":"ServiceUnavailable","message":"down"}}"#, status: 503)
        }
        let discovery = "discovery:\n  - subscription: 5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b\n    credential: app\n"
        let supervisor = try Self.supervisor(world, Self.controlPlaneConfig(world, endpoint: manager.authority, listed: "listed", extra: discovery))
        let running = Task { await supervisor.run() }
        let registry = supervisor.reference.current.metrics.registry
        #expect(await eventually { world.logs.chunks.contains { $0.contains("discovery:") && $0.contains("503") } }, "\(world.logs.chunks.suffix(5))")
        let after = registry.value(CanaryMetrics.probes.name, ["listed", "api_key"]) ?? 0
        #expect(
            await eventually { (registry.value(CanaryMetrics.probes.name, ["listed", "api_key"]) ?? 0) >= after + 3 },
            "the listed resource is probed after discovery failed")
        #expect(Self.endpointStatus(supervisor, "/-/ready") == 200)
        running.cancel()
        await running.value
    }

    /// The health rule itself: a schedule whose loop does not run is stalled; one that runs is
    /// not; one whose due round has not started for longer than the grace is stalled.
    @Test func scheduleHealthFollowsTheLoop() async throws {
        let clock = ManualClock()
        let resources = [ResourceConfig(name: "r", endpoint: "http://r.invalid/", deployment: "d", apiKey: Secret("k"), interval: .seconds(10))]
        let metrics = CanaryMetrics(build: Self.build)
        let reporter = ProbeReporter(metrics: metrics, logger: EventLogger(format: .logfmt, level: .error) { _ in }, board: StatusBoard(config: CanaryConfig()))
        let rounds = Locked<Int>(0)
        let scheduler = Scheduler(resources: resources, defaultInterval: .seconds(60), clock: clock, observer: reporter) { resource in
            rounds.withLock { $0 += 1 }
            return RoundResult(resource: resource.name)
        }
        #expect(scheduler.health.stall(now: clock.monotonicSeconds) != nil, "never started")
        let loop = Task { await scheduler.run() }
        #expect(await eventually { scheduler.health.stall(now: clock.monotonicSeconds) == nil && rounds.value == 1 })
        // The loop sleeps until the next slot, 10 s on: seen from 45 s on, that slot is 35 s overdue.
        #expect(scheduler.health.stall(now: clock.monotonicSeconds + 45) != nil)
        #expect(scheduler.health.stall(now: clock.monotonicSeconds + 20) == nil)
        loop.cancel()
        await loop.value
        #expect(scheduler.health.stall(now: clock.monotonicSeconds)?.contains("not running") == true)
    }

    /// Items 3 and 10: a reload storm neither stops probing nor throws away calls. One schedule
    /// runs throughout, an unchanged reload keeps rounds in flight (their verdicts count), and
    /// every data-plane call the agent made is a counted probe.
    @Test func aReloadStormKeepsProbingAndThrowsNoCallAway() async throws {
        let world = try World()
        let endpoint = world.addResource("slow") { $0.delaySeconds = 0.4 }
        let text = world.configText(resources: [("slow", endpoint)], interval: "1s").replacingOccurrences(of: "    credential: app\n", with: "")
        let supervisor = try Self.supervisor(world, text)
        let running = Task { await supervisor.run() }
        let registry = supervisor.reference.current.metrics.registry
        let scheduler = ObjectIdentifier(supervisor.reference.current.scheduler)
        #expect(await eventually { (registry.value(CanaryMetrics.probes.name, ["slow", "api_key"]) ?? 0) >= 1 })
        let before = registry.value(CanaryMetrics.probes.name, ["slow", "api_key"]) ?? 0
        // A reload every 0.2 s for 4 s: before, each one cancelled the round in flight.
        for _ in 0..<20 {
            _ = await supervisor.reload()
            try await Task.sleep(for: .milliseconds(200))
        }
        let after = registry.value(CanaryMetrics.probes.name, ["slow", "api_key"]) ?? 0
        #expect(after - before >= 2, "rounds went on through the reloads: \(after - before)")
        #expect(ObjectIdentifier(supervisor.reference.current.scheduler) == scheduler, "one schedule for the process")
        running.cancel()
        await running.value
        // Every call that reached the service was reported (a call cut by the final stop may not be).
        let calls = Double(world.simulator.requestCount(resource: "slow"))
        let counted = registry.value(CanaryMetrics.probes.name, ["slow", "api_key"]) ?? 0
        #expect(calls - counted <= 1, "\(calls) calls, \(counted) counted")
    }

    /// Item 3: changes apply in place. Unchanged resources keep their series and status, a
    /// removed one's go, an added one joins, and the registry is never rebuilt.
    @Test func aReloadAppliesOnlyWhatChanged() async throws {
        let world = try World()
        let (a, b, c) = (world.addResource("a"), world.addResource("b"), world.addResource("c"))
        let path = world.directory + "/config.yaml"
        let supervisor = try Self.supervisor(world, world.configText(resources: [("a", a), ("b", b)], interval: "1s"))
        let running = Task { await supervisor.run() }
        let registry = supervisor.reference.current.metrics.registry
        #expect(await eventually { (registry.value(CanaryMetrics.probes.name, ["b", "entra_id"]) ?? 0) >= 1 })
        let tokens = world.simulator.tokenRequestCount(clientID: Names.client)
        try world.configText(resources: [("a", a), ("c", c)], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let change = ConfigChange(from: supervisor.reference.current.config, to: try ConfigLoader.load(path: path, variables: [:]))
        #expect(change.addedResources == ["c"] && change.removedResources == ["b"] && change.unchangedResources == ["a"] && change.changedResources.isEmpty)
        _ = await supervisor.reload()
        #expect(registry.value(CanaryMetrics.probes.name, ["b", "api_key"]) == nil, "b's series are gone")
        #expect(await eventually { (registry.value(CanaryMetrics.probes.name, ["c", "entra_id"]) ?? 0) >= 1 })
        #expect(world.simulator.tokenRequestCount(clientID: Names.client) == tokens, "the unchanged credential kept its token")
        #expect(supervisor.reference.current.board.resources.map(\.name) == ["a", "c"])
        #expect(await supervisor.reference.current.scheduler.resourceNames == ["a", "c"])
        running.cancel()
        await running.value
    }

    /// Item 2: a page whose nextLink is itself, or that pages forever, ends the listing with a
    /// problem instead of growing memory for ever.
    @Test func endlessPagingIsBoundedAndSaysSo() async throws {
        let world = try World()
        let account =
            #"{"id":"/subscriptions/5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/loop","#
            + #""name":"loop","kind":"OpenAI","properties":{"endpoint":"https://loop.openai.azure.com/"}}"#
        let counter = Locked<Int>(0)
        let selfLink = try HostileResourceManager { path, authority in
            HostileResourceManager.json(#"{"value":[\#(account)],"nextLink":"\#(authority)\#(path)?api-version=2024-10-01"}"#)
        }
        let fresh = try HostileResourceManager { path, authority in
            let page = counter.withLock {
                $0 += 1
                return $0
            }
            return HostileResourceManager.json(#"{"value":[\#(account)],"nextLink":"\#(authority)\#(path)?api-version=2024-10-01&page=\#(page)"}"#)
        }
        let http = HTTPClient()
        defer { http.shutdown() }
        let entry = DiscoveryConfig(subscription: "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", credential: "app")
        let looped = await ControlPlaneReader(client: http, endpoint: selfLink.authority, timeoutSeconds: 2).discover([entry], token: "t")
        #expect(looped.problems.contains { $0.contains("paging loop") }, "\(looped.problems)")
        #expect(selfLink.requests.withLock { $0.count } <= 3)
        #expect(looped.failedSubscriptions.contains(entry.subscription), "what was found before is kept")
        #expect(looped.resources.map(\.name) == ["loop"])
        let endless = await ControlPlaneReader(client: http, endpoint: fresh.authority, timeoutSeconds: 2).discover([entry], token: "t")
        #expect(endless.problems.contains { $0.contains("more than \(ControlPlaneReader.maxPagesPerListing) pages") }, "\(endless.problems)")
        #expect(fresh.requests.withLock { $0.count } == ControlPlaneReader.maxPagesPerListing)
        _ = world
    }

    /// Item 4: a nextLink is followed only to the endpoint's own scheme, host and port; the
    /// bearer token never reaches another host, whatever the link is glued from.
    @Test func aNextLinkToAnotherHostIsNotFollowed() async throws {
        let elsewhere = try HostileResourceManager { _, _ in HostileResourceManager.json(#"{"value":[]}"#) }
        let port = elsewhere.server.boundAddress.port
        for link in ["@127.0.0.2:\(port)/x", "http://127.0.0.1:\(port)/x", "//127.0.0.1:\(port)/x", "x", "http://evil@127.0.0.1:\(port)/x"] {
            let manager = try HostileResourceManager { _, _ in HostileResourceManager.json(#"{"value":[],"nextLink":"\#(link)"}"#) }
            let http = HTTPClient()
            let result = await ControlPlaneReader(client: http, endpoint: manager.authority, timeoutSeconds: 2)
                .discover([DiscoveryConfig(subscription: "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", credential: "app")], token: "t")
            http.shutdown()
            #expect(result.problems.contains { $0.contains("was not followed") }, "\(link): \(result.problems)")
        }
        #expect(elsewhere.requests.withLock { $0 }.isEmpty, "another host got a request")
        // The rule, unit by unit.
        let endpoint = "https://management.azure.com"
        #expect(ControlPlaneReader.sameOrigin("https://management.azure.com/subscriptions/x?api-version=1&$skiptoken=a", endpoint))
        #expect(ControlPlaneReader.sameOrigin("https://MANAGEMENT.azure.com:443/x", endpoint))
        #expect(!ControlPlaneReader.sameOrigin("https://management.azure.com@attacker.example/x", endpoint))
        #expect(!ControlPlaneReader.sameOrigin("https://management.azure.com.attacker.example/x", endpoint))
        #expect(!ControlPlaneReader.sameOrigin("http://management.azure.com/x", endpoint))
        #expect(!ControlPlaneReader.sameOrigin("https://management.azure.com:8443/x", endpoint))
        #expect(!ControlPlaneReader.sameOrigin("https://management.azure.com\\@attacker.example/x", endpoint))
        #expect(!ControlPlaneReader.sameOrigin("https://management.azure.com/x\r\nHost: evil", endpoint))
        #expect(ControlPlaneReader.nextPage("/subscriptions/x?page=2", endpoint: endpoint) == "https://management.azure.com/subscriptions/x?page=2")
        #expect(ControlPlaneReader.nextPage("@attacker.example/x", endpoint: endpoint) == nil)
    }

    /// Item 11: a listKeys key with CR or LF would add headers to every probe: refused, said.
    @Test func aListedKeyWithLineBreaksIsRefused() async throws {
        let id = "/subscriptions/5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/crlf"
        let manager = try HostileResourceManager { path, _ in
            if path.hasSuffix("/listKeys") { return HostileResourceManager.json(#"{"key1":"abc\r\nX-Injected: 1","key2":"def"}"#) }
            return HostileResourceManager.json(
                #"{"value":[{"id":"\#(id)","name":"crlf","kind":"OpenAI","properties":{"endpoint":"https://crlf.openai.azure.com/"}}]}"#)
        }
        let http = HTTPClient()
        defer { http.shutdown() }
        let result = await ControlPlaneReader(client: http, endpoint: manager.authority, timeoutSeconds: 2)
            .discover([DiscoveryConfig(subscription: "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", credential: "app", apiKey: .listKeys, probe: .models)], token: "t")
        #expect(result.resources.first?.apiKey == nil)
        #expect(result.problems.contains { $0.contains("crlf: listKeys gave a key1 with characters a header cannot carry") }, "\(result.problems)")
    }

    /// Item 12: a shard asks listKeys only for its own accounts.
    @Test func aShardListsKeysOnlyForItsOwnAccounts() async throws {
        let ids = (0..<20).map { "/subscriptions/5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a\($0)" }
        let accounts = ids.enumerated().map {
            #"{"id":"\#($1)","name":"a\#($0)","kind":"OpenAI","properties":{"endpoint":"https://a\#($0).openai.azure.com/"}}"#
        }
        let manager = try HostileResourceManager { path, _ in
            if path.hasSuffix("/listKeys") { return HostileResourceManager.json(#"{"key1":"k1","key2":"k2"}"#) }
            return HostileResourceManager.json(#"{"value":[\#(accounts.joined(separator: ","))]}"#)
        }
        let http = HTTPClient()
        defer { http.shutdown() }
        let shard = try #require(Shard("1/2"))
        let result = await ControlPlaneReader(client: http, endpoint: manager.authority, timeoutSeconds: 2)
            .discover([DiscoveryConfig(subscription: "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", apiKey: .listKeys, probe: .models)], token: "t") { shard.owns($0) }
        let owned = result.resources.filter { shard.owns($0) }
        let listed = manager.requests.withLock { $0.filter { $0.contains("/listKeys") } }
        #expect(listed.count == owned.count && owned.count > 0 && owned.count < 20, "\(listed.count) listKeys for \(owned.count) owned")
        #expect(owned.allSatisfy { $0.apiKey != nil })
    }

    /// A Resource Manager that shows the account and one role assignment of the app's principal,
    /// and answers the role's definition with `definition`.
    static func roleManager(_ world: World, name: String, definition: @escaping @Sendable () -> HTTPResponse) throws -> HostileResourceManager {
        let armID = SimulatedResource(name: name, tenantID: Names.tenant, apiKey: "", deployments: []).armID
        let role = "0aaaaaaa-1bbb-4ccc-8ddd-9eeeeeeeeeee"
        return try HostileResourceManager { path, _ in
            if path.hasSuffix("/roleAssignments") {
                return HostileResourceManager.json(
                    #"{"value":[{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/\#(role)","#
                        + #""principalId":"\#(Names.object)","scope":"\#(armID)"}}]}"#
                )
            }
            if path.contains("/roleDefinitions/") { return definition() }
            // The permissions API would settle it; here it cannot be read either.
            if path.hasSuffix("/permissions") { return HostileResourceManager.json(#"{"error":{"code":"AuthorizationFailed","message":"no"}}"#, status: 403) }
            if path.hasSuffix("/deployments") { return HostileResourceManager.json(#"{"value":[]}"#) }
            return HostileResourceManager.json(#"{"id":"\#(armID)","kind":"OpenAI","location":"eastus","properties":{"customSubDomainName":"\#(name)"}}"#)
        }
    }

    /// Item 5b and 15: a role definition that answers 403, or is larger than any real role, makes
    /// the grant unknown: data_action_granted absent (not 0), and the verdict says what could not
    /// be read instead of telling the user to assign a role they may hold.
    @Test func aRoleDefinitionThatCannotBeReadLeavesTheGrantUnknown() async throws {
        let huge = (0..<(ControlPlaneReader.maxPatternsPerRole + 10)).map { #""Microsoft.Nothing/p\#($0)/*""# }.joined(separator: ",")
        let cases: [(String, @Sendable () -> HTTPResponse, String)] = [
            (
                "forbidden", { HostileResourceManager.json(#"{"error":{"code":"AuthorizationFailed","message":"no roleDefinitions/read"}}"#, status: 403) },
                "HTTP 403 AuthorizationFailed"
            ),
            (
                "huge", { HostileResourceManager.json(#"{"properties":{"roleName":"Huge","permissions":[{"dataActions":[\#(huge)]}]}}"#) },
                "permission patterns, more than"
            ),
        ]
        for (name, definition, problem) in cases {
            let world = try World()
            let endpoint = world.addResource(name, grantRole: false)
            let manager = try Self.roleManager(world, name: name, definition: definition)
            let agent = world.agent(
                try world.config(ControlPlaneTests.config(world, resources: [(name, endpoint, true)], controlPlaneEndpoint: manager.authority)))
            try await ControlPlaneTests.readThenProbe(agent)
            let facts = try #require(agent.controlPlaneFacts[name])
            #expect(facts.problems.contains { $0.contains(problem) }, "\(name): \(facts.problems)")
            #expect(agent.metrics.registry.value(CanaryMetrics.dataActionGranted.name, [name, "app"]) == nil, "\(name): unknown is absent, not 0")
            let verdict = ControlPlaneTests.entraVerdict(agent, name)
            #expect(verdict.reason == .permissionDenied)
            let roles = verdict.evidence?.roles
            #expect(roles?.unread.isEmpty == false && roles?.covering == nil, "\(name): unknown, not none: \(String(describing: roles))")
            agent.shutdown()
        }
    }

    /// Item 7: parked reloads hold connections, so only a few may wait at once.
    @Test func onlyAFewReloadsWaitAtOnce() {
        let world = try? World()
        guard let world, let config = try? world.config(world.configText(resources: [])) else {
            Issue.record("no world")
            return
        }
        let agent = world.agent(config)
        defer { agent.shutdown() }
        let endpoint = StatusEndpoint(source: AgentReference(agent), version: "t") { _ in }  // never answers
        let request = HTTPRequest(method: "POST", path: "/-/reload", headers: [("Host", "127.0.0.1:9725")])
        var loopback = request
        loopback.remoteAddress = "127.0.0.1"
        let answers = (0..<10).map { _ in endpoint.handle(loopback) }
        #expect(answers.filter { $0.deferred != nil }.count == StatusEndpoint.maxReloadsWaiting)
        #expect(answers.filter { $0.status == 503 }.count == 10 - StatusEndpoint.maxReloadsWaiting)
    }

    /// Item 8: a rendering is shared for its whole second whether or not anyone still reads it
    /// (scrapers spaced apart or looping cost one render a second), and the bytes responses in
    /// flight hold are bounded: past that, 503 instead of another copy.
    @Test func renderingsAreSharedForASecondAndTheirBytesAreBounded() {
        let clock = ManualClock()
        let registry = MetricsRegistry()
        let renders = Locked(0)
        let filler = String(repeating: "# filler line that compresses well\n", count: 30 << 20 / 35)
        registry.addCollector {
            renders.withLock { $0 += 1 }
            return filler
        }
        let endpoint = StatusEndpoint(source: FixedSource(registry: registry), version: "t", clock: clock)
        let scrape = HTTPRequest(method: "GET", path: "/metrics")
        let first = endpoint.handle(scrape)
        first.onDone?()
        let second = endpoint.handle(scrape)
        #expect(first.status == 200 && second.status == 200 && renders.value == 1, "a scrape within the second shares the rendering: \(renders.value) renders")
        clock.advance(by: 1.1)
        let third = endpoint.handle(scrape)  // a second rendering; the first is still held by `second`
        #expect(third.status == 200 && renders.value == 2)
        clock.advance(by: 1.1)
        let fourth = endpoint.handle(scrape)  // a third would hold 90 MB: over the bound
        #expect(fourth.status == 503 && renders.value == 2, "status \(fourth.status), \(renders.value) renders")
        second.onDone?()
        third.onDone?()
        let fifth = endpoint.handle(scrape)
        #expect(fifth.status == 200 && renders.value == 3, "room again once the stalled responses end")
        fifth.onDone?()
    }
}

/// A status source with a fixed registry and an empty board.
struct FixedSource: StatusSource {
    let registry: MetricsRegistry
    func snapshot() -> StatusSnapshot { StatusSnapshot(registry: registry, board: StatusBoard(config: CanaryConfig())) }
}
