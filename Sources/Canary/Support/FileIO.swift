// Reading small files with errors that say what went wrong, without Foundation.
#if canImport(Glibc)
import Glibc
#endif

/// Why a file could not be read.
public struct FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var errno: Int32
    /// Said instead of the errno's text when set: why the service in particular could not read
    /// the file (its user, its unit's sandbox), from `check-config`'s view of the service.
    public var detail: String?

    public init(errno: Int32, detail: String? = nil) {
        self.errno = errno
        self.detail = detail
    }

    /// Not an errno: the path names a FIFO, socket or device, which could block a read forever.
    public static let notARegularFile: Int32 = -2

    public var description: String {
        if let detail { return detail }
        switch errno {
        case Self.notARegularFile: return "not a regular file (a FIFO, socket or device could block the agent)"
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        case EISDIR: return "is a directory"
        case EFBIG: return "file too large"
        default: return String(cString: strerror(errno))
        }
    }
}

/// Small-file helpers.
public enum FileIO {
    /// Reads a whole file (at most 16 MiB) as UTF-8 text.
    public static func readText(_ path: String) throws(FileReadError) -> String {
        String(decoding: try readBytes(path, limit: 16 << 20), as: UTF8.self)
    }

    /// Reads a whole regular file, failing with EFBIG past `limit` bytes. Anything else (a FIFO,
    /// a socket, a device) is refused without waiting on it: opening never blocks, and a read of
    /// a regular file ends.
    public static func readBytes(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw FileReadError(errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileReadError(errno: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw FileReadError(errno: EISDIR) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FileReadError(errno: FileReadError.notARegularFile) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileReadError(errno: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit { throw FileReadError(errno: EFBIG) }
        }
        return result
    }

    /// The working directory, or "." when it cannot be had.
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Creates a folder (and no parents), mode 0700.
    public static func makeDirectory(_ path: String) throws(FileReadError) {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw FileReadError(errno: errno) }
    }

    /// Writes a file (used by `demo` to leave its configuration and secrets in a temp folder).
    public static func write(_ text: String, to path: String, mode: mode_t = 0o600) throws(FileReadError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileReadError(errno: errno) }
        defer { close(fd) }
        fchmod(fd, mode)  // the umask must not loosen or tighten what was asked for
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw FileReadError(errno: errno)
            }
            offset += written
        }
    }
}
