// Reading a configuration file from disk: parse, decode, validate, read the secrets.
import Support
import YAML

/// Loads and validates configuration files.
public enum ConfigLoader {
    /// Loads `path`. Throws `ConfigErrors` with every problem found, each with line and column.
    /// `readFile` reads the file and every file it names (`ServiceView.readFile` reads them as
    /// the service would).
    public static func load(
        path: String, variables: [String: String],
        readFile: @escaping @Sendable (String) throws(FileReadError) -> String = FileIO.readText
    ) throws(ConfigErrors) -> CanaryConfig {
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(file: path, line: 1, column: 1, keyPath: "", message: "cannot read the configuration: \(error)")])
        }
        let environment = ConfigEnvironment(variables: variables, configDirectory: directoryName(of: path), readFile: readFile)
        return try decode(text, file: path, environment: environment)
    }

    /// Decodes configuration text; `file` is used in messages only.
    public static func decode(_ text: String, file: String, environment: ConfigEnvironment) throws(ConfigErrors) -> CanaryConfig {
        let root = try parseYAML(text, file: file)
        var decoder = ConfigDecoder(file: file, environment: environment)
        let config = decoder.decodeDocument(root)
        guard let config, decoder.issues.isEmpty else {
            throw ConfigErrors(issues: decoder.issues.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return config
    }

    /// The document's node tree; a syntax error is reported at its place in `file`.
    static func parseYAML(_ text: String, file: String) throws(ConfigErrors) -> YAMLNode? {
        do {
            return try YAMLParser.parse(text)
        } catch {
            throw ConfigErrors(issues: [
                ConfigIssue(file: file, line: error.mark.line, column: error.mark.column, keyPath: "", message: "YAML syntax error: \(error.message)")
            ])
        }
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
