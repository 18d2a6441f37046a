// What each subcommand does, given its parsed options.
import Agent
import AzureSimulator
import CProcess
import Config
import Dispatch
import Endpoint
import HTTPServer
import Journal
import Log
import Status
import Support

#if canImport(Glibc)
import Glibc
#endif

let defaultConfigPath = "/etc/aoai-canary/config.yaml"

/// `check-config`: every error with its place, exit 64; or nothing and exit 0.
func checkConfig(_ options: [String: String]) -> Int32 {
    let path = options["config"] ?? defaultConfigPath
    var variables = environmentVariables()
    var readFile: @Sendable (String) throws(FileReadError) -> String = FileIO.readText
    // Root checking the service's configuration checks it as the service will read it: as its
    // user, with the credentials its unit loads under $CREDENTIALS_DIRECTORY.
    if geteuid() == 0, path.hasPrefix("/etc/aoai-canary/"), variables["CREDENTIALS_DIRECTORY"] == nil, let service = ServiceView.installed() {
        if !service.credentials.isEmpty { variables["CREDENTIALS_DIRECTORY"] = ServiceView.credentialsDirectory }
        readFile = service.readFile
        print(
            "\(path): checking as the service reads it: as user \(service.user)"
                + (service.credentials.isEmpty ? "" : ", with the credentials its unit loads (\(service.credentials.keys.sorted().joined(separator: ", ")))"))
    }
    do {
        let config = try ConfigLoader.load(path: path, variables: variables, readFile: readFile)
        if let webPath = options["web.config.file"] {
            let web = try WebConfigLoader.load(path: webPath)
            print("\(webPath): OK (\(web.tls == nil ? "plain HTTP" : "TLS"), \(web.users.count) basic-auth user\(web.users.count == 1 ? "" : "s"))")
        }
        let warnings = ConfigLint.warnings(config)
        for warning in warnings {
            printError("\(path):\(warning.line):\(warning.column): warning: \(warning.check.rawValue): \(warning.subject): \(warning.message)")
        }
        let note = warnings.isEmpty ? "" : ", \(warnings.count) warning\(warnings.count == 1 ? "" : "s")"
        print("\(path): OK (\(config.credentials.count) credentials, \(config.resources.count) resources\(note))")
        return 0
    } catch {
        printError(error.description)
        return exitConfig
    }
}

/// `run`: the daemon.
func runDaemon(_ options: [String: String]) async -> Int32 {
    let levelWord = options["log-level"].map { $0 == "warn" ? "warning" : $0 } ?? "info"
    let logger = EventLogger(format: LogFormat(rawValue: options["log-format"] ?? "auto") ?? .auto, level: LogLevel(rawValue: levelWord) ?? .info)
    let metricsPath = options["web.telemetry-path"] ?? "/metrics"
    if let problem = StatusEndpoint.problem(withMetricsPath: metricsPath) {
        printError("Error: invalid value '\(metricsPath)' for '--web.telemetry-path': \(problem)\nUsage: \(Commands.run.usage)")
        return exitUsage
    }
    var shard: Shard?
    if let text = options["shard"] {
        // In a StatefulSet, `ordinal/COUNT`: the pod's ordinal picks its part.
        if let fromPod = Shard.fromPod(text, environment: environmentVariables()) {
            switch fromPod {
            case .success(let parsed): shard = parsed
            case .failure(let error):
                printError("Error: invalid value '\(text)' for '--shard': \(error)\nUsage: \(Commands.run.usage)")
                return exitUsage
            }
        } else {
            guard let parsed = Shard(text) else {
                printError(
                    "Error: invalid value '\(text)' for '--shard': expected INDEX/COUNT with 1 <= INDEX <= COUNT <= 1000, as in 1/3, or ordinal/COUNT "
                        + "in a StatefulSet\nUsage: \(Commands.run.usage)")
                return exitUsage
            }
            shard = parsed
        }
    }
    let path = options["config"] ?? defaultConfigPath
    let config: CanaryConfig
    do {
        config = try ConfigLoader.load(path: path, variables: environmentVariables())
    } catch {
        logger.log(
            .error, "invalid configuration, not starting: \(error.issues.count) error(s); run aoai-canary check-config --config \(path)", [("CONFIG", path)])
        printError(error.description)
        return exitConfig
    }
    var web = WebConfig()
    if let webPath = options["web.config.file"] {
        do {
            web = try WebConfigLoader.load(path: webPath)
        } catch {
            logger.log(
                .error, "invalid web configuration, not starting: \(error.issues.count) error(s); run aoai-canary check-config --web.config.file \(webPath)",
                [("WEB_CONFIG", webPath)])
            printError(error.description)
            return exitConfig
        }
    }
    let listens = values(options, "listen")
    return await serve(
        config: config, listens: listens.isEmpty ? [config.listen] : listens, web: web, logger: logger, configPath: path,
        variables: environmentVariables(), enableLifecycle: options["web.enable-lifecycle"] != nil, watchConfig: options["config.watch"] != nil, shard: shard,
        metricsPath: metricsPath)
}

