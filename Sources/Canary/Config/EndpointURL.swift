// The parts of an absolute http(s) URL that the canary needs, without Foundation's URL.

/// An absolute `http://` or `https://` URL split into scheme, host, port and path.
public struct EndpointURL: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int?
    public var path: String

    public init?(_ text: String) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        let rest = text.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains(where: { $0 == " " }) else { return nil }
        var host = Substring(authority)
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()), (1...65535).contains(value) else { return nil }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else { return nil }
            host = authority[..<colon]
            port = value
        }
        guard !host.isEmpty else { return nil }
        let path = rest[authorityEnd...]
        guard !path.contains("?"), !path.contains("#") else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.path = path.isEmpty ? "/" : String(path)
    }

    /// The URL with a trailing slash, ready to have API paths appended.
    public var normalized: String {
        let portText = port.map { ":\($0)" } ?? ""
        let pathText = path.hasSuffix("/") ? path : path + "/"
        return "\(scheme)://\(host)\(portText)\(pathText)"
    }
}
