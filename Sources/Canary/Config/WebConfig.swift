// `--web.config.file`: TLS and basic auth for the metrics endpoint, in the Prometheus
// exporter-toolkit's format, so scrape configs and habits from other exporters carry over.
import Crypto
import HTTPServer
import Support
import YAML

/// The metrics endpoint's TLS and basic-auth settings.
public struct WebConfig: Sendable {
    /// Whether and how clients must show a certificate; the exporter-toolkit's names.
    /// `client_auth_type`: the HTTP server's own policy type, which it applies to every request.
    public typealias ClientAuth = ClientCertificatePolicy

    /// A TLS protocol version, as `min_version` and `max_version` name them.
    public enum TLSVersion: String, Sendable, CaseIterable, Comparable {
        case tls10 = "TLS10"
        case tls11 = "TLS11"
        case tls12 = "TLS12"
        case tls13 = "TLS13"

        /// GnuTLS's name for the version in a priority string.
        var gnuTLSName: String {
            switch self {
            case .tls10: return "VERS-TLS1.0"
            case .tls11: return "VERS-TLS1.1"
            case .tls12: return "VERS-TLS1.2"
            case .tls13: return "VERS-TLS1.3"
            }
        }

        public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public struct TLS: Sendable {
        public var certificateChainPEM: String
        public var privateKeyPEM: Secret
        public var clientCAsPEM: String?
        public var clientAuth: ClientAuth
        public var minVersion: TLSVersion
        public var maxVersion: TLSVersion
        /// When the server certificate expires (epoch seconds), for the start-up log.
        public var certificateNotAfter: Double?

        /// The GnuTLS priority string for the allowed protocol versions.
        public var priorities: String {
            let versions = TLSVersion.allCases.filter { $0 >= minVersion && $0 <= maxVersion }.reversed()
            return "NORMAL:-VERS-ALL:" + versions.map { "+" + $0.gnuTLSName }.joined(separator: ":")
        }
    }

    /// nil: plain HTTP.
    public var tls: TLS?
    /// User name to crypt(3) hash (bcrypt); empty: no basic auth.
    public var users: [String: String]