/// How often `--config.watch` looks at the configuration and the files it names.
let configWatchSeconds = 2.0

/// How long a stop may take before the process exits anyway.
let stopDeadlineSeconds = 5.0

/// Runs an agent on `config` until SIGINT or SIGTERM; SIGHUP and `POST /-/reload` reload it.
/// The endpoint listens on each of `listens`. `extra` services (the demo's simulator) run and
/// stop in the same group.
func serve(
    config: CanaryConfig, listens: [String], web: WebConfig = WebConfig(), logger: EventLogger, configPath: String, variables: [String: String],
    enableLifecycle: Bool = false, watchConfig: Bool = false, shard: Shard? = nil, metricsPath: String = "/metrics", extra: [any Service] = [],
    banner: ((SocketAddress) -> Void)? = nil
) async -> Int32 {
    let supervisor = Supervisor(config: config, path: configPath, variables: variables, logger: logger, build: build, shard: shard)
    if watchConfig { supervisor.watchFiles(every: configWatchSeconds) }
    var servers: [HTTPServer] = []
    let listen = listens.joined(separator: " ")
    do {
        // Sockets from systemd (socket activation) win over the listen addresses.
        let activated = ServiceManager.listenDescriptors()
        let sockets = try activated.isEmpty ? listens.map { try ListeningSocket.bind($0) } : activated.map { try ListeningSocket(adopting: $0) }
        var reload: StatusEndpoint.Reload?
        if enableLifecycle { reload = { answer in supervisor.requestReload(answer) } }
        let endpoint = StatusEndpoint(source: supervisor.reference, version: version, reload: reload, metricsPath: metricsPath)
        let guarded = WebGuard(config: web)
        let tls = web.tls.map {
            HTTPServerTLS(
                certificateChainPEM: $0.certificateChainPEM, privateKeyPEM: $0.privateKeyPEM.exposedValue, clientCAsPEM: $0.clientCAsPEM,
                priorities: $0.priorities, clientAuth: $0.clientAuth)
        }
        for socket in sockets {
            servers.append(
                try HTTPServer(listeningSocket: socket, threading: .pool(threads: 2), limits: .metricsEndpoint, tls: tls) { request in
                    guarded.handle(request) { endpoint.handle($0) }
                })
        }
    } catch {
        for server in servers { server.stop() }
        logger.log(.error, "cannot serve metrics: \(error)", [("LISTEN", listen)])
        printError("aoai-canary: \(error)")
        supervisor.reference.current.shutdown()
        return exitUnavailable
    }
    // Signals are caught before READY=1: a reload right after start must not kill the daemon.
    let signals = SignalService(
        watcher: SignalWatcher([SIGINT, SIGTERM, SIGHUP]),
        hangup: {
            ServiceManager.notify("RELOADING=1")
            supervisor.requestReload { _ in ServiceManager.notify("READY=1") }
        },
        stopping: { number in
            logger.log(.info, "received signal \(number), stopping", [])
            ServiceManager.notify("STOPPING=1")
            // A stop is honoured within 5 s whatever is in flight (a blocked read, a hung call).
            DispatchQueue.global().asyncAfter(deadline: .now() + stopDeadlineSeconds) {
                logger.log(.warning, "still stopping after \(Int(stopDeadlineSeconds)) s: exiting now", [])
                exit(0)
            }
        })
    let notifier = ServiceNotifier(agent: supervisor.reference)
    supervisor.setHeartbeat(every: notifier.heartbeatInterval) { notifier.beat() }
    supervisor.setAfterApply { CProcess_return_free_memory() }
    let scheme = web.tls == nil ? "http" : "https"
    let access = web.users.isEmpty ? "" : " (basic auth, \(web.users.count) user\(web.users.count == 1 ? "" : "s"))"
    let probed = supervisor.reference.current.config.resources.count
    let urls = servers.map { "\(scheme)://\($0.boundAddress)\(metricsPath)" }.joined(separator: " and ")
    logger.log(
        .info,
        "aoai-canary \(version) started: \(probed) resources\(shard.map { " (shard \($0) of \(config.resources.count) listed)" } ?? ""), "
            + "\(config.credentials.count) credentials\(config.discovery.isEmpty ? "" : ", discovery on"), metrics on \(urls)\(access)",
        [("CONFIG", configPath), ("LISTEN", servers.map(\.boundAddress.description).joined(separator: " "))])
    if let notAfter = web.tls?.certificateNotAfter, notAfter < SystemClock().wallSeconds {
        logger.log(.warning, "the metrics endpoint's TLS certificate has expired: scrapers that verify it will fail", [])
    }
    if config.resources.isEmpty, config.discovery.isEmpty { logger.log(.warning, StatusView.noResourcesNotice, [("CONFIG", configPath)]) }
    if let first = servers.first { banner?(first.boundAddress) }
    ServiceManager.notify("READY=1\nSTATUS=" + (config.resources.isEmpty ? "no resources configured" : "probing \(config.resources.count) resources"))
    // One group owns everything: the schedule, the endpoint, the signals (and the demo's
    // simulator). A stop signal ends it; every part is cancelled and awaited.
    try? await ServiceGroup([supervisor] + servers.map { HTTPServerService(server: $0) } + [signals] + extra).run()
    return 0
}

