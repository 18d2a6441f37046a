// Reading small files with errors that say what went wrong, without Foundation.
import Posix

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
        case Errno.noSuchFile.code: return "no such file"
        case Errno.permissionDenied.code: return "permission denied"
        case Errno.isADirectory.code: return "is a directory"
        case Errno.fileTooLarge.code: return "file too large"
        default: return Errno(code: errno).description
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
        do throws(Errno) {
            let fd = try System.openForReading(path)
            defer { System.close(fd) }
            switch try System.status(fd: fd).kind {
            case .regular: break
            case .directory: throw Errno.isADirectory
            case .other: throw Errno(code: FileReadError.notARegularFile)
            }
            var result: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = try System.read(fd, into: &buffer)
                if count == 0 { break }
                result.append(contentsOf: buffer[0..<count])
                if result.count > limit { throw Errno.fileTooLarge }
            }
            return result
        } catch {
            throw FileReadError(errno: error.code)
        }
    }

    /// The working directory, or "." when it cannot be had.
    public static func currentDirectory() -> String {
        System.currentDirectory() ?? ""
    }

    /// Creates a folder (and no parents), mode 0700.
    public static func makeDirectory(_ path: String) throws(FileReadError) {
        do throws(Errno) {
            try System.makeDirectory(path, mode: 0o700)
        } catch  where error == .fileExists {
        } catch {
            throw FileReadError(errno: error.code)
        }
    }

    /// Writes a file (used by `demo` to leave its configuration and secrets in a temp folder).
    public static func write(_ text: String, to path: String, mode: UInt32 = 0o600) throws(FileReadError) {
        do throws(Errno) {
            let fd = try System.openForWriting(path, mode: mode)  // the umask must not loosen or tighten what was asked for
            defer { System.close(fd) }
            try System.write(fd, Array(text.utf8))
        } catch {
            throw FileReadError(errno: error.code)
        }
    }
}
