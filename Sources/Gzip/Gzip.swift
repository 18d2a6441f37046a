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
        let result = bytes.withUnsafeBytes { input in Result { () throws(Failure) in try compress(input, level: level) } }
        return try result.get()
    }

    /// The same over raw bytes. The output grows a chunk at a time: a buffer of the input's
    /// bound, zero-filled up front, cost a scrape's whole size again in resident memory.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 1) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        let started = CZlib_deflate_init_gzip(&stream, level)
        guard started == Z_OK else { throw Failure(code: started) }
        defer { deflateEnd(&stream) }
        let chunk = 64 * 1024
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = uInt(input.count)
        var result = Z_OK
        while result == Z_OK {
            let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                result = deflate(&stream, Z_FINISH)
                return out.count - Int(stream.avail_out)
            }
            output.append(contentsOf: buffer[0..<produced])
            if result == Z_BUF_ERROR, produced > 0 { result = Z_OK }  // no progress without room: more room is coming
        }
        guard result == Z_STREAM_END else { throw Failure(code: result) }
        return output
    }
}
