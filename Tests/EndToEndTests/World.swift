// A simulated Azure plus an in-process agent configured for it, through the real config loader.
import Agent
import AzureSimulator
import CanaryTestSupport
import Config
import Foundation
import Log
import Metrics
import Support

/// Names the end-to-end tests share.
enum Names {
    static let tenant = "aaaaaaaa-0000-4000-8000-000000000001"
    static let otherTenant = "bbbbbbbb-0000-4000-8000-000000000002"
    static let client = "cccccccc-0000-4000-8000-000000000003"
    static let secret = "e2e-client-secret-9f8e7d"
    static let object = "dddddddd-0000-4000-8000-000000000004"
    static let key = "e2e-api-key-1a2b3c4d5e"
    static let deployment = "gpt-4o-mini"
}

/// A simulator seeded with one app and resources, and a folder holding the config and secrets.
final class World: @unchecked Sendable {
    let simulator: AzureSimulator
    let directory: String
    let logs = TextBuffer()

    init(now: (@Sendable () -> Double)? = nil) throws {
        simulator = try now.map { try AzureSimulator(now: $0) } ?? AzureSimulator()
        simulator.addApplication(SimulatedApplication(tenantID: Names.tenant, clientID: Names.client, clientSecret: Names.secret, objectID: Names.object))
        directory = NSTemporaryDirectory() + "aoai-canary-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try (Names.secret + "\n").write(toFile: directory + "/app.secret", atomically: true, encoding: .utf8)
        try (Names.key + "\n").write(toFile: directory + "/resource.key", atomically: true, encoding: .utf8)
    }

    deinit {
        simulator.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Adds a healthy resource with the app's role granted.
    @discardableResult
    func addResource(_ name: String, grantRole: Bool = true, _ change: (inout SimulatedResource) -> Void = { _ in }) -> String {
        var resource = SimulatedResource(name: name, tenantID: Names.tenant, apiKey: Names.key, deployments: [Names.deployment])
        change(&resource)
        simulator.addResource(resource)
        if grantRole { simulator.grantRole(resource: name, objectID: Names.object) }
        return simulator.endpoint(for: name)
    }

    /// The YAML of a config with one credential "app" (optionally with another scope) and the given resources.
    func configText(
        resources: [(name: String, endpoint: String)], scope: String? = nil, timeout: String = "2s", interval: String = "60s",
        probe: String = "chat_completions"
    ) -> String {
        var text = """
            listen: "127.0.0.1:0"
            interval: \(interval)
            timeout: \(timeout)

            """ + credentialsYAML()
        if let scope { text += "    scope: \(scope)\n" }
        text += "resources:\n"
        for resource in resources {
            text += """
                  - name: \(resource.name)
                    endpoint: \(resource.endpoint)
                    deployment: \(Names.deployment)
                    probe: \(probe)
                    api_key_file: resource.key
                    credential: app

                """
        }
        return text
    }

    /// The `credentials:` section with the one app, "app", getting tokens from `authority`.
    func credentialsYAML(authority: String? = nil) -> String {
        """
        credentials:
          app:
            type: client_secret
            tenant_id: \(Names.tenant)
            client_id: \(Names.client)
            client_secret_file: app.secret
            authority: \(authority ?? simulator.authority)

        """
    }

    /// A config with 1 s rounds and a 1 s timeout: `credentials` (a YAML block), a resource
    /// "healthy" probed with its key only (so token faults cannot touch it), then `resources`
    /// (more YAML list items, indented by two).
    func oneSecondConfig(credentials: String, resources: String) -> String {
        """
        listen: "127.0.0.1:0"
        interval: 1s
        timeout: 1s

        """ + credentials + """
            resources:
              - name: healthy
                endpoint: \(addResource("healthy"))
                deployment: \(Names.deployment)
                api_key_file: resource.key

            """ + resources
    }

    /// Writes the config and loads it with the real loader.
    func config(_ text: String) throws -> CanaryConfig {
        let path = directory + "/config.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try ConfigLoader.load(path: path, variables: [:])
    }

    /// An agent on that config whose log lines are captured.
    func agent(_ config: CanaryConfig, clock: any CanaryClock = SystemClock(), tokenRetryInterval: Double = 30) -> Agent {
        let logger = EventLogger(format: .logfmt, level: .debug) { [logs] line in logs.append(line) }
        return Agent(
            config: config, logger: logger, build: BuildInfo(version: "test", revision: "test", swiftVersion: "6"), clock: clock,
            tokenRetryInterval: tokenRetryInterval)
    }
}

extension Agent {
    /// A counter or gauge value, -1 when absent.
    func value(_ descriptor: some MetricFamily, _ labels: [String]) -> Double {
        metrics.registry.value(descriptor.name, labels) ?? -1
    }

    /// A counter's count: 0 while it is absent (a failure counter appears with its first failure).
    func count(_ descriptor: CounterFamily, _ labels: [String]) -> Double {
        metrics.registry.value(descriptor.name, labels) ?? 0
    }
}
