// Password hashes as libcrypt knows them ($2b$/$2y$/$2a$ bcrypt among others), for basic auth.
import CCrypt

/// Checks passwords against crypt(3) hashes with libcrypt's `crypt_r`.
public enum PasswordHash {
    /// What a check found.
    public enum Verdict: Sendable, Equatable {
        case matches
        case doesNotMatch
        /// libcrypt cannot use the hash: an unknown method or a malformed string.
        case unusableHash
    }

    /// Hashes `password` with the method and salt in `hash` and compares in constant time.
    public static func check(password: String, against hash: String) -> Verdict {
        check(password: Array(password.utf8), against: hash)
    }

    /// The same for a password as the client sent its bytes; one with a NUL byte never matches
    /// (crypt would stop there and accept what came before it).
    public static func check(password: [UInt8], against hash: String) -> Verdict {
        guard !password.contains(0) else { return .doesNotMatch }
        let verdict = (password + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { CCrypt_matches($0.baseAddress, hash) }
        }
        switch verdict {
        case 1: return .matches
        case 0: return .doesNotMatch
        default: return .unusableHash
        }
    }

    /// True for the bcrypt forms the Prometheus exporter-toolkit accepts.
    public static func isBcrypt(_ hash: String) -> Bool {
        hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$")
    }
}
