// Strict decoding of the YAML node tree into CanaryConfig, collecting every error with its place.
import Support
import YAML

/// Where secrets and relative paths come from while decoding.
public struct ConfigEnvironment: Sendable {
    /// Environment variables (for `*_env` secrets and `$CREDENTIALS_DIRECTORY`).
    public var variables: [String: String]
    /// The folder relative secret paths resolve against when `$CREDENTIALS_DIRECTORY` is unset.
    public var configDirectory: String
    /// Reads a secret file; replaceable in tests.
    public var readFile: @Sendable (String) throws(FileReadError) -> String

    public init(variables: [String: String], configDirectory: String, readFile: @escaping @Sendable (String) throws(FileReadError) -> String = FileIO.readText)
    {
        self.variables = variables
        self.configDirectory = configDirectory
        self.readFile = readFile
    }

    /// Reads a binary file (certificates), with the same error type.
    func readBytes(_ path: String) throws(FileReadError) -> [UInt8] {
        Array(try readFile(path).utf8)
    }

    /// The folder relative secret paths resolve against.
    public var secretsDirectory: String {
        if let directory = variables["CREDENTIALS_DIRECTORY"], !directory.isEmpty { return directory }
        return configDirectory
    }
}

/// Decodes one file's node tree. Errors are collected, not thrown one at a time.
struct ConfigDecoder {
    let file: String
    let environment: ConfigEnvironment
    private(set) var issues: [ConfigIssue] = []
    /// Where each secret file is named (its resolved path -> the `*_file` key's place), for
    /// warnings about the file to point at.
    var secretFileMarks: [String: ConfigMark] = [:]

    init(file: String, environment: ConfigEnvironment) {
        self.file = file
        self.environment = environment
    }

    mutating func report(_ node: YAMLNode, _ path: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: node.mark.line, column: node.mark.column, keyPath: path, message: message))
    }

    mutating func report(_ mark: YAMLMark, _ path: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: mark.line, column: mark.column, keyPath: path, message: message))
    }

    /// The keys of a mapping, checked against the allowed set: unknown and repeated keys are reported.
    mutating func fields(_ node: YAMLNode, _ path: String, allowed: [String]) -> Fields? {
        guard case .mapping(let pairs, _) = node else {
            report(node, path, "expected a mapping, found \(node.kindName)")
            return nil
        }
        var result = Fields(node: node, path: path)
        for pair in pairs {
            guard case .scalar(let key, _, _) = pair.key else {
                report(pair.key, path, "keys must be plain strings")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if !allowed.contains(key) {
                report(pair.key, keyPath, "unknown key \"\(key)\"\(suggestion(for: key, in: allowed))")
            } else if result.values[key] != nil {
                report(pair.key, keyPath, "duplicate key \"\(key)\"")
            } else {
                result.values[key] = pair.value
                result.order.append(key)
            }
        }
        return result
    }

    /// A required or optional string; reports a missing or non-scalar value.
    mutating func string(_ fields: Fields, _ key: String, required: Bool = false) -> String? {
        guard let node = fields.values[key], !node.isNull else {
            if required { report(fields.node, fields.path(key), "missing required key \"\(key)\"") }
            return nil
        }
        guard case .scalar(let value, _, _) = node else {
            report(node, fields.path(key), "expected a string, found \(node.kindName)")
            return nil
        }
        if value.isEmpty {
            report(node, fields.path(key), "must not be empty")
            return nil
        }
        return value
    }

    /// A duration such as `30s`, within `bounds` (every duration the file accepts is one the
    /// agent can use: no timer, sleep or libcurl option overflows on it).
    mutating func duration(_ fields: Fields, _ key: String, within bounds: ClosedRange<Duration>) -> Duration? {
        guard let text = string(fields, key), let node = fields.values[key] else { return nil }
        guard let value = PromDuration.parse(text) else {
            report(node, fields.path(key), "invalid duration \"\(text)\": use a number and a unit, as in 500ms, 30s, 5m or 1h")
            return nil
        }
        guard value > .zero else {
            report(node, fields.path(key), "must be greater than zero")
            return nil
        }
        guard bounds.contains(value) else {
            report(
                node, fields.path(key), "must be between \(PromDuration.format(bounds.lowerBound)) and \(PromDuration.format(bounds.upperBound)), found \(text)"
            )
            return nil
        }
        return value
    }

    /// One of a fixed set of words.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ fields: Fields, _ key: String, as type: T.Type) -> T? where T.RawValue == String {
        guard let text = string(fields, key), let node = fields.values[key] else { return nil }
        guard let value = T(rawValue: text) else {
            let options = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            report(node, fields.path(key), "invalid value \"\(text)\": expected one of \(options)")
            return nil
        }
        return value
    }

    /// An absolute http(s) URL, returned with a trailing slash.
    mutating func url(_ fields: Fields, _ key: String, required: Bool) -> String? {
        guard let text = string(fields, key, required: required), let node = fields.values[key] else { return nil }
        // A key in the query or a user and password in the authority: say so, and never repeat
        // the value, which holds a secret.
        let authority = text.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).dropFirst(2).first ?? ""
        if authority.contains("@") {
            report(
                node, fields.path(key),
                "must not carry credentials (user:password@ in the URL; the value is not repeated): give the key with api_key_file or api_key_env")
            return nil
        }
        if text.contains("?") || text.contains("#") {
            report(
                node, fields.path(key),
                "must not have a query or fragment (an api-key there would be a secret in the file; the value is not repeated): give the endpoint alone, and "
                    + "the key with api_key_file or api_key_env"
            )
            return nil
        }
        guard let parsed = EndpointURL(text) else {
            report(node, fields.path(key), "\"\(text)\" is not an absolute http:// or https:// URL")
            return nil
        }
        return parsed.normalized
    }

    /// A secret given as `<prefix>_file` or `<prefix>_env`: exactly one when required, at most one otherwise.
    mutating func secret(_ fields: Fields, prefix: String, required: Bool) -> (Secret, SecretSource)? {
        let fileKey = "\(prefix)_file"
        let envKey = "\(prefix)_env"
        let file = string(fields, fileKey)
        let variable = string(fields, envKey)
        switch (file, variable) {
        case (.some, .some):
            report(fields.values[envKey] ?? fields.node, fields.path(envKey), "give either \(fileKey) or \(envKey), not both")
            return nil
        case (nil, nil):
            if required { report(fields.node, fields.path(fileKey), "missing \(fileKey) or \(envKey)") }
            return nil
        case (.some(let path), nil):
            let node = fields.values[fileKey]!
            let resolved = path.hasPrefix("/") ? path : joinPath(environment.secretsDirectory, path)
            secretFileMarks[resolved] = ConfigMark(line: node.mark.line, column: node.mark.column)
            // Someone may paste the secret itself here: a value that does not look like a file
            // name is never repeated in a message.
            let shown = shownPath(path, resolved: resolved)
            do {
                let value = try environment.readFile(resolved).trimmingTrailingWhitespace()
                guard !value.isEmpty else {
                    report(node, fields.path(fileKey), "secret file \(shown) is empty")
                    return nil
                }
                return (Secret(value), .file(resolved))
            } catch {
                report(node, fields.path(fileKey), "cannot read secret file \(shown): \(error)")
                return nil
            }
        case (nil, .some(let name)):
            let node = fields.values[envKey]!
            guard isVariableName(name) else {
                report(node, fields.path(envKey), "must name an environment variable (letters, digits and _; the value given is not repeated)")
                return nil
            }
            guard let value = environment.variables[name]?.trimmingTrailingWhitespace(), !value.isEmpty else {
                // A key or secret pasted here by mistake can be a valid variable name too: only a
                // name that looks like a conventional one is repeated.
                let shown =
                    looksLikeConventionalVariableName(name)
                    ? "environment variable \(name)"
                    : "the environment variable named here (not repeated: it looks like it could be a secret pasted by mistake)"
                report(node, fields.path(envKey), "\(shown) is not set or empty")
                return nil
            }
            return (Secret(value), .environment(name))
        }
    }
}

