// A small HTTP/1.1 server over libmicrohttpd: a synchronous handler run on the daemon's threads.
import CMicroHTTPD

#if canImport(Glibc)
import Glibc
#endif

/// One request as the handler sees it: method, path, query and headers decoded, body collected.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string, as sent (not percent-decoded).
    public var path: String
    /// Query arguments, decoded by libmicrohttpd, in the order sent.
    public var query: [(name: String, value: String)]
    /// Request headers in the order sent; names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// True when the body was longer than the server's limit and was cut there.
    public var bodyTruncated: Bool
    /// The client's numeric address (`127.0.0.1`, `::1`), empty when unknown.
    public var remoteAddress: String = ""
    /// Whether the request came over TLS, and what certificate the client showed.
    public var clientCertificate: ClientCertificate = .notTLS

    /// True when the client connected from this host.
    public var isFromLoopback: Bool {
        remoteAddress.hasPrefix("127.") || remoteAddress == "::1" || remoteAddress.hasPrefix("::ffff:127.")
    }

    public init(
        method: String, path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        bodyTruncated: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The first query argument with this name.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }
}

/// Which client certificates a TLS server accepts: the exporter-toolkit's `client_auth_type`
/// values. The one place the policy lives: the server applies it to every request before the
/// handler sees it.
public enum ClientCertificatePolicy: String, Sendable, CaseIterable {
    case noClientCert = "NoClientCert"
    case requestClientCert = "RequestClientCert"
    case requireAnyClientCert = "RequireAnyClientCert"
    case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
    case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

    /// Why a client's certificate does not satisfy the policy, or nil when it does.
    public func refusal(for certificate: ClientCertificate) -> String? {
        switch (self, certificate) {
        case (.noClientCert, _), (.requestClientCert, _): return nil
        case (.requireAnyClientCert, .none), (.requireAndVerifyClientCert, .none): return "a client certificate is required"
        case (.requireAnyClientCert, _): return nil
        case (.verifyClientCertIfGiven, .unverified), (.requireAndVerifyClientCert, .unverified):
            return "the client certificate is not signed by a trusted client CA or is outside its validity period"
        case (.verifyClientCertIfGiven, _): return nil
        case (.requireAndVerifyClientCert, .verified): return nil
        case (.requireAndVerifyClientCert, .notTLS): return "a client certificate is required"
        }
    }
}

/// What a client showed of itself on a TLS connection.
public enum ClientCertificate: Sendable, Equatable {
    /// A plain HTTP connection.
    case notTLS
    /// TLS, and the client sent no certificate.
    case none
    /// A certificate that chains to the server's trusted client CAs and is in its validity period.
    case verified
    /// A certificate that does not verify (unknown issuer, expired, not yet valid, bad signature).
    case unverified
}

/// The handler's answer.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Drop the connection without answering (a simulated network fault).
    public var closeWithoutResponse: Bool
    /// Set by `later`: the real answer comes from work that finishes elsewhere.
    public var deferred: DeferredResponse?
    /// A body many responses share instead of `body`: the server sends it without copying it
    /// per connection, and lets go of it when the last one is done.
    public var shared: SharedBody?

    /// Called once the server is done with this response (sent, or the connection gone).
    public var onDone: (@Sendable () -> Void)?

    /// The body, whether held here or shared (for in-process callers and tests).
    public var content: [UInt8] { shared?.content ?? body }

    /// A response whose body is `shared`.
    public init(status: Int, headers: [(name: String, value: String)] = [], shared: SharedBody, onDone: (@Sendable () -> Void)? = nil) {
        self.init(status: status, headers: headers, body: [])
        self.shared = shared
        self.onDone = onDone
    }

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closeWithoutResponse = false
    }

    public init(status: Int, contentType: String, body: String, headers: [(name: String, value: String)] = []) {
        self.init(status: status, headers: [("Content-Type", contentType)] + headers, body: Array(body.utf8))
    }

    /// An answer that comes later: the server parks the connection, holding no thread, and
    /// calls `start` with a `reply` function; calling `reply` once, from any thread, sends the
    /// answer. A server that stops first lets the connection go (with a 503 when it can). Pool
    /// servers only: a thread-per-connection server answers 501.
    public static func later(_ start: @escaping @Sendable (_ reply: @escaping @Sendable (HTTPResponse) -> Void) -> Void) -> HTTPResponse {
        var response = HTTPResponse(status: 500)
        response.deferred = DeferredResponse(start: start)
        return response
    }

    /// A response that makes the server close the connection without a status line.
    public static var connectionClosed: HTTPResponse {
        var response = HTTPResponse(status: 500)
        response.closeWithoutResponse = true
        return response
    }
}

