// The per-address connection limit, kept by the server itself so that a full address makes room
// for a newcomer instead of refusing it.
#if canImport(Glibc)
import Glibc
#endif

/// Every open connection by client address, and whether a request is in progress on it.
///
/// The rule: at most `perAddress` connections from one address. A connection that would exceed
/// it evicts that address's connection that has been waiting longest for a request (idle
/// between keep-alive requests, or still sending its headers, as a slowloris client does); only
/// when every one of them has a request in progress is the newcomer itself closed. So idle
/// floods and slow senders from one address, loopback included, cannot lock out a scraper from
/// that address: its connection always gets in, and its request is served. Requests in progress
/// are bounded elsewhere (scrapes in flight, parked reloads) and by the connection timeout.
final class ConnectionTable: @unchecked Sendable {
    private struct Entry {
        var address: String
        var fd: Int32
        /// A request is in the handler, parked, or being answered.
        var busy = false
        var evicted = false
        /// When it last started waiting for a request (a counter: order is all that matters).
        var waitingSince: UInt64
    }

    let perAddress: Int
    private let lock = Lock()
    private var entries: [Int: Entry] = [:]
    private var byAddress: [String: Set<Int>] = [:]
    private var nextID = 1
    private var tick: UInt64 = 0

    init(perAddress: Int) {
        self.perAddress = perAddress
    }

    /// A connection opened: returns its id (for its socket context). Over the address's limit,
    /// shuts down the longest-waiting idle connection of that address, or this one.
    func opened(address: String, fd: Int32) -> Int {
        lock.withLock {
            let id = nextID
            nextID += 1
            tick += 1
            entries[id] = Entry(address: address, fd: fd, waitingSince: tick)
            byAddress[address, default: []].insert(id)
            let live = byAddress[address]!.filter { entries[$0]?.evicted == false }
            guard live.count > perAddress else { return id }
            let victim = live.filter { $0 != id && entries[$0]?.busy == false }.min { entries[$0]!.waitingSince < entries[$1]!.waitingSince } ?? id
            entries[victim]!.evicted = true
            // The descriptor stays libmicrohttpd's: shut down, not closed, so it cannot be reused
            // under its feet; it sees the end of the stream and closes the connection itself.
            shutdown(entries[victim]!.fd, Int32(SHUT_RDWR))
            return id
        }
    }

    func closed(_ id: Int) {
        lock.withLock {
            guard let entry = entries.removeValue(forKey: id) else { return }
            byAddress[entry.address]?.remove(id)
            if byAddress[entry.address]?.isEmpty == true { byAddress[entry.address] = nil }
        }
    }

    /// A request began (its headers are in) or ended on the connection.
    func setBusy(_ id: Int, _ busy: Bool) {
        lock.withLock {
            guard entries[id] != nil else { return }
            entries[id]!.busy = busy
            if !busy {
                tick += 1
                entries[id]!.waitingSince = tick
            }
        }
    }
}
