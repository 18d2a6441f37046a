// The agent's HTTP endpoint: /metrics, /-/healthy, /-/ready, the status page and status.json.
import HTTPServer

/// Routes requests on the metrics port. Runs on the HTTP server's threads; never awaits.
public struct StatusEndpoint: Sendable {
    public let metrics: CanaryMetrics
    public let board: StatusBoard
    public let version: String
    public let clock: any CanaryClock

    public init(metrics: CanaryMetrics, board: StatusBoard, version: String, clock: any CanaryClock = SystemClock()) {
        self.metrics = metrics
        self.board = board
        self.version = version
        self.clock = clock
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTPResponse(status: 405, contentType: "text/plain; charset=utf-8", body: "method not allowed\n", headers: [("Allow", "GET, HEAD")])
        }
        switch request.path {
        case "/metrics":
            return HTTPResponse(status: 200, contentType: Exposition.contentType, body: metrics.registry.render())
        case "/-/healthy", "/-/ready":
            return HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "OK\n")
        case "/":
            return HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: StatusView(board: board, now: clock.wallSeconds, version: version).html)
        case "/status.json":
            return HTTPResponse(status: 200, contentType: "application/json", body: StatusView(board: board, now: clock.wallSeconds, version: version).json)
        default:
            return HTTPResponse(status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n")
        }
    }
}
