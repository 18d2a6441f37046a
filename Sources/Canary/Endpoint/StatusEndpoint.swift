// The agent's HTTP endpoint: /metrics, /-/healthy, /-/ready, the status page and status.json.
import Config
import HTTPServer
import Metrics
import Schedule
import Status
import Support
import Synchronization

/// What the endpoint shows, taken once per request: the metrics and status of the agent in
/// service at that moment (a reload swaps both together).
public struct StatusSnapshot: Sendable {
    public var registry: MetricsRegistry
    public var board: StatusBoard
    /// Whether rounds are running; nil where no schedule runs (tests of the pages alone).
    public var schedule: ScheduleHealth?

    public init(registry: MetricsRegistry, board: StatusBoard, schedule: ScheduleHealth? = nil) {
        self.registry = registry
        self.board = board
        self.schedule = schedule
    }
}

/// Gives the endpoint the agent in service; read on the HTTP server's threads, so it never awaits.
public protocol StatusSource: Sendable {
    func snapshot() -> StatusSnapshot
}

/// Routes requests on the metrics port. Runs on the HTTP server's threads; never awaits.
public struct StatusEndpoint: Sendable {
    /// Why a state-changing request looks like it came from a page of another site: its `Host`
    /// is not a loopback name, or its `Origin` is not `http(s)://` + that host; nil otherwise.
    /// Tools such as curl send no `Origin` and pass.
    static func crossSiteRefusal(_ request: HTTPRequest) -> String? {
        let host = (request.header("Host") ?? "").lowercased()
        let name: Substring
        if host.hasPrefix("[") {
            name = host.prefix { $0 != "]" }.dropFirst()
        } else {
            name = host.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        }
        let loopback =
            name == "localhost" || name == "::1"
            || (name.hasPrefix("127.") && name.split(separator: ".").count == 4 && name.split(separator: ".").allSatisfy { UInt8($0) != nil })
        guard loopback else { return "refused: Host \"\(host)\" is not this host (a page of another site?)" }
        if let origin = request.header("Origin")?.lowercased(), origin != "http://" + host, origin != "https://" + host {
            return "refused: Origin \(origin) is not this endpoint's (a page of another site?)"
        }
        return nil
    }

    /// The agent in service now (a reload swaps it).
    public let source: any StatusSource
    public let version: String
    public let clock: any CanaryClock
    /// Asks for a reload and calls its argument with the outcome once applied; nil turns
    /// `POST /-/reload` off. The request waits for the outcome without holding a server thread.
    public let reload: Reload?
    /// Where the metrics are served (`--web.telemetry-path`); `/metrics` unless told.
    public let metricsPath: String

    /// Asks for a reload; the outcome comes later, from any thread.
    public typealias Reload = @Sendable (_ answer: @escaping @Sendable (Result<Int, ConfigErrors>) -> Void) -> Void

    /// Shared renderings of /metrics and the bound on scrapes in flight.
    private let scrapes: Scrapes
    /// `POST /-/reload` requests waiting for their outcome: each holds a connection, so they
    /// are few (one reload answers them all anyway).
    private let reloadsWaiting = CountingGate(limit: StatusEndpoint.maxReloadsWaiting)
    static let maxReloadsWaiting = 4

    public init(source: any StatusSource, version: String, clock: any CanaryClock = SystemClock(), reload: Reload? = nil, metricsPath: String = "/metrics") {
        self.scrapes = Scrapes(clock: clock)
        self.metricsPath = metricsPath
        self.source = source
        self.version = version
        self.clock = clock
        self.reload = reload
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let agent = source.snapshot()
        if request.path == "/-/reload" {
            return handleReload(request)
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTPResponse(status: 405, contentType: "text/plain; charset=utf-8", body: "method not allowed\n", headers: [("Allow", "GET, HEAD")])
        }
        if request.path == metricsPath {
            return scrapes.respond(request, registry: agent.registry)
        }
        switch request.path {
        case "/-/healthy":
            // Alive means probing: a schedule that stopped starting rounds is worth a restart.
            if let stall = agent.schedule?.stall(now: clock.monotonicSeconds) {
                return HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "unhealthy: \(stall)\n")
            }
            return HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "OK\n")
        case "/-/ready":
            // Not ready while there is nothing to probe: the agent runs, but watches nothing. This
            // reason comes first because it lasts until the admin acts; a schedule that has not
            // passed yet (the first moment after start) is the passing one.
            if agent.board.isEmpty {
                return HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "not ready: \(StatusView.noResourcesNotice)\n")
            }
            if let stall = agent.schedule?.stall(now: clock.monotonicSeconds) {
                return HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "not ready: \(stall)\n")
            }
            return HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "OK\n")
        case "/":
            return HTTPResponse(
                status: 200, contentType: "text/html; charset=utf-8",
                body: StatusView(board: agent.board, now: clock.wallSeconds, version: version, metricsPath: metricsPath).html)
        case "/status.json":
            return HTTPResponse(
                status: 200, contentType: "application/json",
                body: StatusView(board: agent.board, now: clock.wallSeconds, version: version, metricsPath: metricsPath).json)
        default:
            return HTTPResponse(status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n")
        }
    }

    /// The paths the endpoint serves itself, which `--web.telemetry-path` may not take.
    public static let reservedPaths: Set<String> = ["/", "/-/healthy", "/-/ready", "/-/reload", "/status.json"]

    /// Why `path` cannot be the metrics path, or nil when it can.
    public static func problem(withMetricsPath path: String) -> String? {
        guard path.hasPrefix("/"), !path.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) else {
            return "expected an absolute path such as /metrics"
        }
        if reservedPaths.contains(path) { return "\(path) is the endpoint's own page" }
        return nil
    }

    /// `POST /-/reload`: only with `--web.enable-lifecycle`, from this host, and not from a
    /// page of another site (a foreign `Origin`, or a `Host` that is not this host's, as a DNS
    /// rebinding attack would send).
    private func handleReload(_ request: HTTPRequest) -> HTTPResponse {
        let text = "text/plain; charset=utf-8"
        guard request.method == "POST" else {
            return HTTPResponse(status: 405, contentType: text, body: "use POST\n", headers: [("Allow", "POST")])
        }
        guard let reload else {
            return HTTPResponse(status: 403, contentType: text, body: "Lifecycle API is not enabled: run with --web.enable-lifecycle\n")
        }
        guard request.isFromLoopback else {
            return HTTPResponse(status: 403, contentType: text, body: "reload is allowed from this host only\n")
        }
        if let refusal = Self.crossSiteRefusal(request) {
            return HTTPResponse(status: 403, contentType: text, body: refusal + "\n")
        }
        guard reloadsWaiting.enter() else {
            return HTTPResponse(
                status: 503, contentType: text, body: "\(Self.maxReloadsWaiting) reloads are already waiting for their outcome; retry\n",
                headers: [("Retry-After", "1")])
        }
        let reloadsWaiting = self.reloadsWaiting
        return .later { reply in
            reload { outcome in
                reloadsWaiting.leave()
                switch outcome {
                case .success(let count):
                    reply(HTTPResponse(status: 200, contentType: text, body: "reloaded: \(count) resources\n"))
                case .failure(let errors):
                    reply(HTTPResponse(status: 400, contentType: text, body: "rejected; the previous configuration keeps running:\n\(errors)\n"))
                }
            }
        }
    }
}

/// At most `limit` holders at once, from any thread.
final class CountingGate: Sendable {
    let limit: Int
    private let count = Mutex(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a place; false when all are taken.
    func enter() -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() {
        count.withLock { $0 -= 1 }
    }
}