/// Bytes several responses send at once (one rendering of /metrics to every concurrent
/// scraper): one copy in memory however many connections are sending it, freed when the last
/// one ends. `onRelease` runs then, from the server's thread.
public final class SharedBody: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    private let onRelease: (@Sendable () -> Void)?

    /// `onRelease` runs when the last holder lets go.
    public init(_ content: [UInt8], onRelease: (@Sendable () -> Void)? = nil) {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(content.count, 1), alignment: 1)
        content.withUnsafeBytes { bytes.copyMemory(from: $0) }
        self.bytes = bytes
        count = content.count
        self.onRelease = onRelease
    }

    /// The number of bytes.
    public let count: Int

    /// Reads the content in place.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
    }

    /// The content, as a copy (for tests and in-process callers).
    public var content: [UInt8] { withUnsafeBytes { Array($0) } }

    deinit {
        bytes.deallocate()
        onRelease?()
    }
}

/// One response's hold on a shared body, given to libmicrohttpd and released by its free
/// callback: `done` then runs.
final class SentBody {
    let shared: SharedBody
    let done: (@Sendable () -> Void)?

    init(_ shared: SharedBody, done: (@Sendable () -> Void)?) {
        self.shared = shared
        self.done = done
    }

    deinit { done?() }
}

/// The work behind an answer given later (`HTTPResponse.later`).
public struct DeferredResponse: Sendable {
    /// Starts the work; it calls `reply` once with the answer.
    public let start: @Sendable (_ reply: @escaping @Sendable (HTTPResponse) -> Void) -> Void
}

/// How the daemon runs handlers.
public enum HTTPServerThreading: Sendable {
    /// A fixed pool of threads: right for quick handlers such as a metrics endpoint.
    case pool(threads: Int)
    /// A thread per connection: right for handlers that may sleep (the simulator's slow answers).
    case threadPerConnection
}

/// Limits that keep a misbehaving client from taking the server down.
public struct HTTPServerLimits: Sendable {
    /// Connections open at once, from everyone.
    public var connectionLimit: Int
    /// Connections open at once from one address (0: no limit), so one client cannot take them
    /// all. A connection over it evicts the address's longest-idle one (`ConnectionTable`).
    public var perAddressConnectionLimit: Int
    /// Idle connections (and slow senders) are closed after this long.
    public var connectionTimeoutSeconds: Int
    /// Memory per connection for the request line, headers and response; larger headers are refused.
    public var connectionMemoryBytes: Int
    public var maxBodyBytes: Int

    public init(
        connectionLimit: Int = 256, perAddressConnectionLimit: Int = 0, connectionTimeoutSeconds: Int = 30, connectionMemoryBytes: Int = 64 * 1024,
        maxBodyBytes: Int = 1 << 20
    ) {
        self.connectionLimit = connectionLimit
        self.perAddressConnectionLimit = perAddressConnectionLimit
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.connectionMemoryBytes = connectionMemoryBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// For an endpoint that scrapers reach: many connections in all, few per address, short
    /// idle time, small requests.
    public static let metricsEndpoint = HTTPServerLimits(
        connectionLimit: 512, perAddressConnectionLimit: 32, connectionTimeoutSeconds: 10, connectionMemoryBytes: 32 * 1024, maxBodyBytes: 32 * 1024)
}

/// Serve HTTPS: the server's certificate chain and key, and the CAs client certificates are
/// checked against. With `clientCAsPEM` set, the server asks clients for a certificate during the
/// handshake and reports in `HTTPRequest.clientCertificate` what it got; the handler decides.
public struct HTTPServerTLS: Sendable {
    public var certificateChainPEM: String
    public var privateKeyPEM: String
    public var clientCAsPEM: String?
    /// A GnuTLS priority string (protocol versions, ciphers); nil for GnuTLS's defaults.
    public var priorities: String?
    /// Which client certificates are accepted; refused requests get 403 before the handler.
    public var clientAuth: ClientCertificatePolicy

    public init(
        certificateChainPEM: String, privateKeyPEM: String, clientCAsPEM: String? = nil, priorities: String? = nil,
        clientAuth: ClientCertificatePolicy = .noClientCert
    ) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.clientCAsPEM = clientCAsPEM
        self.priorities = priorities
        self.clientAuth = clientAuth
    }
}

