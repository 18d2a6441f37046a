// aoai-canary(1) in roff, rendered from the same command specs as --help (`aoai-canary manpage`).

/// The manual page; `make deb` installs it as aoai-canary.1.gz.
func manPage(date: String) -> String {
    func roff(_ text: String) -> String {
        // Backslashes and leading dots or quotes would be read as roff requests.
        var escaped = text.replacing("\\", with: "\\e")
        escaped = escaped.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") || $0.hasPrefix("'") ? "\\&" + $0 : String($0) }.joined(separator: "\n")
        return escaped.replacing("-", with: "\\-")
    }
    let description =
        "aoai-canary tells a platform team, before their users do, when Microsoft Entra ID (keyless) authentication to "
        + "their Azure OpenAI resources breaks, and why. For every configured resource it runs paired canary calls, one "
        + "with the API key and one with an Entra ID token it acquires itself, names every failure with a reason, tracks "
        + "token expiry, serves Prometheus metrics and a status page, and writes structured logs to journald."
    var page = """
        .TH AOAI-CANARY 1 "\(date)" "aoai-canary \(version)" "User Commands"
        .SH NAME
        aoai-canary \\- Azure OpenAI authentication canary: paired API key and Entra ID probes
        .SH SYNOPSIS
        .B aoai-canary
        .I subcommand
        .RI [ options ]
        .SH DESCRIPTION
        \(roff(description))
        .SH SUBCOMMANDS

        """
    for command in Commands.all {
        page += ".SS \(roff(command.usage))\n\(roff(command.abstract))\n"
        if !command.discussion.isEmpty { page += ".PP\n\(roff(command.discussion))\n" }
        for option in command.options {
            let name = option.spellings.map { "\\-\\-" + roff($0) }.joined(separator: ", ") + (option.valueName.map { " \\fI" + roff($0) + "\\fR" } ?? "")
            page += ".TP\n.B \(name)\n\(roff(option.help))\n"
        }
        page += ".TP\n.B \\-h, \\-\\-help\nShow help information.\n"
    }
    page += """
        .SH FILES
        .TP
        .I /etc/aoai-canary/config.yaml
        The configuration (check it with \\fBaoai\\-canary check\\-config\\fR; run by root, it checks the
        files as the service will read them).
        .TP
        .I /etc/aoai-canary/secrets/
        Secret files (mode 0640, group aoai\\-canary), or use systemd's LoadCredential=.
        .TP
        .I /etc/default/aoai-canary
        Extra arguments for the service: ARGS (AOAI_CANARY_ARGS, its older name, is read too).
        .TP
        .I /usr/share/aoai-canary/
        Prometheus alerting rules, an Alertmanager configuration and a Grafana dashboard.
        .SH SIGNALS
        .TP
        .B SIGHUP
        \\fBrun\\fR re-reads the configuration; a bad file is refused and logged, and the previous
        configuration keeps running (see aoai_canary_config_last_reload_successful).
        .TP
        .B SIGTERM, SIGINT
        \\fBrun\\fR stops, cancelling probes in flight, within 5 seconds; \\fBdemo\\fR removes its
        temporary folder.
        .SH ENVIRONMENT
        .TP
        .B CREDENTIALS_DIRECTORY
        Set by systemd for LoadCredential=; relative secret paths in the configuration resolve
        against it (otherwise against the configuration's folder).
        .TP
        .B NOTIFY_SOCKET, WATCHDOG_USEC, LISTEN_FDS, LISTEN_PID, JOURNAL_STREAM
        Set by systemd: readiness and watchdog notifications, socket activation, and logging to the
        journal when \\-\\-log\\-format is auto.
        .TP
        .B AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST
        Read by the default and workload_identity credential types, as Azure's SDKs read them.
        .TP
        .B IDENTITY_ENDPOINT, IDENTITY_HEADER, IMDS_ENDPOINT
        The managed identity endpoint of App Service, Functions, Container Apps and Arc, when set.
        .TP
        .B any variable named by a *_env key
        A secret from the environment (api_key_env, client_secret_env).
        .SH EXIT STATUS
        .TP
        .B 0
        Success; \\fBrun\\fR stopped by a signal.
        .TP
        .B 1
        \\fBdiagnose\\fR found a resource whose Entra ID call fails; \\fBtoken\\fR got no token.
        .TP
        .B 64
        A usage error, or an invalid configuration (the unit's RestartPreventExitStatus=64 keeps
        systemd from restarting it).
        .TP
        .B 69
        The listener cannot be bound.
        .SH SEE ALSO
        .BR journalctl (1),
        .BR systemd.exec (5),
        /usr/share/doc/aoai\\-canary/README.md and the reference in
        /usr/share/doc/aoai\\-canary/docs/

        """
    return page
}
