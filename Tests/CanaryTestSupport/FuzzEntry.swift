// The parsers of outside input behind one entry, for the libFuzzer harness (`make fuzz`) and for
// replaying the inputs it once crashed on (Tests/Fuzz/Regressions, in `make test`).
import Agent
import Auth
import AzureSimulator
import Config
import Dispatch
import Endpoint
import HTTPServer
import JSON
import Log
import Metrics
import Probe

/// Feeds bytes to one parser. Never throws: every outcome but a trap is fine.
public enum FuzzEntry {
    /// The targets, by the names `make fuzz` uses.
    public enum Target: String, CaseIterable, Sendable {
        case config, jwt, token, cli, classifier, endpoint
        /// A configuration the decoder accepts is run: the agent starts, probes every resource
        /// once against the simulator, and stops.
        case agent
    }

    /// An endpoint with one resource's worth of state, for the request handler.
    static let endpoint: StatusEndpoint = {
        let config = CanaryConfig(resources: [ResourceConfig(name: "r", endpoint: "https://r.openai.azure.com/", probe: .models, apiKey: Secret("k"))])
        let agent = Agent(
            config: config, logger: EventLogger(format: .logfmt, level: .error) { _ in }, build: BuildInfo(version: "f", revision: "f", swiftVersion: "6"))
        return StatusEndpoint(source: AgentReference(agent), version: "fuzz") { $0(.success(1)) }
    }()

    /// The same from async code: the agent target's run is awaited, never waited for on a
    /// thread of the cooperative pool (which two such waits would exhaust on two cores).
    public static func runAsync(_ target: Target, _ bytes: [UInt8]) async {
        guard target == .agent else { return run(target, bytes) }
        guard let config = agentConfig(String(decoding: bytes, as: UTF8.self)) else { return }
        await runOnce(againstSimulator(config))
    }

    /// A configuration the agent target runs, when the decoder accepts the text.
    static func agentConfig(_ text: String) -> CanaryConfig? {
        try? ConfigLoader.decode(text, file: "fuzz.yaml", environment: ConfigEnvironment(variables: ["X": "secret-value-y"], configDirectory: "/nonexistent"))
    }

    public static func run(_ target: Target, _ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch target {
        case .config:
            _ = try? ConfigLoader.decode(text, file: "fuzz.yaml", environment: ConfigEnvironment(variables: ["X": "y"], configDirectory: "/nonexistent"))
        case .agent:
            // libFuzzer calls from its own thread, which may wait; tests use `runAsync`.
            guard let config = agentConfig(text) else { return }
            let done = DispatchSemaphore(value: 0)
            Task.detached {
                await runOnce(againstSimulator(config))
                done.signal()
            }
            done.wait()
        case .jwt:
            _ = try? TokenClaims.decode(jwt: text)
        case .token:
            _ = try? TokenResponse.parse(status: 200, body: bytes, now: 1_800_000_000)
            _ = try? TokenResponse.parse(status: 400, body: bytes, now: 1_800_000_000)
        case .cli:
            _ = try? AzureCLISource.parse(text, now: 1_800_000_000)
        case .classifier:
            // The JSON parser against Foundation's JSONDecoder: whatever ours accepts, JSONDecoder
            // accepts with the same value. (Not the other way round: JSONDecoder also takes some
            // malformed numbers, such as 76- inside an object, and guesses UTF-16 from NUL bytes.
            // Nor for numbers of 16 digits or more, past a Double's precision, where JSONDecoder
            // reads 999999999999999999.9 as the Int 999999999999999999.)
            if let ours = JSONValue.parse(bytes), bytes.filter({ $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "{") }).count < 400,
                !hasLongDigitRun(bytes)
            {
                precondition(JSONValue.parseWithFoundation(bytes)?.rendered == ours.rendered, "JSONParser disagrees with JSONDecoder")
            }
            // The first byte picks the status and auth mode; the rest is the body.
            let statuses = [200, 400, 401, 403, 404, 429, 500, 503]
            let first = bytes.first ?? 0
            let auth: AuthMode = first & 1 == 0 ? .apiKey : .entraID
            let verdict = ResponseClassifier.classify(
                status: statuses[Int(first >> 1) % statuses.count], body: Array(bytes.dropFirst()),
                headers: [("Date", text), ("retry-after", text)], auth: auth)
            _ = ResponseClassifier.retryAfter([("retry-after", text)])
            _ = HTTPDate.parse(text)
            _ = TokenDiagnosis.refine(verdict, claims: try? TokenClaims.decode(jwt: text), endpoint: "https://r.openai.azure.com/", serviceTime: 1_800_000_000)
        case .endpoint:
            // Lines: method, path, then headers as "name: value"; what follows a blank line is the body.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let headers = lines.dropFirst(2).prefix { !$0.isEmpty }.map { line -> (name: String, value: String) in
                let parts = line.split(separator: ":", maxSplits: 1)
                return (String(parts.first ?? ""), String(parts.dropFirst().first ?? ""))
            }
            var request = HTTPRequest(
                method: lines.first.map(String.init) ?? "GET", path: lines.dropFirst().first.map(String.init) ?? "/",
                headers: headers, body: Array(lines.suffix(1).joined().utf8))
            request.remoteAddress = bytes.count % 2 == 0 ? "127.0.0.1" : "10.0.0.1"
            request.clientCertificate = [.notTLS, .none, .verified, .unverified][bytes.count % 4]
            // The door's parsing and certificate policy; not bcrypt itself, which is libcrypt's.
            _ = WebGuard.basicCredentials(request.header("Authorization"))
            _ = ClientCertificatePolicy.allCases[bytes.count % 5].refusal(for: request.clientCertificate)
            _ = endpoint.handle(request)
        }
    }
}

