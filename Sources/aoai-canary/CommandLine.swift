// The command line: subcommands, their options and help text, declared once and parsed by hand.

/// One option of a subcommand.
struct OptionSpec: Sendable {
    var name: String
    /// nil for a flag without a value.
    var valueName: String?
    var help: String
    /// Allowed values, checked by the parser.
    var choices: [String] = []
    /// Other spellings of the option, such as the dotted names Prometheus exporters use
    /// (`--config.file` for `--config`); the value is stored under `name`.
    var aliases: [String] = []
    /// May be given more than once; the values are kept in order (see `values(_:_:)`).
    var repeatable = false

    /// Every spelling, the canonical one first, as `--help` and the man page show them.
    var spellings: [String] { [name] + aliases }
}

/// One subcommand: its name, what it does, and its options.
struct CommandSpec: Sendable {
    var name: String
    var abstract: String
    var discussion: String
    var options: [OptionSpec]

    var usage: String {
        let parts = options.map { option in
            option.valueName.map { "[--\(option.name) \($0)]" } ?? "[--\(option.name)]"  // aliases in the OPTIONS list only
        }
        return (["aoai-canary", name] + parts).joined(separator: " ")
    }

    var help: String {
        var text = "OVERVIEW: \(abstract)\n\n"
        if !discussion.isEmpty { text += "\(discussion)\n\n" }
        text += "USAGE: \(usage)\n\nOPTIONS:\n"
        let rows =
            options.map { option in
                (option.spellings.map { "--" + $0 }.joined(separator: ", ") + (option.valueName.map { " <\($0)>" } ?? ""), option.help)
            } + [("-h, --help", "Show help information.")]
        let width = rows.map(\.0.count).max() ?? 0
        for (left, right) in rows {
            text += "  \(left)\(String(repeating: " ", count: width - left.count + 2))\(right)\n"
        }
        return text
    }
}

/// The program's commands, in the order `--help` lists them.
enum Commands {
    static let logFormats = ["auto", "journal", "logfmt", "json"]
    /// `warn` is the exporter toolkit's spelling (`--log.level=warn`), `warning` the journal's.
    static let logLevels = ["debug", "info", "warn", "warning", "error"]

    static let run = CommandSpec(
        name: "run",
        abstract: "Run the canary daemon: paired API key and Entra ID probes, metrics on HTTP.",
        discussion: "Probes every configured resource on its interval, serves /metrics, /-/healthy and /-/ready, and logs each change of outcome.",
        options: [
            configFile,
            OptionSpec(
                name: "listen", valueName: "host:port",
                help: "Overrides the configuration's listen address; given more than once, the endpoint listens on each.",
                aliases: ["web.listen-address"], repeatable: true),
            OptionSpec(
                name: "web.telemetry-path", valueName: "path", help: "The path under which the metrics are served. (default: /metrics)"),
            webConfigFile,
            OptionSpec(
                name: "shard", valueName: "INDEX/COUNT",
                help:
                    "Probe only this shard's resources (1/3, 2/3, 3/3): those whose arm_id (or name) hashes to INDEX of COUNT, so that several agents share a "
                    + "large estate. In a StatefulSet, ordinal/COUNT takes INDEX from the pod: its ordinal (POD_INDEX, or the -N ending its host name) plus one."
            ),
            OptionSpec(
                name: "config.watch", valueName: nil,
                help:
                    "Reload on its own when the configuration file or a file it names (a secret, a CA bundle) changes, looked at every 2 s: a Kubernetes "
                    + "ConfigMap or Secret swapped under its mount. Off by default; SIGHUP reloads either way."),
            OptionSpec(
                name: "web.enable-lifecycle", valueName: nil,
                help: "Turn on POST /-/reload (from this host only), as Prometheus's flag of that name does. Off by default."),
            OptionSpec(
                name: "log-format", valueName: "format",
                help: "auto, journal, logfmt or json; auto writes to journald when stderr is the journal. (default: auto)", choices: logFormats,
                aliases: ["log.format"]),
            OptionSpec(
                name: "log-level", valueName: "level", help: "debug, info, warn (or warning) or error. (default: info)", choices: logLevels,
                aliases: ["log.level"]),
        ])

