// The client credentials flow with a client secret.
import HTTPClient

/// Gets tokens for an app registration with its client id and secret.
public struct ClientSecretSource: TokenSource {
    public let settings: ClientSecretSettings

    public init(settings: ClientSecretSettings) {
        self.settings = settings
    }

    public func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        try await EntraTokenEndpoint(authority: settings.authority, tenantID: settings.tenantID).requestToken(
            clientID: settings.clientID, scope: settings.scope,
            credential: [("client_secret", settings.secret.exposedValue)], source: "client_secret", context: context)
    }

    public func credentialExpiries() -> [CredentialExpiry] {
        settings.secretExpires.map { [CredentialExpiry(kind: "client_secret", timestamp: $0)] } ?? []
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