/// `APP_SECRET`: letters, digits and underscores, not starting with a digit.
func isVariableName(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, !(("0"..."9").contains(first)) else { return false }
    return text.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
}

/// Upper case, digits and `_`, and either short or with an `_`: what people name variables, and
/// what a pasted key (hex, or mixed-case base62 with no `_`) is not.
func looksLikeConventionalVariableName(_ name: String) -> Bool {
    isVariableName(name) && name.uppercased() == name && name.count <= 64 && (name.count < 20 || name.contains("_"))
}

/// A path or a file name with an extension, without the `~` that Entra ID client secrets carry:
/// what a secret file's name looks like, and what a pasted key or secret does not.
func looksLikeFileName(_ text: String) -> Bool {
    guard !text.isEmpty, !Redaction.looksLikeSecret(text), !text.contains("~"), !text.contains(" ") else { return false }
    if text.contains("/") { return true }
    guard let dot = text.lastIndex(of: "."), dot != text.startIndex else { return false }
    let extensionText = text[text.index(after: dot)...]
    return (1...10).contains(extensionText.count) && extensionText.allSatisfy { $0.isLetter || $0.isNumber }
}

/// How a file key's value is shown in a message: its resolved path when the value looks like a
/// file name, and never the value itself otherwise (a secret pasted into the key by mistake).
func shownPath(_ value: String, resolved: String) -> String {
    looksLikeFileName(value) ? resolved : "(the value given, not repeated: it does not look like a file name)"
}

/// The checked keys of one mapping.
struct Fields {
    let node: YAMLNode
    let path: String
    var values: [String: YAMLNode] = [:]
    var order: [String] = []

    init(node: YAMLNode, path: String) {
        self.node = node
        self.path = path
    }

    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// "did you mean" for a misspelt key: the allowed key with the smallest edit distance, if close.
private func suggestion(for key: String, in allowed: [String]) -> String {
    let scored = allowed.map { ($0, editDistance(Array(key), Array($0))) }.min { $0.1 < $1.1 }
    guard let (best, distance) = scored, distance <= max(2, key.count / 3) else { return "" }
    return " (did you mean \"\(best)\"?)"
}

private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    var previous = Array(0...b.count)
    for (i, ca) in a.enumerated() {
        var current = [i + 1] + Array(repeating: 0, count: b.count)
        for (j, cb) in b.enumerated() {
            current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

extension String {
    package func trimmingTrailingWhitespace() -> String {
        var end = endIndex
        while end > startIndex, let last = self[..<end].last, last.isWhitespace { end = index(before: end) }
        return String(self[..<end])
    }
}
