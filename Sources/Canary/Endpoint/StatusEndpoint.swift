// The agent's HTTP endpoint: /metrics, /-/healthy, /-/ready, the status page and status.json.
import HTTPServer

/// What the endpoint shows, taken once per request: the metrics and status of the agent in
/// service at that moment (a reload swaps both together).
public struct StatusSnapshot: Sendable {
    public var registry: MetricsRegistry
    public var board: StatusBoard

    public init(registry: MetricsRegistry, board: StatusBoard) {
        self.registry = registry
        self.board = board
    }
}

/// Gives the endpoint the agent in service; read on the HTTP server's threads, so it never awaits.
public protocol StatusSource: Sendable {
    func snapshot() -> StatusSnapshot
}

/// Routes requests on the metrics port. Runs on the HTTP server's threads; never awaits.
public struct StatusEndpoint: Sendable {
    public let agents: any StatusSource
    public let version: String
    public let clock: any CanaryClock
    /// Asks for a reload and calls its argument with the outcome once applied; nil turns
    /// `POST /-/reload` off. The request waits for the outcome without holding a server thread.
    public let reload: Reload?

    /// Asks for a reload; the outcome comes later, from any thread.
    public typealias Reload = @Sendable (_ answer: @escaping @Sendable (Result<Int, ConfigErrors>) -> Void) -> Void

    public init(agents: any StatusSource, version: String, clock: any CanaryClock = SystemClock(), reload: Reload? = nil) {
        self.agents = agents
        self.version = version
        self.clock = clock
        self.reload = reload
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let agent = agents.snapshot()
        if request.path == "/-/reload" {
            return handleReload(request)
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTPResponse(status: 405, contentType: "text/plain; charset=utf-8", body: "method not allowed\n", headers: [("Allow", "GET, HEAD")])
        }
        switch request.path {
        case "/metrics":
            return HTTPResponse(status: 200, headers: [("Content-Type", Exposition.contentType)], body: agent.registry.renderBytes())
        case "/-/healthy", "/-/ready":
            return HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "OK\n")
        case "/":
            return HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: StatusView(board: agent.board, now: clock.wallSeconds, version: version).html)
        case "/status.json":
            return HTTPResponse(status: 200, contentType: "application/json", body: StatusView(board: agent.board, now: clock.wallSeconds, version: version).json)
        default:
            return HTTPResponse(status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n")
        }
    }

    /// `POST /-/reload`, from this host only.
    private func handleReload(_ request: HTTPRequest) -> HTTPResponse {
        let text = "text/plain; charset=utf-8"
        guard request.method == "POST" else {
            return HTTPResponse(status: 405, contentType: text, body: "use POST\n", headers: [("Allow", "POST")])
        }
        guard let reload else { return HTTPResponse(status: 404, contentType: text, body: "reload over HTTP is off\n") }
        guard request.isFromLoopback else {
            return HTTPResponse(status: 403, contentType: text, body: "reload is allowed from this host only\n")
        }
        return .later { reply in
            reload { outcome in
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
