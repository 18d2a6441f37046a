// The client credentials flow with a client secret, against Entra ID's v2.0 token endpoint.
import HTTPClient

/// Gets tokens for an app registration with its client id and secret.
public struct ClientSecretSource: TokenSource {
    public let settings: ClientSecretSettings

    public init(settings: ClientSecretSettings) {
        self.settings = settings
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    public var tokenURL: String {
        "\(settings.authority)/\(formEncode(settings.tenantID))/oauth2/v2.0/token"
    }

    public func acquireToken(client: HTTPClient, timeoutSeconds: Double, now: Double) async throws(TokenAcquisitionError) -> CachedToken {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", settings.clientID),
            ("client_secret", settings.secret.exposedValue),
            ("scope", settings.scope),
        ].map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&")
        let request = HTTPClientRequest(
            method: "POST", url: tokenURL,
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Array(form.utf8), timeoutSeconds: timeoutSeconds)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request)
        } catch {
            throw .transport(error)
        }
        return try TokenResponse.parse(status: response.status, body: response.body, now: now)
    }
}

/// Percent-encodes for `application/x-www-form-urlencoded` and URL path segments.
func formEncode(_ value: String) -> String {
    var result = ""
    for byte in value.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            result.append(Character(UnicodeScalar(byte)))
        default:
            result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return result
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