    static let checkConfig = CommandSpec(
        name: "check-config",
        abstract: "Validate a configuration file.",
        discussion:
            "Exits 0 when the file (and the web configuration, when given) is valid; otherwise prints every error as PATH:LINE:COLUMN: message and exits 64. "
            + "Warnings (a regional endpoint with an Entra ID canary, extra path segments, http:// to a remote host, a scope for another cloud) are "
            + "printed as PATH:LINE:COLUMN: warning: ... and do not fail the check.",
        options: [configFile, webConfigFile])

    static let configFile = OptionSpec(
        name: "config", valueName: "path", help: "The configuration file. (default: \(defaultConfigPath))", aliases: ["config.file"])

    static let webConfigFile = OptionSpec(
        name: "web.config.file", valueName: "path",
        help: "TLS and basic auth for the metrics endpoint, in the Prometheus exporter-toolkit's web configuration format.")

    static let simulate = CommandSpec(
        name: "simulate",
        abstract: "Run the built-in Azure simulator alone (Entra ID token endpoint and Azure OpenAI data plane).",
        discussion:
            "Seeds the same simulated tenant, application and resources as demo and serves them until interrupted; change scenarios through its /_simulator/ "
            + "admin API. Each resource answers at its own path endpoint (https://127.0.0.1:PORT/resources/NAME/) as well as at NAME.openai.localhost, so "
            + "stock clients reach it with no resolver help.",
        options: [
            OptionSpec(name: "listen", valueName: "host:port", help: "Where the simulator listens; port 0 picks a free one. (default: 127.0.0.1:9726)"),
            OptionSpec(
                name: "tls-dir", valueName: "dir",
                help:
                    "Serve HTTPS with a certificate from a fresh CA written to DIR/ca.pem; also writes DIR/client-cert.pem (the demo application's "
                    + "certificate credential) and DIR/federated-token (a workload identity token it trusts)."
            ),
            OptionSpec(
                name: "info-file", valueName: "path",
                help:
                    "Write a JSON document with the authority, tenant, application, resources, managed identity and CA file, once the simulator serves; "
                    + "removed on exit."
            ),
        ])

    static let demo = CommandSpec(
        name: "demo",
        abstract: "Run the canary against the built-in simulator, with one resource per interesting behaviour.",
        discussion:
            "Starts the simulator, writes a configuration for it to a temporary folder, and runs the agent on a short interval until interrupted (Ctrl-C).",
        options: [
            OptionSpec(name: "listen", valueName: "host:port", help: "Where the agent's metrics endpoint listens. (default: 127.0.0.1:9725)"),
            OptionSpec(name: "log-format", valueName: "format", help: "auto, journal, logfmt or json. (default: logfmt)", choices: logFormats),
        ])

    static let token = CommandSpec(
        name: "token",
        abstract: "Acquire one token the way the daemon would and show who it is for.",
        discussion:
            "Prints the source, tenant, object id, app id, audience, scope asked for, issue and expiry times, version and roles of the token. The token "
            + "itself is printed only with --show-token. Exits 0 with a token, 1 without.",
        options: [
            configFile,
            OptionSpec(name: "credential", valueName: "name", help: "The credential to use (a name under credentials:). Required."),
            OptionSpec(name: "show-token", valueName: nil, help: "Also print the raw access token (a secret: keep it out of logs and tickets)."),
        ])

    static let diagnose = CommandSpec(
        name: "diagnose",
        abstract: "Walk the Entra ID troubleshooting steps once for each resource and print a checklist.",
        discussion:
            "For each resource: 1. the scope asked for and the token's audience; 2. the endpoint's form; 3. the principal and whether the service grants it "
            + "the data action (with the role assignment to make); 4. the token's version, times and clock skew; 5. the same call with the key, and with "
            + "an Azure CLI token when az is on PATH. Exits 0 when every resource's Entra ID call works, 1 otherwise.",
        options: [
            configFile,
            OptionSpec(name: "resource", valueName: "name", help: "Only this resource."),
            OptionSpec(name: "format", valueName: "format", help: "text or json. (default: text)", choices: ["text", "json"]),
        ])

    static let version = CommandSpec(name: "version", abstract: "Print the version.", discussion: "", options: [])

    static let all = [run, checkConfig, token, diagnose, simulate, demo, version]

