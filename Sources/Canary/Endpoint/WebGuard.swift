// The metrics endpoint's door: basic auth from `--web.config.file`, checked before any route runs
// (client certificates are the HTTP server's, checked before this).
import Config
import Crypto
import Dispatch
import FoundationEssentials
import HTTPServer
import Support
import Synchronization

/// Decides whether a request may reach the endpoint by its basic-auth credentials. Runs on the
/// HTTP server's threads; bcrypt runs on a queue of its own, one check at a time.
///
/// Two rules keep a flood of wrong passwords from hurting the scraper: a check waits its turn
/// in order (its connection parked, no server thread held) rather than being refused while
/// another runs, so a new scraper with the right password is answered after at most
/// `maxWaiting` checks; and a wrong password already tried is refused at once, without bcrypt.
/// Every check takes as long as one against the most expensive configured hash, so a user with
/// a cheaper hash cannot be told apart from an unknown one by timing.
public final class WebGuard: Sendable {
    public let config: WebConfig
    /// Digests of user, password and hash that bcrypt already accepted: a scrape every few seconds
    /// must not cost a bcrypt each (about 50 ms at cost 10).
    private let accepted = Mutex<Set<[UInt8]>>([])
    /// Digests that bcrypt refused: the same wrong password again costs nothing.
    private let refused = Mutex<Set<[UInt8]>>([])
    private static let acceptedLimit = 64
    private static let refusedLimit = 1024
    /// Checks waiting for the hasher; more get 429 at once.
    static let maxWaiting = 16
    private let waiting = CountingGate(limit: WebGuard.maxWaiting)
    private let hasher = DispatchQueue(label: "aoai-canary.bcrypt")
    /// Checked for unknown users, so that a wrong name takes as long as a wrong password: the
    /// configured hash with the highest cost (the user check below still refuses it).
    private let decoyHash: String
    /// How long a check against `decoyHash` takes, once measured: cheaper checks are padded to it.
    private let slowest = Mutex<Double?>(nil)

    public init(config: WebConfig) {
        self.config = config
        self.decoyHash = config.users.values.max { (Self.cost($0), $0) < (Self.cost($1), $1) } ?? ""
    }

    /// bcrypt's cost (`$2y$10$…` is 10); 0 when the hash has none.
    static func cost(_ hash: String) -> Int {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: true)
        return parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
    }

    private enum Decision {
        case pass
        case refuse(HTTPResponse)
        case verify(user: String, password: [UInt8], digest: [UInt8])
    }

    /// What can be decided without bcrypt.
    private func decide(_ request: HTTPRequest) -> Decision {
        guard !config.users.isEmpty else { return .pass }
        guard let (user, password) = Self.basicCredentials(request.header("Authorization")) else { return .refuse(Self.challenge) }
        let digest = Digest.sha256(Array("\(user)\u{0}".utf8) + password + Array("\u{0}\(config.users[user] ?? "")".utf8))
        if accepted.withLock({ $0.contains(digest) }) { return .pass }
        if refused.withLock({ $0.contains(digest) }) { return .refuse(Self.challenge) }
        return .verify(user: user, password: password, digest: digest)
    }

    /// Runs bcrypt, padded to the slowest configured hash, and remembers the outcome.
    private func verify(user: String, password: [UInt8], digest: [UInt8]) -> Bool {
        let clock = SystemClock()
        let hash = config.users[user] ?? decoyHash
        if hash != decoyHash, slowest.withLock({ $0 }) == nil {
            // Measured once, the first time a cheaper hash is checked.
            let start = clock.monotonicSeconds
            _ = PasswordHash.check(password: [UInt8]("calibration".utf8), against: decoyHash)
            let took = clock.monotonicSeconds - start
            slowest.withLock { $0 = $0 ?? took }
        }
        let start = clock.monotonicSeconds
        let matches = PasswordHash.check(password: password, against: hash) == .matches && config.users[user] != nil
        let took = clock.monotonicSeconds - start
        if hash == decoyHash {
            slowest.withLock { $0 = max($0 ?? 0, took) }
        } else if let target = slowest.withLock({ $0 }), target > took {
            SystemClock.block(seconds: min(target - took, 5))
        }
        func remember(_ set: inout Set<[UInt8]>, limit: Int) {
            if set.count >= limit { set.removeAll() }
            set.insert(digest)
        }
        if matches {
            accepted.withLock { remember(&$0, limit: Self.acceptedLimit) }
        } else {
            refused.withLock { remember(&$0, limit: Self.refusedLimit) }
        }
        return matches
    }

    /// The request's answer: `next`'s when it may pass, after bcrypt (in order, the connection
    /// parked) when its password is not yet known.
    public func handle(_ request: HTTPRequest, next: @escaping @Sendable (HTTPRequest) -> HTTPResponse) -> HTTPResponse {
        switch decide(request) {
        case .pass: return next(request)
        case .refuse(let answer): return answer
        case .verify(let user, let password, let digest):
            guard waiting.enter() else {
                return HTTPResponse(
                    status: 429, contentType: "text/plain; charset=utf-8", body: "\(Self.maxWaiting) password checks are waiting; retry\n",
                    headers: [("Retry-After", "1")])
            }
            return .later { [self] reply in
                hasher.async { [self] in
                    let matches = verify(user: user, password: password, digest: digest)
                    waiting.leave()
                    guard matches else { return reply(Self.challenge) }
                    let answer = next(request)
                    // An answer that itself comes later (a reload) is passed on when it comes.
                    if let deferred = answer.deferred { deferred.start(reply) } else { reply(answer) }
                }
            }
        }
    }

    /// nil lets the request through; otherwise the answer to send instead. Checks on the calling
    /// thread: for in-process callers and tests.
    public func check(_ request: HTTPRequest) -> HTTPResponse? {
        switch decide(request) {
        case .pass: return nil
        case .refuse(let answer): return answer
        case .verify(let user, let password, let digest): return verify(user: user, password: password, digest: digest) ? nil : Self.challenge
        }
    }

    private static let challenge = HTTPResponse(
        status: 401, contentType: "text/plain; charset=utf-8", body: "Unauthorized\n", headers: [("WWW-Authenticate", "Basic")])

    /// The user and password of an `Authorization: Basic` header; the password as the bytes
    /// sent, so that nothing is altered before it is hashed.
    package static func basicCredentials(_ header: String?) -> (String, [UInt8])? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic", parts[1].utf8.count <= 4096,
            let decoded = Data(base64Encoded: String(parts[1]))
        else { return nil }
        let bytes = Array(decoded)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return (String(decoding: bytes[..<colon], as: UTF8.self), Array(bytes[(colon + 1)...]))
    }
}