/// An HTTP server bound to one listening socket. Stop it with `stop()`; it also stops on deinit.
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    /// The address the server is bound to, with the real port when 0 was asked for.
    public let boundAddress: SocketAddress
    private let context: ServerContext
    private var daemon: OpaquePointer?
    private let stopLock = Lock()
    /// The PEM strings handed to libmicrohttpd, which keeps pointers to them while it runs.
    private let tlsStrings: [UnsafeMutablePointer<CChar>]

    /// Binds `host:port` (port 0 picks a free one) and starts serving.
    public convenience init(
        host: String, port: Int, threading: HTTPServerThreading = .pool(threads: 2), limits: HTTPServerLimits = HTTPServerLimits(), tls: HTTPServerTLS? = nil,
        handler: @escaping Handler
    ) throws(HTTPServerError) {
        let socket = try ListeningSocket.bind(host: host, port: port)
        try self.init(listeningSocket: socket, threading: threading, limits: limits, tls: tls, handler: handler)
    }

    /// Serves on a socket that is already bound and listening; the server owns it from now on.
    public init(
        listeningSocket: ListeningSocket, threading: HTTPServerThreading = .pool(threads: 2), limits: HTTPServerLimits = HTTPServerLimits(),
        tls: HTTPServerTLS? = nil, handler: @escaping Handler
    ) throws(HTTPServerError) {
        self.boundAddress = listeningSocket.address
        self.context = ServerContext(
            handler: handler, maxBodyBytes: limits.maxBodyBytes, clientAuth: tls?.clientAuth ?? .noClientCert,
            canSuspend: {
                if case .pool = threading { return true } else { return false }
            }(), connections: limits.perAddressConnectionLimit > 0 ? ConnectionTable(perAddress: limits.perAddressConnectionLimit) : nil)
        var flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue) | UInt32(MHD_USE_POLL.rawValue)
        if listeningSocket.address.isIPv6 { flags |= UInt32(MHD_USE_IPv6.rawValue) }
        var poolSize: UInt32 = 0
        switch threading {
        case .pool(let threads):
            poolSize = UInt32(max(1, threads))
            // Answers given later park their connection instead of a pool thread.
            flags |= UInt32(MHD_ALLOW_SUSPEND_RESUME.rawValue)
        case .threadPerConnection: flags |= UInt32(MHD_USE_THREAD_PER_CONNECTION.rawValue)
        }
        if tls != nil { flags |= UInt32(MHD_USE_TLS.rawValue) }
        let strings = [tls?.privateKeyPEM, tls?.certificateChainPEM, tls?.clientCAsPEM, tls?.priorities].map { $0.map { strdup($0)! } }
        self.tlsStrings = strings.compactMap { $0 }
        let unmanaged = Unmanaged.passUnretained(context).toOpaque()
        guard
            let started = CMicroHTTPD_start(
                flags, listeningSocket.fd,
                accessHandler, unmanaged,
                completedHandler, unmanaged,
                context.connections == nil ? nil : notifyHandler, unmanaged,
                poolSize,
                UInt32(limits.connectionTimeoutSeconds),
                UInt32(limits.connectionLimit),
                // The per-address limit is the server's own (ConnectionTable): libmicrohttpd's would
                // refuse the newcomer, where ours makes room for it.
                0,
                limits.connectionMemoryBytes,
                strings[0], strings[1], strings[2], strings[3]
            )
        else {
            close(listeningSocket.fd)
            // The strings are freed by deinit, which runs for an init that throws once every
            // property is set.
            throw tls == nil ? .startFailed(address: listeningSocket.address.description) : .tlsStartFailed(address: listeningSocket.address.description)
        }
        self.daemon = started
    }

    /// Stops accepting, waits for the daemon's threads; libmicrohttpd closes the listening socket.
    public func stop() {
        stopLock.withLock {
            guard let daemon else { return }
            context.stopping.store(true)
            // libmicrohttpd must not be stopped with parked connections: answer them first.
            context.resumeAllForStop()
            MHD_stop_daemon(daemon)
            self.daemon = nil
        }
    }

    /// True once `stop()` has begun: long-running handlers poll it to give up early.
    public var isStopping: Bool { context.stopping.load() }

    deinit {
        stop()
        for string in tlsStrings {
            explicit_bzero(string, strlen(string))  // one of them is the private key
            free(string)
        }
    }
}

