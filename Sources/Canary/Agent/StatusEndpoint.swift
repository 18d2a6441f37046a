// The agent's HTTP endpoint: /metrics, /-/healthy, /-/ready and a small index page.
import HTTPServer

/// Routes requests on the metrics port. Runs on the HTTP server's threads; never awaits.
public struct StatusEndpoint: Sendable {
    public let metrics: CanaryMetrics
    public let version: String

    public init(metrics: CanaryMetrics, version: String) {
        self.metrics = metrics
        self.version = version
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
            return HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: indexPage)
        default:
            return HTTPResponse(status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n")
        }
    }

    private var indexPage: String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>aoai-canary</title></head>
        <body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
        <h1>aoai-canary \(version)</h1>
        <p>Azure OpenAI authentication canary: paired API key and Entra ID probes.</p>
        <ul>
        <li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
        <li><a href="/-/healthy">/-/healthy</a>: liveness</li>
        <li><a href="/-/ready">/-/ready</a>: readiness</li>
        </ul>
        </body></html>

        """
    }
}