    static var topLevelHelp: String {
        var text = "OVERVIEW: aoai-canary: tells you when Entra ID (keyless) auth to Azure OpenAI breaks, and why.\n\n"
        text += "USAGE: aoai-canary <subcommand> [options]\n\nOPTIONS:\n  --version   Show the version.\n  -h, --help  Show help information.\n\nSUBCOMMANDS:\n"
        let width = all.map(\.name.count).max() ?? 0
        for command in all {
            text += "  \(command.name)\(String(repeating: " ", count: width - command.name.count + 2))\(command.abstract)\n"
        }
        text += "\n  See 'aoai-canary help <subcommand>' for detailed help.\n"
        return text
    }
}

/// A usage error: printed with the usage line, exit status 64.
struct UsageError: Error {
    var message: String
    var command: CommandSpec?
}

/// What the user asked for.
enum Invocation {
    case help(String)
    case version
    /// The hidden `manpage [DATE]` command that packaging uses.
    case manPage(String)
    /// The hidden `bench-target HOST:PORT` command: a neutral data plane for `make bench`.
    case benchTarget(String)
    case command(CommandSpec, [String: String])
}

/// Parses `arguments` (without the program name).
func parseArguments(_ arguments: [String]) throws(UsageError) -> Invocation {
    guard let first = arguments.first else { return .help(Commands.topLevelHelp) }
    switch first {
    case "-h", "--help":
        return .help(Commands.topLevelHelp)
    case "--version":
        return .version
    case "manpage":
        return .manPage(arguments.count > 1 ? arguments[1] : "2026-11-25")
    case "bench-target":
        return .benchTarget(arguments.count > 1 ? arguments[1] : "127.0.0.1:9727")
    case "help":
        guard arguments.count > 1 else { return .help(Commands.topLevelHelp) }
        guard let command = Commands.all.first(where: { $0.name == arguments[1] }) else {
            throw UsageError(message: "unknown subcommand '\(arguments[1])'")
        }
        return .help(command.help)
    default:
        break
    }
    guard let command = Commands.all.first(where: { $0.name == first }) else {
        throw UsageError(message: first.hasPrefix("-") ? "unknown option '\(first)'" : "unknown subcommand '\(first)'")
    }
    var values: [String: String] = [:]
    var index = 1
    while index < arguments.count {
        let argument = arguments[index]
        index += 1
        if argument == "-h" || argument == "--help" { return .help(command.help) }
        guard argument.hasPrefix("--") else {
            throw UsageError(message: "unexpected argument '\(argument)'", command: command)
        }
        var name = String(argument.dropFirst(2))
        var inlineValue: String?
        if let equals = name.firstIndex(of: "=") {
            inlineValue = String(name[name.index(after: equals)...])
            name = String(name[..<equals])
        }
        guard let option = command.options.first(where: { $0.spellings.contains(name) }) else {
            throw UsageError(message: "unknown option '--\(name)'", command: command)
        }
        let spelled = name
        name = option.name
        guard option.valueName != nil else {
            if inlineValue != nil { throw UsageError(message: "option '--\(spelled)' takes no value", command: command) }
            if values[name] != nil { throw UsageError(message: "option '--\(spelled)' given twice", command: command) }
            values[name] = "true"
            continue
        }
        let value: String
        if let inlineValue {
            value = inlineValue
        } else {
            guard index < arguments.count else { throw UsageError(message: "missing value for '--\(spelled) <\(option.valueName!)>'", command: command) }
            value = arguments[index]
            index += 1
        }
        if !option.choices.isEmpty, !option.choices.contains(value) {
            throw UsageError(
                message: "invalid value '\(value)' for '--\(spelled)': expected one of \(option.choices.joined(separator: ", "))", command: command)
        }
        if option.repeatable {
            // Kept one per line: a value with a line break of its own cannot be told apart.
            guard !value.contains("\n") else { throw UsageError(message: "invalid value for '--\(spelled)': a line break", command: command) }
            values[name] = values[name].map { $0 + "\n" + value } ?? value
            continue
        }
        if values[name] != nil { throw UsageError(message: "option '--\(spelled)' given twice (or with another of its spellings)", command: command) }
        values[name] = value
    }
    return .command(command, values)
}

/// Every value a repeatable option was given, in order; empty when it was not given.
func values(_ options: [String: String], _ name: String) -> [String] {
    options[name].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
}