/// `simulate`: the simulator alone, seeded with the demo world; with `--tls-dir` over HTTPS
/// with a fresh CA, and with `--info-file` described in a JSON document for clients.
func runSimulator(_ options: [String: String]) async -> Int32 {
    let listen = options["listen"] ?? "127.0.0.1:9726"
    guard let (host, port) = SocketAddress.parse(listen) else {
        printError("Error: invalid listen address '\(listen)': expected HOST:PORT")
        return exitUsage
    }
    var files = DemoWorld.InfoFiles()
    var tls: HTTPServerTLS?
    var clientCertificatePEM: String?
    if let directory = options["tls-dir"] {
        do {
            try FileIO.makeDirectory(directory)
            let certificates = try SimulatorCertificates()
            let absolute = directory.hasPrefix("/") ? directory : FileIO.currentDirectory() + "/" + directory
            files = DemoWorld.InfoFiles(
                caFile: absolute + "/ca.pem", clientCertificate: absolute + "/client-cert.pem",
                federatedTokenFile: absolute + "/federated-token")
            try FileIO.write(certificates.caPEM, to: absolute + "/ca.pem", mode: 0o644)
            clientCertificatePEM = certificates.client.certificatePEM + certificates.client.privateKeyPEM
            try FileIO.write(clientCertificatePEM!, to: absolute + "/client-cert.pem")
            tls = certificates.serverTLS
        } catch {
            printError("aoai-canary: cannot write the simulator's certificates to \(directory): \(error)")
            return exitUnavailable
        }
    }
    let simulator: AzureSimulator
    do {
        simulator = try AzureSimulator(host: host, port: port, tls: tls)
    } catch {
        printError("aoai-canary: cannot start the simulator on \(listen): \(error)")
        return exitUnavailable
    }
    DemoWorld.seed(simulator)
    do {
        if let pem = clientCertificatePEM { try simulator.addCertificate(clientID: DemoWorld.clientID, certificatePEM: Array(pem.utf8)) }
        if let path = files.federatedTokenFile {
            let token = simulator.makeFederatedToken(issuer: DemoWorld.federatedIssuer, subject: DemoWorld.federatedSubject, lifetimeSeconds: 86400)
            try FileIO.write(token, to: path)
        }
        if let path = options["info-file"] {
            // Written last and renamed into place, so a reader that sees it sees a serving simulator.
            try FileIO.write(DemoWorld.info(for: simulator, files: files), to: path + ".tmp")
            guard rename(path + ".tmp", path) == 0 else { throw FileReadError(errno: errno) }
        }
    } catch {
        printError("aoai-canary: cannot write the simulator's files: \(error)")
        simulator.stop()
        return exitUnavailable
    }
    print(
        """
        Azure simulator listening on \(simulator.authority)
          token endpoint:  \(simulator.authority)/\(DemoWorld.tenantID)/oauth2/v2.0/token
          client id:       \(DemoWorld.clientID)   (secret: \(DemoWorld.clientSecret), a demo value)
          api key:         \(DemoWorld.apiKey)   (a demo value)
          app service:     IDENTITY_ENDPOINT=\(simulator.authority)/msi/token IDENTITY_HEADER=\(simulator.appServiceIdentityHeader)
          resources:       \(DemoWorld.resources.map { simulator.pathEndpoint(for: $0.name) }.joined(separator: "\n                   "))
          gateway:         \(simulator.gatewayEndpoint(for: DemoWorld.gatewayName))   (API Management in front of via-gateway; subscription key: \(DemoWorld.gatewayKey), a demo value)
          state:           curl -s\(files.caFile.map { " --cacert \($0)" } ?? "") \(simulator.authority)/_simulator/state
        Press Ctrl-C to stop.
        """)
    fflush(nil)
    await runUntilSignalled([SimulatorService(simulator: simulator)])
    if let path = options["info-file"] { unlink(path) }
    return 0
}

