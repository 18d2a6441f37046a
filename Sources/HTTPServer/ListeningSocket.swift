// Binding a listening TCP socket for HOST:PORT, IPv4 or IPv6, and reading back the bound port.
#if canImport(Glibc)
import Glibc
#endif

/// A resolved socket address, printable as `HOST:PORT` or `[HOST]:PORT`.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isIPv6: Bool

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The host as it goes in a URL: IPv6 literals in brackets.
    public var urlHost: String { isIPv6 ? "[\(host)]" : host }

    /// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (all addresses); does not resolve.
    public static func parse(_ text: String) -> (host: String, port: Int)? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            if host.contains(":") { return nil }
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port), !portText.isEmpty else { return nil }
        if host.isEmpty { host = "0.0.0.0" }
        return (String(host), port)
    }
}

/// A bound, listening, non-blocking TCP socket.
public struct ListeningSocket: Sendable {
    public let fd: Int32
    public let address: SocketAddress

    /// Wraps a descriptor that is already listening (socket activation).
    public init(adopting fd: Int32) throws(HTTPServerError) {
        guard let address = Self.localAddress(of: fd) else { throw .bindFailed(address: "fd \(fd)", errno: errno) }
        self.fd = fd
        self.address = address
    }

    private init(fd: Int32, address: SocketAddress) {
        self.fd = fd
        self.address = address
    }

    /// Parses `HOST:PORT` and binds it.
    public static func bind(_ listen: String) throws(HTTPServerError) -> ListeningSocket {
        guard let (host, port) = SocketAddress.parse(listen) else { throw .invalidAddress(listen) }
        return try bind(host: host, port: port)
    }

    /// Resolves `host` (numeric or a name) and binds the first address that works.
    public static func bind(host: String, port: Int) throws(HTTPServerError) -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw .resolveFailed(host: host, message: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(result) }
        var lastErrno: Int32 = 0
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd < 0 {
                lastErrno = errno
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if info.pointee.ai_family == AF_INET6 {
                // "::" should mean IPv6 only when asked for; keep v6 sockets v6-only for predictability.
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 128) == 0,
                let address = localAddress(of: fd)
            {
                return ListeningSocket(fd: fd, address: address)
            }
            lastErrno = errno
            close(fd)
        }
        throw .bindFailed(address: "\(host):\(port)", errno: lastErrno)
    }

    static func localAddress(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        var hostBuffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var portBuffer = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &hostBuffer, socklen_t(hostBuffer.count), &portBuffer, socklen_t(portBuffer.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return nil }
        let host = cString(hostBuffer)
        return SocketAddress(host: host, port: Int(cString(portBuffer)) ?? 0, isIPv6: Int32(storage.ss_family) == AF_INET6)
    }
}

/// Decodes a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