/// Why the server could not start.
public enum HTTPServerError: Error, CustomStringConvertible, Equatable {
    /// The listen address is not `HOST:PORT`.
    case invalidAddress(String)
    /// The host did not resolve to an address.
    case resolveFailed(host: String, message: String)
    /// `bind` or `listen` failed, for example because the port is taken.
    case bindFailed(address: String, errno: Int32)
    /// libmicrohttpd refused to start.
    case startFailed(address: String)
    /// libmicrohttpd refused to start with the TLS settings (a key that does not match the
    /// certificate, unreadable PEM, or a priority string GnuTLS does not know).
    case tlsStartFailed(address: String)

    public var description: String {
        switch self {
        case .invalidAddress(let value): return "invalid listen address \"\(value)\": expected HOST:PORT, e.g. 0.0.0.0:9725 or [::1]:9725"
        case .resolveFailed(let host, let message): return "cannot resolve listen host \"\(host)\": \(message)"
        case .bindFailed(let address, let code): return "cannot listen on \(address): \(String(cString: strerror(code)))"
        case .startFailed(let address): return "cannot start the HTTP server on \(address)"
        case .tlsStartFailed(let address): return "cannot start the HTTPS server on \(address): GnuTLS refused the certificate, key, client CAs or TLS versions"
        }
    }
}

/// State the C callbacks reach through their context pointer.
final class ServerContext: @unchecked Sendable {
    let handler: HTTPServer.Handler
    let maxBodyBytes: Int
    let stopping = AtomicFlag()
    /// Whether connections may be parked (pool servers).
    let canSuspend: Bool
    let clientAuth: ClientCertificatePolicy
    /// The per-address limit and what each connection is doing; nil without a limit.
    let connections: ConnectionTable?
    /// Parked connections by their request, and whether parking is still allowed; one lock
    /// orders parking, replies and the stop, so a connection is resumed exactly once.
    private let parked = Lock()
    private var waiting: [ObjectIdentifier: (connection: OpaquePointer, request: PendingRequest)] = [:]
    private var parkingOpen = true
    /// Connections the stop resumed whose answer libmicrohttpd has not yet taken.
    private var resumedForStop = 0

    init(handler: @escaping HTTPServer.Handler, maxBodyBytes: Int, clientAuth: ClientCertificatePolicy, canSuspend: Bool, connections: ConnectionTable? = nil) {
        self.connections = connections
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.clientAuth = clientAuth
        self.canSuspend = canSuspend
    }

    /// Parks the connection (from its access handler); false once the server is stopping.
    func park(_ request: PendingRequest, on connection: OpaquePointer) -> Bool {
        parked.withLock {
            guard parkingOpen else { return false }
            waiting[ObjectIdentifier(request)] = (connection, request)
            MHD_suspend_connection(connection)
            return true
        }
    }

    /// Stores the answer and resumes the connection, unless the stop already answered it.
    func reply(_ request: PendingRequest, with response: HTTPResponse) {
        parked.withLock {
            guard let entry = waiting.removeValue(forKey: ObjectIdentifier(request)) else { return }
            entry.request.reply = response
            MHD_resume_connection(entry.connection)
        }
    }

    /// The stored answer of a resumed connection, once.
    func takeReply(_ request: PendingRequest) -> HTTPResponse? {
        parked.withLock {
            defer { request.reply = nil }
            if request.reply != nil, !parkingOpen { resumedForStop = max(0, resumedForStop - 1) }
            return request.reply
        }
    }

    /// Answers every parked connection 503 and resumes it, and parks no more; then waits (up to
    /// a second) for libmicrohttpd to take those answers, since a connection it has not yet
    /// moved back from its suspended list would be leaked by the stop.
    func resumeAllForStop() {
        parked.withLock {
            parkingOpen = false
            for entry in waiting.values {
                entry.request.reply = HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "the server is stopping\n")
                MHD_resume_connection(entry.connection)
                resumedForStop += 1
            }
            waiting.removeAll()
        }
        for _ in 0..<200 where parked.withLock({ resumedForStop > 0 }) { usleep(5_000) }
    }
}

/// The body collected across calls of the access handler for one request, and the answer of a
/// parked one (guarded by the context's lock).
final class PendingRequest {
    var body: [UInt8] = []
    var truncated = false
    var reply: HTTPResponse?
}
