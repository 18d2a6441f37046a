// A secret value that never prints itself.
import Support

/// An API key, client secret or token. Its descriptions are redacted so that no log line,
/// error or interpolation can show it; code that must send it reads `exposedValue`.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The value itself: only for building a request.
    public let exposedValue: String

    /// Every secret is remembered by `Redaction`, so that an upstream echoing it back cannot
    /// get it republished.
    public init(_ value: String) {
        self.exposedValue = value
        Redaction.remember(value)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// Where a secret comes from: named in errors instead of the value.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    /// A file, already resolved to an absolute path.
    case file(String)
    /// An environment variable.
    case environment(String)

    public var description: String {
        switch self {
        case .file(let path): return "file \(path)"
        case .environment(let name): return "environment variable \(name)"
        }
    }
}
