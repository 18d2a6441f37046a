// Helpers shared by the Canary unit tests: fixture paths and log capture.
import Canary
import Synchronization

/// The folder of this test target's fixture files.
let fixturesDirectory: String = {
    let file = #filePath
    return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
}()

/// Collects log lines written by an EventLogger.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func logger(_ format: LogFormat = .logfmt, level: LogLevel = .debug) -> EventLogger {
        EventLogger(format: format, level: level) { line in self.lines.withLock { $0.append(line) } }
    }
}