/// `demo`: the simulator and an agent configured for it, in one process.
func runDemo(_ options: [String: String]) async -> Int32 {
    let listen = options["listen"] ?? "127.0.0.1:9725"
    let logger = EventLogger(format: LogFormat(rawValue: options["log-format"] ?? "logfmt") ?? .logfmt, level: .info)
    let simulator: AzureSimulator
    do {
        simulator = try AzureSimulator(host: "127.0.0.1", port: 0)
    } catch {
        printError("aoai-canary: cannot start the simulator: \(error)")
        return exitUnavailable
    }
    defer { simulator.stop() }
    DemoWorld.seed(simulator)

    var template = [CChar]("/tmp/aoai-canary-demo.XXXXXX".utf8CString)
    guard let directoryPointer = mkdtemp(&template) else {
        printError("aoai-canary: cannot create a temporary folder: \(String(cString: strerror(errno)))")
        return exitUnavailable
    }
    let directory = String(cString: directoryPointer)
    let configPath = directory + "/config.yaml"
    do {
        try FileIO.write(DemoWorld.clientSecret + "\n", to: directory + "/app.secret")
        try FileIO.write(DemoWorld.apiKey + "\n", to: directory + "/demo.key")
        try FileIO.write(DemoWorld.gatewayKey + "\n", to: directory + "/gateway.key")
        try FileIO.write(
            simulator.makeFederatedToken(issuer: DemoWorld.federatedIssuer, subject: DemoWorld.mismatchedSubject, lifetimeSeconds: 86400),
            to: directory + "/aks.token")
        try FileIO.write(demoConfig(simulator: simulator, listen: listen), to: configPath, mode: 0o644)
    } catch {
        printError("aoai-canary: cannot write the demo configuration in \(directory): \(error)")
        return exitUnavailable
    }
    let config: CanaryConfig
    do {
        config = try ConfigLoader.load(path: configPath, variables: [:])
    } catch {
        printError("aoai-canary: the generated demo configuration is invalid (a bug):\n\(error)")
        return 70
    }
    // The folder holds the demo's secrets: it goes when the demo stops, by Ctrl-C or SIGTERM.
    defer {
        for name in ["config.yaml", "app.secret", "demo.key", "gateway.key", "aks.token"] { unlink(directory + "/" + name) }
        rmdir(directory)
    }
    return await serve(
        config: config, listens: [listen], logger: logger, configPath: configPath, variables: [:],
        enableLifecycle: true, extra: [SimulatorService(simulator: simulator)]
    ) { address in
        let url = "http://\(address.urlHost == "0.0.0.0" ? "127.0.0.1" : address.urlHost):\(address.port)"
        print(
            """

            aoai-canary demo: the agent probes \(DemoWorld.resources.count) simulated Azure OpenAI resources every 5s, and reads
            Resource Manager's facts beside them (the roles each principal holds); discovery finds \(DemoWorld.discoveredResources.count) more.
              configuration:  \(configPath)
              simulator:      \(simulator.authority)  (state: curl -s \(simulator.authority)/_simulator/state)
              status page:    \(url)/
              metrics:        \(url)/metrics
              try:            curl -s \(url)/metrics | grep -E '^aoai_canary_(auth_divergence|probe_success|probe_failures_total)' | grep -v ' 0$'
              diagnose:       \(executablePath()) diagnose --config \(configPath)

            The resources:
            \(DemoWorld.resources.map { "  \($0.name.padding(20)) \($0.shows)" }.joined(separator: "\n"))
            \(DemoWorld.discoveredResources.map { "  \($0.padding(20)) \(DemoWorld.discoveredShows)" }.joined(separator: "\n"))

            Press Ctrl-C to stop.

            """)
        fflush(nil)
    }
}

