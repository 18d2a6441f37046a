// The metrics endpoint's door: basic auth from `--web.config.file`, checked before any route runs
// (client certificates are the HTTP server's, checked before this).
import Crypto
import FoundationEssentials
import HTTPServer
import Synchronization

/// Decides whether a request may reach the endpoint by its basic-auth credentials. Runs on the
/// HTTP server's threads.
public final class WebGuard: Sendable {
    public let config: WebConfig
    /// Digests of user, password and hash that bcrypt already accepted: a scrape every few seconds
    /// must not cost a bcrypt each (about 50 ms at cost 10).
    private let accepted = Mutex<Set<[UInt8]>>([])
    /// One bcrypt at a time: wrong passwords sent in a flood keep one of the server's two threads
    /// busy at most, and the other still answers scrapers whose password is already accepted.
    private let hashing = Mutex<Void>(())
    private static let acceptedLimit = 64
    /// Checked for unknown users, so that a wrong name takes as long as a wrong password: one of
    /// the configured hashes, so it has their cost (the user check below still refuses it).
    private let decoyHash: String

    public init(config: WebConfig) {
        self.config = config
        self.decoyHash = config.users.keys.sorted().first.flatMap { config.users[$0] } ?? ""
    }

    /// nil lets the request through; otherwise the answer to send instead.
    public func check(_ request: HTTPRequest) -> HTTPResponse? {
        guard !config.users.isEmpty else { return nil }
        guard let (user, password) = Self.basicCredentials(request.header("Authorization")) else { return Self.challenge }
        let digest = Digest.sha256(Array("\(user)\u{0}".utf8) + password + Array("\u{0}\(config.users[user] ?? "")".utf8))
        if accepted.withLock({ $0.contains(digest) }) { return nil }
        // A busy hasher answers at once rather than queueing.
        let verdict: PasswordHash.Verdict? = hashing.withLockIfAvailable { _ in
            PasswordHash.check(password: password, against: config.users[user] ?? decoyHash)
        }
        guard let verdict else {
            return HTTPResponse(status: 429, contentType: "text/plain; charset=utf-8", body: "busy checking another password; retry\n", headers: [("Retry-After", "1")])
        }
        guard verdict == .matches, config.users[user] != nil else { return Self.challenge }
        accepted.withLock { set in
            if set.count >= Self.acceptedLimit { set.removeAll() }
            set.insert(digest)
        }
        return nil
    }

    private static let challenge = HTTPResponse(status: 401, contentType: "text/plain; charset=utf-8", body: "Unauthorized\n", headers: [("WWW-Authenticate", "Basic")])

    /// The user and password of an `Authorization: Basic` header; the password as the bytes
    /// sent, so that nothing is altered before it is hashed.
    package static func basicCredentials(_ header: String?) -> (String, [UInt8])? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic", parts[1].utf8.count <= 4096,
              let decoded = Data(base64Encoded: String(parts[1])) else { return nil }
        let bytes = Array(decoded)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return (String(decoding: bytes[..<colon], as: UTF8.self), Array(bytes[(colon + 1)...]))
    }
}
