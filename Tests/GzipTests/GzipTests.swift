// gzip through zlib: what it writes, gunzip reads back.
import Foundation
import Gzip
import Testing

@Suite struct GzipTests {
    /// Sizes of exposition text, and (negative) of random bytes, which do not compress: their
    /// output spans several of the 64 KiB chunks the output grows by.
    @Test(arguments: [0, 1, 1000, 200_000, -300_000])
    func whatItWritesGunzipReadsBack(size: Int) throws {
        var input: [UInt8] = []
        var line = 0
        if size < 0 {
            var generator = SystemRandomNumberGenerator()
            input = (0 ..< -size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        while input.count < size {
            input += Array("aoai_canary_probe_success{resource=\"r\(line % 97)\",auth=\"api_key\"} \(line % 2)\n".utf8)
            line += 1
        }
        input = Array(input.prefix(abs(size)))
        let compressed = try Gzip.compress(input)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        let path = NSTemporaryDirectory() + "gzip-test-\(UUID().uuidString).gz"
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let gunzip = Process()
        gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gunzip.arguments = ["-dc", path]
        let pipe = Pipe()
        gunzip.standardOutput = pipe
        try gunzip.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        gunzip.waitUntilExit()
        #expect(gunzip.terminationStatus == 0)
        #expect(Array(output) == input)
    }
}
