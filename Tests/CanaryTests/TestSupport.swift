// Helpers shared by the Canary unit tests: fixture paths and log capture.
import CanaryTestSupport
import Log

/// The folder of this test target's fixture files.
let fixturesDirectory: String = {
    let file = #filePath
    return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
}()

/// An EventLogger whose lines go to `buffer`.
func capturingLogger(_ buffer: TextBuffer = TextBuffer(), format: LogFormat = .logfmt) -> EventLogger {
    EventLogger(format: format, level: .debug) { buffer.append($0) }
}
