// One problem found in a configuration file, located by line and column.
import Support

/// A problem in the configuration: printed as `PATH:LINE:COLUMN: message` like a compiler.
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// The key path, such as `resources[1].interval`; empty for the document itself.
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let subject = keyPath.isEmpty ? "" : "\(keyPath): "
        // A value pasted into the wrong key must not come back in an error.
        return Redaction.cleanShapes("\(file):\(line):\(column): \(subject)\(message)")
    }
}

/// Every problem a file has, so a user can fix them all in one pass.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