    public init(tls: TLS? = nil, users: [String: String] = [:]) {
        self.tls = tls
        self.users = users
    }
}

/// Reads and checks a web configuration file; every problem is reported with its line.
public enum WebConfigLoader {
    public static func load(path: String) throws(ConfigErrors) -> WebConfig {
        let text: String
        do {
            text = try FileIO.readText(path)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(file: path, line: 1, column: 1, keyPath: "", message: "cannot read the web configuration: \(error)")])
        }
        return try decode(text, file: path, directory: ConfigLoader.directoryName(of: path))
    }

    /// Decodes web configuration text; relative file names resolve against `directory`, as the
    /// exporter-toolkit resolves them against the file's own folder.
    public static func decode(_ text: String, file: String, directory: String) throws(ConfigErrors) -> WebConfig {
        let root = try ConfigLoader.parseYAML(text, file: file)
        var decoder = WebConfigDecoder(
            base: ConfigDecoder(file: file, environment: ConfigEnvironment(variables: [:], configDirectory: directory)), directory: directory)
        let config = root.flatMap { decoder.document($0) } ?? WebConfig()
        guard decoder.base.issues.isEmpty else {
            throw ConfigErrors(issues: decoder.base.issues.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return config
    }
}

/// The exporter-toolkit keys this agent does not implement: named, so the error says so rather
/// than calling a documented key unknown.
private let unsupportedTLSKeys = ["cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"]

private struct WebConfigDecoder {
    var base: ConfigDecoder
    let directory: String

    mutating func document(_ node: YAMLNode) -> WebConfig? {
        if node.isNull { return WebConfig() }
        guard let fields = base.fields(node, "", allowed: ["tls_server_config", "basic_auth_users", "http_server_config", "rate_limit"]) else { return nil }
        if let rateLimit = fields.values["rate_limit"] {
            base.report(
                rateLimit, "rate_limit",
                "not supported by aoai-canary: the endpoint limits connections per client address instead (see the README's Security section)")
        }
        if let http = fields.values["http_server_config"], !http.isNull,
            let httpFields = base.fields(http, "http_server_config", allowed: ["http2", "headers"])
        {
            if let headers = httpFields.values["headers"] {
                base.report(headers, "http_server_config.headers", "not supported by aoai-canary")
            }
            // http2 is accepted for compatibility; the endpoint speaks HTTP/1.1 either way.
        }
        var config = WebConfig()
        if let tlsNode = fields.values["tls_server_config"], !tlsNode.isNull {
            config.tls = tls(tlsNode)
        }
        if let usersNode = fields.values["basic_auth_users"], !usersNode.isNull {
            config.users = users(usersNode)
        }
        return config
    }

    mutating func tls(_ node: YAMLNode) -> WebConfig.TLS? {
        let path = "tls_server_config"
        let known = ["cert_file", "key_file", "cert", "key", "client_ca_file", "client_ca", "client_auth_type", "min_version", "max_version"]
        guard let fields = base.fields(node, path, allowed: known + unsupportedTLSKeys) else { return nil }
        for key in unsupportedTLSKeys {
            if let value = fields.values[key] { base.report(value, fields.path(key), "not supported by aoai-canary (GnuTLS's defaults apply); remove it") }
        }
        let certificatePEM = pem(fields, fileKey: "cert_file", inlineKey: "cert", required: true)
        let keyPEM = pem(fields, fileKey: "key_file", inlineKey: "key", required: true, secret: true)
        let clientCAs = pem(fields, fileKey: "client_ca_file", inlineKey: "client_ca", required: false)
        var clientAuth = WebConfig.ClientAuth.noClientCert
        if let node = fields.values["client_auth_type"], case .scalar("RequireClientCert", _, _) = node {
            clientAuth = .requireAnyClientCert  // the exporter-toolkit's older name
        } else if let chosen = base.choice(fields, "client_auth_type", as: WebConfig.ClientAuth.self) {
            clientAuth = chosen
        }
        let minVersion = base.choice(fields, "min_version", as: WebConfig.TLSVersion.self) ?? .tls12
        let maxVersion = base.choice(fields, "max_version", as: WebConfig.TLSVersion.self) ?? .tls13
        if minVersion > maxVersion, let node = fields.values["min_version"] ?? fields.values["max_version"] {
            base.report(node, fields.path("min_version"), "min_version \(minVersion.rawValue) is above max_version \(maxVersion.rawValue)")
        }
        let authNode = fields.values["client_auth_type"] ?? node
        if clientCAs != nil, clientAuth == .noClientCert {
            base.report(
                authNode, fields.path("client_auth_type"), "client CAs are configured without a client_auth_type: set one, such as RequireAndVerifyClientCert")
        }
        if clientCAs == nil, clientAuth != .noClientCert {
            // libmicrohttpd asks clients for a certificate only when it has CAs to check them against.
            base.report(
                authNode, fields.path("client_auth_type"),
                "\(clientAuth.rawValue) needs client_ca_file (or client_ca): the CAs client certificates are checked against")
        }
        guard let certificatePEM, let keyPEM else { return nil }
        let certificateNode = fields.values["cert_file"] ?? fields.values["cert"] ?? node
        let certificate: Certificate
        do {
            certificate = try Certificate(pem: Array(certificatePEM.utf8))
        } catch {
            base.report(certificateNode, fields.path(fields.values["cert_file"] != nil ? "cert_file" : "cert"), "not a PEM certificate: \(error)")
            return nil
        }
        let keyNode = fields.values["key_file"] ?? fields.values["key"] ?? node
        let keyKey = fields.path(fields.values["key_file"] != nil ? "key_file" : "key")
        guard let key = try? PrivateKey(pem: Array(keyPEM.utf8)) else {
            base.report(keyNode, keyKey, "not a PEM private key (PKCS#8, RSA or EC, unencrypted)")
            return nil
        }
        guard key.matches(certificate) else {
            base.report(keyNode, keyKey, "the private key does not belong to the certificate")
            return nil
        }
        if let clientCAs, (try? Certificate(pem: Array(clientCAs.utf8))) == nil {
            let caKey = fields.values["client_ca_file"] != nil ? "client_ca_file" : "client_ca"
            base.report(fields.values[caKey] ?? node, fields.path(caKey), "holds no PEM certificate")
        }
        return WebConfig.TLS(
            certificateChainPEM: certificatePEM, privateKeyPEM: Secret(keyPEM), clientCAsPEM: clientCAs, clientAuth: clientAuth,
            minVersion: minVersion, maxVersion: maxVersion, certificateNotAfter: certificate.notAfter)
    }

    /// PEM text from `<fileKey>` (a path) or `<inlineKey>` (the text itself): one of them.
    mutating func pem(_ fields: Fields, fileKey: String, inlineKey: String, required: Bool, secret: Bool = false) -> String? {
        let file = base.string(fields, fileKey)
        let inline = base.string(fields, inlineKey)
        switch (file, inline) {
        case (.some, .some):
            base.report(fields.values[inlineKey]!, fields.path(inlineKey), "give either \(fileKey) or \(inlineKey), not both")
            return nil
        case (nil, nil):
            if required { base.report(fields.node, fields.path(fileKey), "missing \(fileKey) (or \(inlineKey))") }
            return nil
        case (nil, .some(let text)):
            return text
        case (.some(let path), nil):
            let resolved = path.hasPrefix("/") ? path : joinPath(directory, path)
            do {
                return try FileIO.readText(resolved)
            } catch {
                let shown = secret && !looksLikeFileName(path) ? "(the value given, not repeated: it does not look like a file name)" : resolved
                base.report(fields.values[fileKey]!, fields.path(fileKey), "cannot read \(shown): \(error)")
                return nil
            }
        }
    }

    mutating func users(_ node: YAMLNode) -> [String: String] {
        guard case .mapping(let pairs, _) = node else {
            base.report(node, "basic_auth_users", "expected a mapping of user names to bcrypt hashes, found \(node.kindName)")
            return [:]
        }
        var users: [String: String] = [:]
        for pair in pairs {
            guard case .scalar(let name, _, _) = pair.key, !name.isEmpty, !name.contains(":") else {
                base.report(pair.key, "basic_auth_users", "a user name must be a non-empty string without \":\"")
                continue
            }
            let path = "basic_auth_users.\(name)"
            guard users[name] == nil else {
                base.report(pair.key, path, "duplicate user \"\(name)\"")
                continue
            }
            // The hash is not a secret in the way a password is, but it is still not repeated.
            guard case .scalar(let hash, _, _) = pair.value, PasswordHash.isBcrypt(hash) else {
                base.report(pair.value, path, "expected a bcrypt hash ($2y$, $2b$ or $2a$), as made by htpasswd -nBC 10 \"\" | tr -d ':\\n'")
                continue
            }
            guard PasswordHash.check(password: "", against: hash) != .unusableHash else {
                base.report(pair.value, path, "libcrypt cannot read this bcrypt hash (cut short or mistyped?)")
                continue
            }
            users[name] = hash
        }
        return users
    }
}
