// An async HTTP client over one libcurl multi handle, driven by a dedicated thread.
import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A request: everything needed to make one HTTP call.
public struct HTTPClientRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// The whole call, from resolve to the last byte.
    public var timeoutSeconds: Double
    /// The most of the body kept; a longer body is cut there and the transfer stopped.
    public var maxBodyBytes: Int
    /// A PEM bundle of CAs to trust instead of the system's.
    public var caFile: String?

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, timeoutSeconds: Double = 10,
        maxBodyBytes: Int = 64 * 1024, caFile: String? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.maxBodyBytes = maxBodyBytes
        self.caFile = caFile
    }
}

/// Where the time of one call went, in seconds, from libcurl's timers.
public struct HTTPTimings: Sendable, Equatable {
    public var resolve: Double = 0
    public var connect: Double = 0
    public var tls: Double = 0
    /// From the request sent to the first response byte: the server's think time.
    public var processing: Double = 0
    public var transfer: Double = 0
    public var total: Double = 0

    public init() {}
}

/// A response: status, headers and the (possibly cut) body.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// True when the body was longer than `maxBodyBytes` and only its start is here.
    public var bodyTruncated: Bool
    public var timings: HTTPTimings

    /// The last header with this name (the final response's), compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last { $0.name.lowercased() == wanted }?.value
    }
}

/// Why a call got no HTTP response.
public enum HTTPClientError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The call took longer than its timeout.
    case timeout(seconds: Double)
    /// The host name did not resolve.
    case dnsFailed(String)
    /// No connection, or it broke before a full response arrived.
    case connectionFailed(String)
    /// The TLS handshake or the certificate check failed.
    case tlsFailed(String)
    /// Any other libcurl failure, with its code.
    case other(code: Int, message: String)
    /// The calling task was cancelled.
    case cancelled
    /// libcurl refused an option while the call was set up (or the client could not start);
    /// `option` names it (`CURLOPT_URL`).
    case setupFailed(option: String, message: String)

    public var description: String {
        switch self {
        case .timeout(let seconds): return "timed out after \(seconds)s"
        case .dnsFailed(let message): return "DNS resolution failed: \(message)"
        case .connectionFailed(let message): return "connection failed: \(message)"
        case .tlsFailed(let message): return "TLS failed: \(message)"
        case .other(let code, let message): return "HTTP client error \(code): \(message)"
        case .setupFailed(let option, let message): return "cannot set up the HTTP call: \(option): \(message)"
        case .cancelled: return "cancelled"
        }
    }
}

/// The client. One instance owns one multi handle and one thread; share it.
public final class HTTPClient: Sendable {
    private let loop: CurlLoop

    public convenience init() {
        self.init(globalInit: CurlGlobal.initialised)
    }

    /// A client as if curl_global_init had answered `globalInit`: for tests of a libcurl that
    /// cannot start.
    init(globalInit: CURLcode) {
        loop = CurlLoop(globalInit: globalInit)
        loop.start()
    }

    /// Makes one call. Throws only when there is no HTTP response; any status is a response.
    public func execute(_ request: HTTPClientRequest) async throws(HTTPClientError) -> HTTPClientResponse {
        let transfer = Transfer(request: request)
        let result: Result<HTTPClientResponse, HTTPClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if transfer.install(continuation) { loop.submit(transfer) }
            }
        } onCancel: {
            loop.cancel(transfer)
        }
        return try result.get()
    }

    /// Stops the thread; calls in flight end with `.cancelled`.
    public func shutdown() {
        loop.stop()
    }

    deinit { loop.stop() }
}

enum CurlGlobal {
    /// curl_global_init's result, from its one call in the process.
    static let initialised: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}
