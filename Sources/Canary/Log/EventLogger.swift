// Structured log entries to journald, or as logfmt or JSON lines on stderr.
import JSON
import Journal
import Posix
import Support

/// Where and how log entries are written. Raw values are the `--log-format` words.
public enum LogFormat: String, Sendable, CaseIterable {
    /// journald when stderr is connected to it (systemd's `JOURNAL_STREAM`), else logfmt.
    case auto
    case journal
    case logfmt
    case json
}

/// The lowest priority written. Raw values are the `--log-level` words.
public enum LogLevel: String, Sendable, CaseIterable {
    case debug, info, warning, error

    var maximumPriority: Int {
        switch self {
        case .debug: return 7
        case .info: return 6
        case .warning: return 4
        case .error: return 3
        }
    }
}

/// syslog priorities, as journald's PRIORITY field carries them.
public enum LogPriority: Int, Sendable {
    case error = 3
    case warning = 4
    case notice = 5
    case info = 6
    case debug = 7

    var name: String {
        switch self {
        case .error: return "error"
        case .warning: return "warning"
        case .notice: return "notice"
        case .info: return "info"
        case .debug: return "debug"
        }
    }
}

/// Writes one structured entry per call. Field names are journald's (upper case); logfmt and
/// JSON use them lower-cased. Callers never pass secrets: fields carry names, codes and numbers.
public final class EventLogger: Sendable {
    /// The format after `auto` was resolved.
    public let format: LogFormat
    private let level: LogLevel
    private let write: @Sendable (String) -> Void
    public static let identifier = "aoai-canary"

    public init(format: LogFormat, level: LogLevel, write: @escaping @Sendable (String) -> Void = EventLogger.writeStderr) {
        self.format = format == .auto ? (Journal.stderrIsJournal ? .journal : .logfmt) : format
        self.level = level
        self.write = write
    }

    public func log(_ priority: LogPriority, _ message: String, _ fields: [(String, String)] = []) {
        guard priority.rawValue <= level.maximumPriority else { return }
        // Whatever a message carries (an upstream's echo, a value pasted into the wrong key), no
        // secret the agent holds, no JWT and no PEM block reaches the log.
        let message = Redaction.clean(message)
        let fields = fields.map { ($0.0, Redaction.clean($0.1)) }
        switch format {
        case .journal:
            var entry: [(name: String, value: String)] = [
                ("MESSAGE", message), ("PRIORITY", String(priority.rawValue)), ("SYSLOG_IDENTIFIER", Self.identifier),
            ]
            entry += fields.map { (name: $0.0, value: $0.1) }
            if !Journal.send(entry) { write(logfmt(priority, message, fields)) }
        case .json:
            write(json(priority, message, fields))
        case .logfmt, .auto:
            write(logfmt(priority, message, fields))
        }
    }

    func logfmt(_ priority: LogPriority, _ message: String, _ fields: [(String, String)]) -> String {
        var line = "time=\(Timestamp.iso8601(wallSeconds: SystemClock().wallSeconds)) level=\(priority.name) msg=\(logfmtValue(message))"
        for (name, value) in fields { line += " \(name.lowercased())=\(logfmtValue(value))" }
        return line + "\n"
    }

    func json(_ priority: LogPriority, _ message: String, _ fields: [(String, String)]) -> String {
        var object: [(String, String)] = [("time", Timestamp.iso8601(wallSeconds: SystemClock().wallSeconds)), ("level", priority.name), ("msg", message)]
        object += fields.map { ($0.0.lowercased(), $0.1) }
        return "{" + object.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}\n"
    }

    private func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || isUnsafeInText($0) }
        guard needsQuotes else { return value }
        return jsonString(value)
    }

    public static let writeStderr: @Sendable (String) -> Void = { line in
        System.writeStandardError(line)
    }
}

/// Time stamps in UTC without Foundation's formatters.
public enum Timestamp {
    /// `2026-11-25T12:00:00.123Z`.
    public static func iso8601(wallSeconds: Double) -> String {
        // Claims and headers come from outside: years beyond 9999 are not times worth printing.
        guard wallSeconds.isFinite, abs(wallSeconds) < 253_402_300_800 else { return "(out of range)" }
        let parts = System.utc(Int(wallSeconds.rounded(.down)))
        let milliseconds = Int((wallSeconds - wallSeconds.rounded(.down)) * 1000)
        func two(_ value: Int) -> String { String(value).leftPadded(to: 2) }
        let date = "\(parts.year)-\(two(parts.month))-\(two(parts.day))"
        return "\(date)T\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)).\(String(milliseconds).leftPadded(to: 3))Z"
    }
}
