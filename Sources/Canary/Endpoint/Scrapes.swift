// /metrics under load: one rendering shared by the scrapes that come together, gzip when the
// scraper accepts it, and a bound on scrapes in flight, so stalled readers cannot multiply memory.
import Gzip
import HTTPServer
import Synchronization

/// Renders the exposition for scrapers. A rendering (plain and gzip) is reused for `freshFor`
/// seconds, so concurrent scrapes cost one render and share one copy of it in memory; at most
/// `maxInFlight` responses are being sent at once, and a scrape past that gets 503 with
/// `Retry-After`, as node_exporter's `--web.max-requests` does.
final class Scrapes: Sendable {
    /// node_exporter's default for `--web.max-requests`.
    static let defaultMaxInFlight = 40
    /// A rendering younger than this is served again.
    static let freshFor = 1.0

    private struct Rendering {
        var registry: ObjectIdentifier
        var at: Double
        var plain: SharedBody
        var gzip: SharedBody?
    }

    private let maxInFlight: Int
    private let clock: any CanaryClock
    private let state = Mutex<(rendering: Rendering?, inFlight: Int)>((nil, 0))
    /// One rendering at a time: a scrape that arrives during one waits for it, then shares it.
    private let renderLock = Mutex(())

    init(maxInFlight: Int = Scrapes.defaultMaxInFlight, clock: any CanaryClock) {
        self.maxInFlight = maxInFlight
        self.clock = clock
    }

    /// The answer to `GET /metrics`.
    func respond(_ request: HTTPRequest, registry: MetricsRegistry) -> HTTPResponse {
        let admitted = state.withLock { state -> Bool in
            guard state.inFlight < maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else {
            return HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "too many scrapes in flight (at most \(maxInFlight)); retry\n",
                                headers: [("Retry-After", "1")])
        }
        let done: @Sendable () -> Void = { [self] in state.withLock { $0.inFlight -= 1 } }
        let rendering = current(registry)
        let wantsGzip = Self.acceptsGzip(request.header("Accept-Encoding"))
        if wantsGzip, let gzip = rendering.gzip {
            return HTTPResponse(status: 200, headers: [("Content-Type", Exposition.contentType), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                                shared: gzip, onDone: done)
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", Exposition.contentType), ("Vary", "Accept-Encoding")], shared: rendering.plain, onDone: done)
    }

    /// The rendering to serve: the last one while fresh and of this registry, else a new one.
    private func current(_ registry: MetricsRegistry) -> Rendering {
        let id = ObjectIdentifier(registry)
        func fresh() -> Rendering? {
            state.withLock { state in
                guard let rendering = state.rendering, rendering.registry == id, clock.monotonicSeconds - rendering.at < Self.freshFor else { return nil }
                return rendering
            }
        }
        if let rendering = fresh() { return rendering }
        return renderLock.withLock { _ in
            if let rendering = fresh() { return rendering }
            let bytes = registry.renderBytes()
            let rendering = Rendering(registry: id, at: clock.monotonicSeconds, plain: SharedBody(bytes), gzip: (try? Gzip.compress(bytes)).map { SharedBody($0) })
            state.withLock { $0.rendering = rendering }
            return rendering
        }
    }

    /// Whether an `Accept-Encoding` header takes gzip (and does not refuse it with `q=0`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        func trimmed(_ text: Substring) -> String { String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()) }
        for part in header.lowercased().split(separator: ",") {
            let fields = part.split(separator: ";").map(trimmed)
            guard let coding = fields.first, ["gzip", "x-gzip", "*"].contains(coding) else { continue }
            let quality = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
        return false
    }
}
