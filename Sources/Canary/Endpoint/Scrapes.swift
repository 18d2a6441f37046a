// /metrics under load: one rendering shared by the scrapes that come together, gzip when the
// scraper accepts it, and a bound on scrapes in flight, so stalled readers cannot multiply memory.
import Gzip
import HTTPServer
import Synchronization

/// Renders the exposition for scrapers. A scrape that comes while others are still being sent a
/// rendering made less than a second ago gets that same rendering (plain and gzip), so
/// concurrent and stalled scrapes cost one render and share one copy of it in memory; a scrape
/// that comes alone gets a fresh one. At most `maxInFlight` responses are sent at once; a scrape
/// past that gets 503 with `Retry-After`, as node_exporter's `--web.max-requests` does.
final class Scrapes: Sendable {
    /// node_exporter's default for `--web.max-requests`.
    static let defaultMaxInFlight = 40
    /// A rendering older than this is not shared, however many are still reading it.
    static let freshFor = 1.0

    private struct Rendering {
        var id: Int
        var registry: ObjectIdentifier
        var at: Double
        var plain: SharedBody
        var gzip: SharedBody?
    }

    private struct State {
        var rendering: Rendering?
        /// Responses being sent, by rendering id.
        var sending: [Int: Int] = [:]
        var inFlight = 0
        var nextID = 0
    }

    private let maxInFlight: Int
    private let clock: any CanaryClock
    private let state = Mutex(State())
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
        let rendering = current(registry)
        let done: @Sendable () -> Void = { [self] in
            state.withLock { state in
                state.inFlight -= 1
                state.sending[rendering.id, default: 1] -= 1
                if state.sending[rendering.id] ?? 0 <= 0 {
                    // Nobody is reading it: it will not be shared again, so its memory goes now.
                    state.sending[rendering.id] = nil
                    if state.rendering?.id == rendering.id { state.rendering = nil }
                }
            }
        }
        if Self.acceptsGzip(request.header("Accept-Encoding")), let gzip = rendering.gzip {
            return HTTPResponse(status: 200, headers: [("Content-Type", Exposition.contentType), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                                shared: gzip, onDone: done)
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", Exposition.contentType), ("Vary", "Accept-Encoding")], shared: rendering.plain, onDone: done)
    }

    /// The rendering to serve, counted as being sent: the last one while it is young, of this
    /// registry and still being sent to someone; else a new one.
    private func current(_ registry: MetricsRegistry) -> Rendering {
        let id = ObjectIdentifier(registry)
        func shared() -> Rendering? {
            state.withLock { state in
                guard let rendering = state.rendering, rendering.registry == id, clock.monotonicSeconds - rendering.at < Self.freshFor,
                      (state.sending[rendering.id] ?? 0) > 0 else { return nil }
                state.sending[rendering.id, default: 0] += 1
                return rendering
            }
        }
        if let rendering = shared() { return rendering }
        return renderLock.withLock { _ in
            if let rendering = shared() { return rendering }
            let bytes = registry.renderBytes()
            let plain = SharedBody(bytes)
            let gzip = (try? Gzip.compress(bytes)).map { SharedBody($0) }
            return state.withLock { state in
                state.nextID += 1
                let rendering = Rendering(id: state.nextID, registry: id, at: clock.monotonicSeconds, plain: plain, gzip: gzip)
                state.rendering = rendering
                state.sending[rendering.id] = 1
                return rendering
            }
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
