// gzip compression over zlib (the only importer of CZlib), for scrapers that accept it.
import CZlib

/// Compresses bytes into the gzip format.
public enum Gzip {
    /// Why compression failed: zlib's code.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var code: Int32
        public var description: String { "zlib error \(code)" }
    }

    /// `bytes` in gzip. Level 1: a scrape is compressed once and sent at once, so speed counts
    /// more than the last percent (Prometheus's own text is about a tenth of its size at it).
    public static func compress(_ bytes: [UInt8], level: Int32 = 1) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        let started = CZlib_deflate_init_gzip(&stream, level)
        guard started == Z_OK else { throw Failure(code: started) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        let result: Int32 = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { throw Failure(code: result) }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }
}
