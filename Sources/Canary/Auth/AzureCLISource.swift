// Tokens from the Azure CLI's logged-in account: `az account get-access-token`.
import Config
import JSON
import Posix
import Support

/// Runs `az account get-access-token --output json --resource R [--tenant T]`.
public struct AzureCLISource: TokenSource {
    public let settings: AzureCLISettings

    public init(settings: AzureCLISettings) {
        self.settings = settings
    }

    var arguments: [String] {
        var arguments = ["account", "get-access-token", "--output", "json", "--resource", resourceFromScope(settings.scope)]
        if let tenant = settings.tenantID { arguments += ["--tenant", tenant] }
        return arguments
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        let now = context.clock.wallSeconds
        let result: SubprocessResult
        switch await Subprocess.run(settings.azPath, arguments, timeoutSeconds: settings.timeoutSeconds) {
        case .success(let value): result = value
        case .failure(.cancelled): throw .transport(.cancelled)
        case .failure(let error): throw .cliFailed("\(settings.azPath): \(error)")
        }
        guard result.status == 0 else {
            let message = firstLines(result.stderr)
            if result.stderr.contains("az login") { throw .cliNotLoggedIn(Redaction.clean(message)) }
            throw .cliFailed("exit status \(result.status): \(Redaction.clean(message))")
        }
        return try Self.parse(result.stdout, now: now)
    }

    /// Reads `accessToken` and `expires_on` (epoch seconds, preferred) or `expiresOn` (local time).
    public static func parse(_ output: String, now: Double) throws(TokenAcquisitionError) -> CachedToken {
        guard let json = JSONValue.parse(Array(output.utf8)), let token = json["accessToken"]?.stringValue, !token.isEmpty else {
            throw .cliFailed("az printed no accessToken")
        }
        let expiresOn: Double
        if let epoch = json["expires_on"]?.numberValue {
            expiresOn = epoch
        } else if let local = json["expiresOn"]?.stringValue, let parsed = parseLocalTime(local) {
            expiresOn = parsed
        } else {
            throw .cliFailed("az printed no expires_on or expiresOn")
        }
        guard expiresOn > now else { throw .cliFailed("az gave a token that has already expired") }
        guard expiresOn - now <= TokenResponse.longestLifetime else { throw .cliFailed("az gave a token that claims to live more than two days") }
        return CachedToken(
            accessToken: Secret(token), expiresOn: expiresOn, refreshOn: nil, acquiredAt: now,
            claims: try? TokenClaims.decode(jwt: token), source: "azure_cli")
    }

    /// `2026-11-25 13:00:00.000000` in the host's local time zone; nil when any field is out of range.
    static func parseLocalTime(_ text: String) -> Double? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == ":" || $0 == "T" })
        guard parts.count >= 6, let year = Int(parts[0]), (1970...9999).contains(year),
            let month = Int(parts[1]), (1...12).contains(month), let day = Int(parts[2]), (1...31).contains(day),
            let hour = Int(parts[3]), (0...23).contains(hour), let minute = Int(parts[4]), (0...59).contains(minute),
            let second = Double(parts[5]), second >= 0, second < 61
        else { return nil }
        let time = CalendarTime(year: year, month: month, day: day, hour: hour, minute: minute, second: Int(second))
        return System.unixTime(local: time).map(Double.init)
    }

    private func firstLines(_ text: String) -> String {
        String(text.split(separator: "\n").prefix(3).joined(separator: " ").prefix(400))
    }
}