/// The demo's configuration file, pointing at the simulator.
func demoConfig(simulator: AzureSimulator, listen: String) -> String {
    var text = """
        # Written by `aoai-canary demo` for the built-in simulator. The secrets are demo values.
        listen: "\(listen)"
        interval: 5s
        timeout: 3s
        credentials:
          app:
            type: client_secret
            tenant_id: \(DemoWorld.tenantID)
            client_id: \(DemoWorld.clientID)
            client_secret_file: app.secret
            secret_expires: 2027-03-01   # so the credential expiry panels and alerts have data
            authority: \(simulator.authority)
          app-wrong-scope:
            type: client_secret
            tenant_id: \(DemoWorld.tenantID)
            client_id: \(DemoWorld.clientID)
            client_secret_file: app.secret
            authority: \(simulator.authority)
            scope: https://management.azure.com/.default   # the mistake: a token for Azure Resource Manager
          aks:
            type: workload_identity
            tenant_id: \(DemoWorld.tenantID)
            client_id: \(DemoWorld.clientID)
            token_file: aks.token      # the mistake: its pod's namespace is not the one the federated credential trusts
            authority: \(simulator.authority)
        # Entra ID's directory behind the credentials: the secret's expiry, and what the workload
        # identity's federated credential expects.
        directory:
          credential: app
          endpoint: \(simulator.authority)
        # Resource Manager's facts behind the verdicts: the roles the principal holds, and accounts
        # found instead of listed.
        control_plane:
          credential: app
          endpoint: \(simulator.authority)
        discovery:
          - subscription: \(SimulatedResource.defaultSubscription)
            resource_group: \(DemoWorld.discoveredResourceGroup)
            tags: {canary: "on"}
            credential: app
            api_key: list_keys
            probe: models
        resources:

        """
    for resource in DemoWorld.resources {
        if let gateway = resource.gateway {
            // Behind API Management: the key canary sends the gateway's subscription key.
            text += """
                  - name: \(resource.name)
                    endpoint: \(simulator.gatewayEndpoint(for: gateway))
                    deployment: \(resource.deployment)
                    credential: \(resource.credential)
                    gateway:
                      subscription_key_file: gateway.key

                """
            continue
        }
        text += """
              - name: \(resource.name)
                endpoint: \(simulator.endpoint(for: resource.name))
                deployment: \(resource.deployment)
                api_key_file: demo.key
                credential: \(resource.credential)
                arm_id: \(DemoWorld.armID(of: resource.name))

            """
        if let version = resource.apiVersion { text += "    api_version: \(version)\n" }
    }
    return text
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// `bench-target`: answers every request like a healthy data plane, and nothing else, so that
/// `make bench` measures the probers and not the simulator.
func runBenchTarget(_ listen: String) async -> Int32 {
    let body =
        #"{"id":"chatcmpl-bench","object":"chat.completion","created":1800000000,"model":"gpt-4o-mini","#
        + #""choices":[{"index":0,"message":{"role":"assistant","content":"pong"},"finish_reason":"length"}],"#
        + #""usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#
    let server: HTTPServer
    do {
        server = try HTTPServer(
            listeningSocket: try ListeningSocket.bind(listen), threading: .pool(threads: 2),
            limits: HTTPServerLimits(connectionLimit: 4096, connectionTimeoutSeconds: 30)
        ) { _ in
            HTTPResponse(status: 200, contentType: "application/json", body: body)
        }
    } catch {
        printError("aoai-canary: \(error)")
        return exitUnavailable
    }
    print("bench target on http://\(server.boundAddress)/")
    fflush(nil)
    await runUntilSignalled([HTTPServerService(server: server)])
    return 0
}

/// This binary's absolute path (what a command to copy should name), from /proc/self/exe, or
/// the name it was started with when that cannot be read.
func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return CommandLine.arguments.first ?? "aoai-canary" }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
