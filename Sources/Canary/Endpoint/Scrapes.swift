// /metrics under load: one rendering shared by the scrapes that come together, gzip when the
// scraper accepts it, and a bound on scrapes in flight, so stalled readers cannot multiply memory.
import Dispatch
import Gzip
import HTTPServer
import Metrics
import Support
import Synchronization

/// Renders the exposition for scrapers. A rendering is made at most once a second: every scrape
/// within a second of the last rendering gets that same rendering (plain and gzip), whether or
/// not it is still being sent to anyone, so however many scrapers come, loop or stall, they cost
/// one render a second and share one copy in memory. A reload (applied or refused) makes the
/// next scrape render afresh. At most `maxInFlight` responses are sent at
/// once, and the renderings they hold are bounded in bytes too (`maxHeldBytes`): past either, a
/// scrape gets 503 with `Retry-After`, as node_exporter's `--web.max-requests` does, rather than
/// more memory, or data frozen in an old rendering.
final class Scrapes: Sendable {
    /// node_exporter's default for `--web.max-requests`.
    static let defaultMaxInFlight = 40
    /// How long a rendering is shared.
    static let freshFor = 1.0
    /// The bytes responses in flight may hold at least, whatever the size of one rendering.
    static let minimumHeldBytes = 64 << 20

    private struct Rendering {
        var id: Int
        var registry: ObjectIdentifier
        var epoch: Int
        var at: Double
        var plain: SharedBody
        var gzip: SharedBody?
        var bytes: Int { plain.count + (gzip?.count ?? 0) }
    }

    private struct State {
        /// The newest rendering, shared while fresh and dropped once stale and unsent.
        var rendering: Rendering?
        /// Renderings responses still hold: their size and how many responses hold each.
        var held: [Int: (bytes: Int, senders: Int)] = [:]
        var inFlight = 0
        var nextID = 0

        /// Bytes held by responses in flight and by the newest rendering.
        var heldBytes: Int {
            held.values.reduce(0) { $0 + $1.bytes } + (rendering.map { held[$0.id] == nil ? $0.bytes : 0 } ?? 0)
        }
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

    /// The most bytes responses may hold: twice the newest rendering, and at least 64 MiB.
    private func maxHeldBytes(_ state: State) -> Int {
        max(Self.minimumHeldBytes, 2 * (state.rendering?.bytes ?? 0))
    }

    /// The answer to `GET /metrics`.
    func respond(_ request: HTTPRequest, registry: MetricsRegistry) -> HTTPResponse {
        let admitted = state.withLock { state -> Bool in
            guard state.inFlight < maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else { return Self.busy("too many scrapes in flight (at most \(maxInFlight))") }
        guard let rendering = current(registry) else {
            state.withLock { $0.inFlight -= 1 }
            return Self.busy("the scrapes in flight hold as much memory as they may")
        }
        let done: @Sendable () -> Void = { [self] in
            state.withLock { state in
                state.inFlight -= 1
                guard var entry = state.held[rendering.id] else { return }
                entry.senders -= 1
                state.held[rendering.id] = entry.senders > 0 ? entry : nil
            }
            dropIfStale()
        }
        if Self.acceptsGzip(request.header("Accept-Encoding")), let gzip = rendering.gzip {
            return HTTPResponse(
                status: 200, headers: [("Content-Type", Exposition.contentType), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                shared: gzip, onDone: done)
        }
        return HTTPResponse(
            status: 200, headers: [("Content-Type", Exposition.contentType), ("Vary", "Accept-Encoding")], shared: rendering.plain, onDone: done)
    }

    private static func busy(_ why: String) -> HTTPResponse {
        HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "\(why); retry\n", headers: [("Retry-After", "1")])
    }

    /// The rendering to serve, counted as held by one more response: the newest while it is
    /// fresh and of this registry, else a new one; nil when a new one would hold more bytes
    /// than responses may.
    private func current(_ registry: MetricsRegistry) -> Rendering? {
        let id = ObjectIdentifier(registry)
        func shared() -> Rendering? {
            state.withLock { state in
                guard let rendering = state.rendering, rendering.registry == id, rendering.epoch == registry.epoch,
                    clock.monotonicSeconds - rendering.at < Self.freshFor
                else { return nil }
                state.held[rendering.id, default: (rendering.bytes, 0)].senders += 1
                return rendering
            }
        }
        if let rendering = shared() { return rendering }
        return renderLock.withLock { _ -> Rendering? in
            if let rendering = shared() { return rendering }
            // The stale newest rendering goes (unless responses hold it); a new one may be made
            // only while what is held leaves room for one more of the last one's size.
            let room = state.withLock { state -> Bool in
                let last = state.rendering?.bytes ?? 0
                if let old = state.rendering, state.held[old.id] == nil { state.rendering = nil }
                return state.heldBytes + last <= maxHeldBytes(state) || state.held.isEmpty
            }
            guard room else { return nil }
            let epoch = registry.epoch
            // The rendering is let go once copied, before gzip runs: at 10,000 resources each copy
            // of /metrics is 9 MB of resident memory at the peak of a scrape.
            let plain = SharedBody(registry.renderBytes())
            let gzip = (try? plain.withUnsafeBytes { try Gzip.compress($0) }).map { SharedBody($0) }
            return state.withLock { state in
                state.nextID += 1
                let rendering = Rendering(id: state.nextID, registry: id, epoch: epoch, at: clock.monotonicSeconds, plain: plain, gzip: gzip)
                state.rendering = rendering
                state.held[rendering.id] = (rendering.bytes, 1)
                return rendering
            }
        }
    }

    /// Drops the newest rendering once it is stale and no response holds it, so its memory goes
    /// back when the last scraper is done; a rendering still fresh is looked at again when it is not.
    private func dropIfStale(lookAgain: Bool = true) {
        let wait = state.withLock { state -> Double? in
            guard let rendering = state.rendering, state.held[rendering.id] == nil else { return nil }
            let age = clock.monotonicSeconds - rendering.at
            if age >= Self.freshFor {
                state.rendering = nil
                return nil
            }
            return Self.freshFor - age
        }
        guard let wait, lookAgain else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + wait + 0.01) { [self] in dropIfStale(lookAgain: false) }
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
