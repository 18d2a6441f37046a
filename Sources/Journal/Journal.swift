// journald and the service manager: native structured entries, sd_notify, and stderr detection.
import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Writes structured entries to the systemd journal.
public enum Journal {
    /// Sends one entry; `fields` are journald field names (upper case) and values.
    /// Returns false when the journal could not be reached, so the caller can fall back.
    @discardableResult
    public static func send(_ fields: [(name: String, value: String)]) -> Bool {
        // One contiguous buffer holds every FIELD=value; the iovecs point into it.
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = storage.count
            storage.append(contentsOf: "\(field.name)=\(field.value)".utf8)
            ranges.append(start..<storage.count)
        }
        let result: Int32 = storage.withUnsafeMutableBytes { bytes in
            let vectors = ranges.map { iovec(iov_base: bytes.baseAddress! + $0.lowerBound, iov_len: $0.count) }
            return sd_journal_sendv(vectors, Int32(vectors.count))
        }
        return result >= 0
    }

    /// True when stderr is connected to the journal (systemd set `JOURNAL_STREAM` to its device and inode).
    public static var stderrIsJournal: Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}

/// Talks to the service manager (`Type=notify` units); every call is a no-op outside systemd.
public enum ServiceManager {
    /// Sends a state string such as `READY=1`, `STATUS=...`, `WATCHDOG=1` or `STOPPING=1`.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// Sockets passed by socket activation (`LISTEN_FDS`), starting at descriptor 3; empty otherwise.
    /// The environment variables are unset so children do not inherit them.
    public static func listenDescriptors() -> [Int32] {
        let count = sd_listen_fds(1)
        guard count > 0 else { return [] }
        return (0..<count).map { SD_LISTEN_FDS_START + $0 }
    }

    /// How often systemd wants `WATCHDOG=1`, in seconds; nil when the unit has no watchdog.
    public static var watchdogInterval: Double? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return Double(microseconds) / 1_000_000
    }
}
