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
    var page = """
    .TH AOAI-CANARY 1 "\(date)" "aoai-canary \(version)" "User Commands"
    .SH NAME
    aoai-canary \\- Azure OpenAI authentication canary: paired API key and Entra ID probes
    .SH SYNOPSIS
    .B aoai-canary
    .I subcommand
    .RI [ options ]
    .SH DESCRIPTION
    \(roff("aoai-canary tells a platform team, before their users do, when Microsoft Entra ID (keyless) authentication to their Azure OpenAI resources breaks, and why. For every configured resource it runs paired canary calls, one with the API key and one with an Entra ID token it acquires itself, names every failure with a reason, tracks token expiry, serves Prometheus metrics and a status page, and writes structured logs to journald."))
    .SH SUBCOMMANDS

    """
    for command in Commands.all {
        page += ".SS \(roff(command.usage))\n\(roff(command.abstract))\n"
        if !command.discussion.isEmpty { page += ".PP\n\(roff(command.discussion))\n" }
        for option in command.options {
            let name = "\\-\\-" + roff(option.name) + (option.valueName.map { " \\fI" + roff($0) + "\\fR" } ?? "")
            page += ".TP\n.B \(name)\n\(roff(option.help))\n"
        }
        page += ".TP\n.B \\-h, \\-\\-help\nShow help information.\n"
    }
    page += """
    .SH FILES
    .TP
    .I /etc/aoai-canary/config.yaml
    The configuration (check it with \\fBaoai\\-canary check\\-config\\fR).
    .TP
    .I /etc/aoai-canary/secrets/
    Secret files (mode 0640, group aoai\\-canary), or use systemd's LoadCredential=.
    .TP
    .I /etc/default/aoai-canary
    Extra arguments for the service (AOAI_CANARY_ARGS).
    .SH EXIT STATUS
    0 on success; 1 when \\fBdiagnose\\fR finds a failing resource or \\fBtoken\\fR gets no token; 64 for usage errors and invalid configurations; 69 when the listener cannot be bound.
    .SH SEE ALSO
    .BR journalctl (1),
    .BR systemd.exec (5),
    /usr/share/doc/aoai\\-canary/README.md

    """
    return page
}
