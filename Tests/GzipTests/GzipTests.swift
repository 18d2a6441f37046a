// gzip through zlib: what it writes, gunzip reads back.
import Foundation
import Gzip
import Testing

@Suite struct GzipTests {
    @Test(arguments: [0, 1, 1000, 200_000])
    func whatItWritesGunzipReadsBack(size: Int) throws {
        var input: [UInt8] = []
        var line = 0
        while input.count < size {
            input += Array("aoai_canary_probe_success{resource=\"r\(line % 97)\",auth=\"api_key\"} \(line % 2)\n".utf8)
            line += 1
        }
        input = Array(input.prefix(size))
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
