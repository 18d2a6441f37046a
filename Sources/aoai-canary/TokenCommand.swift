// `aoai-canary token`: one acquisition, printed as "who is this token for".
import Auth
import Config
import HTTPClient
import Log
import Support

/// Acquires one token for `--credential` and prints its identity; the token only with `--show-token`.
func printToken(_ options: [String: String]) async -> Int32 {
    let path = options["config"] ?? defaultConfigPath
    guard let name = options["credential"] else {
        printError("Error: missing '--credential <name>'\nUsage: \(Commands.token.usage)\n  See 'aoai-canary token --help'.")
        return exitUsage
    }
    let config: CanaryConfig
    do {
        config = try ConfigLoader.load(path: path, variables: environmentVariables())
    } catch {
        printError(error.description)
        return exitConfig
    }
    guard let credential = config.credential(named: name) else {
        let known = config.credentials.map(\.name)
        printError("Error: no credential \"\(name)\" in \(path)" + (known.isEmpty ? " (it defines none)" : " (defined: \(known.joined(separator: ", ")))"))
        return exitUsage
    }
    let client = HTTPClient()
    defer { client.shutdown() }
    let clock = SystemClock()
    let source = TokenSourceFactory.make(credential.settings)
    let token: CachedToken
    do {
        token = try await source.acquireToken(AcquisitionContext(client: client, clock: clock, timeoutSeconds: config.timeout.seconds))
    } catch {
        printError(
            "aoai-canary: \(name): no token: \(error)\n  reason: \(RefreshFailureReason(error).rawValue)" + (error.aadsts.map { " (AADSTS\($0))" } ?? ""))
        return 1
    }
    var lines = describe(token, credential: credential, now: clock.wallSeconds, expiries: source.credentialExpiries())
    lines.append(("token", options["show-token"] != nil ? token.accessToken.exposedValue : "(not shown; add --show-token to print it)"))
    print(render(lines), terminator: "")
    return 0
}

/// The report's lines: label and value.
func describe(_ token: CachedToken, credential: CredentialConfig, now: Double, expiries: [CredentialExpiry]) -> [(String, String)] {
    let claims = token.claims
    func time(_ value: Double?) -> String {
        guard let value else { return "(not in the token)" }
        let delta = (value - now).rounded().clampedInt
        let relative = delta >= 0 ? "in \(PromDuration.format(.seconds(delta)))" : "\(PromDuration.format(.seconds(-delta))) ago"
        return "\(Timestamp.iso8601(wallSeconds: value)) (\(relative))"
    }
    var lines: [(String, String)] = [
        ("credential", credential.name),
        ("type", credential.settings.typeName),
        ("source", token.source),
        ("tenant", claims?.tenantID ?? "(not in the token)"),
        ("object id", claims?.objectID ?? "(not in the token)"),
        ("app id", claims?.appID ?? "(not in the token)"),
        ("audience", claims?.audience ?? "(not in the token)"),
        ("scope", credential.settings.scope),
        ("issued", time(claims?.issuedAt)),
        ("expires", time(token.expiresOn)),
        ("refresh at", time(token.refreshAt)),
        ("version", claims?.version ?? "(not in the token)"),
        ("roles", claims.map { $0.roles.isEmpty ? "(none)" : $0.roles.joined(separator: ", ") } ?? "(not in the token)"),
    ]
    if let mirid = claims?.managedIdentityResourceID { lines.append(("identity", mirid)) }
    for expiry in expiries { lines.append(("\(expiry.kind.replacingUnderscores) expires", time(expiry.timestamp))) }
    return lines
}

/// `label: value` lines with the values aligned.
func render(_ lines: [(String, String)]) -> String {
    let width = (lines.map(\.0.count).max() ?? 0) + 2
    return lines.map { "\(($0.0 + ":").padding(width))\($0.1)\n" }.joined()
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