/// The simulator every accepted configuration is run against: the demo world, on loopback.
public let fuzzSimulator: AzureSimulator = {
    let simulator = try! AzureSimulator()
    DemoWorld.seed(simulator)
    return simulator
}()

/// `config` pointed at the simulator, so nothing leaves the host: every endpoint is the demo's
/// healthy resource, every authority and managed-identity endpoint the simulator's; credentials
/// that run programs or read files named by the input (azure_cli, default, workload_identity)
/// are left out, and calls time out within 2 s.
func againstSimulator(_ decoded: CanaryConfig) -> CanaryConfig {
    var config = decoded
    config.timeout = min(config.timeout, .seconds(2))
    let authority = fuzzSimulator.authority
    config.credentials = decoded.credentials.compactMap { credential in
        switch credential.settings {
        case .clientSecret(var settings):
            settings.authority = authority
            return CredentialConfig(name: credential.name, settings: .clientSecret(settings))
        case .clientCertificate(var settings):
            settings.authority = authority
            return CredentialConfig(name: credential.name, settings: .clientCertificate(settings))
        case .managedIdentity(var settings):
            settings.endpoint =
                authority
                + (settings.kind == .appService
                    ? "/msi/token" : settings.kind == .arc ? "/arc/metadata/identity/oauth2/token" : "/metadata/identity/oauth2/token")
            return CredentialConfig(name: credential.name, settings: .managedIdentity(settings))
        case .workloadIdentity, .azureCLI, .chain:
            return nil
        }
    }
    let kept = Set(config.credentials.map(\.name))
    if var plane = decoded.controlPlane, kept.contains(plane.credential) {
        plane.endpoint = authority
        config.controlPlane = plane
    } else {
        config.controlPlane = nil
    }
    config.resources = decoded.resources.map { resource in
        var resource = resource
        resource.endpoint = fuzzSimulator.endpoint(for: "healthy")
        resource.caFile = nil
        if let name = resource.credential, !kept.contains(name) { resource.credential = nil }
        return resource
    }
    return config
}

/// Starts an agent on `config`, runs one round of every resource, and stops it.
func runOnce(_ config: CanaryConfig) async {
    let agent = Agent(
        config: config, logger: EventLogger(format: .logfmt, level: .error) { _ in }, build: BuildInfo(version: "f", revision: "f", swiftVersion: "6"))
    if let monitor = agent.controlPlane {
        for resource in config.resources { await monitor.read(resource) }
    }
    await agent.scheduler.runAllOnce()
    agent.shutdown()
}

/// True when 16 or more digits follow each other somewhere in `bytes`.
private func hasLongDigitRun(_ bytes: [UInt8]) -> Bool {
    var run = 0
    for byte in bytes {
        run = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? run + 1 : 0
        if run >= 16 { return true }
    }
    return false
}
