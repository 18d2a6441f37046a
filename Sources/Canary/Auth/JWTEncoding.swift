// base64url and JSON helpers for building the JWTs the canary signs (client assertions).
import FoundationEssentials
import JSON

enum JWTEncoding {
    /// base64url without padding.
    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences("+", "-").replacingOccurrences("/", "_").filter { $0 != "=" }
    }

    /// A compact JSON object from ordered members (strings and numbers only).
    static func object(_ members: [(String, JSONValue)]) -> [UInt8] {
        Array(JSONValue.object(members).rendered.utf8)
    }
}

/// A random UUID string, for `jti`.
func randomUUID() -> String {
    UUID().uuidString.lowercased()
}
