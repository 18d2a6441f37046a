// The system-call wrappers: failures come back as the errno that caused them.
import Posix
import Testing

@Suite struct SystemTests {
    @Test func aMissingFileIsNoSuchFile() {
        #expect(throws: Errno.noSuchFile) { try System.status(path: "/nonexistent/aoai-canary") }
        #expect(throws: Errno.noSuchFile) { try System.openForReading("/nonexistent/aoai-canary") }
        #expect(Errno.noSuchFile.description == "No such file or directory")
    }

    @Test func statusTellsKindsAndPermissions() throws {
        #expect(try System.status(path: "/").kind == .directory)
        #expect(try System.status(path: "/dev/null").kind == .other)
        let folder = "/tmp/aoai-canary-posix-\(System.monotonicClock())"
        try System.makeDirectory(folder, mode: 0o700)
        #expect(throws: Errno.fileExists) { try System.makeDirectory(folder, mode: 0o700) }
        let fd = try System.openForWriting(folder + "/file", mode: 0o640)
        try System.write(fd, Array("hello".utf8))
        System.close(fd)
        let status = try System.status(path: folder + "/file")
        #expect(status.kind == .regular && status.permissions == 0o640 && status.size == 5)
        #expect(System.directoryEntries(folder) == ["file"])
        let reader = try System.openForReading(folder + "/file")
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(try System.read(reader, into: &buffer) == 5)
        #expect(try System.read(reader, into: &buffer) == 0)
        System.close(reader)
        _ = try System.shellOutput("rm -r '\(folder)'", limit: 0)
        #expect(throws: Errno.noSuchFile) { try System.status(path: folder) }
    }

    @Test func aChildIsSpawnedReadAndReaped() throws {
        let out = try System.makePipe()
        let pid = try System.spawn("sh", ["-c", "printf hi; exit 3"], standardOutput: out.write, standardError: out.write)
        System.close(out.write)
        #expect(try System.pollReadable([out.read], milliseconds: 5000) == [true])
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = try System.read(out.read, into: &buffer)
        System.close(out.read)
        #expect(String(decoding: buffer[0..<count], as: UTF8.self) == "hi")
        #expect(System.waitForExit(pid) == 3)
        #expect(throws: Errno.noSuchFile) {
            try System.spawn("/nonexistent/program", [], standardOutput: 1, standardError: 2)
        }
    }

    @Test func calendarTimesAndShellStatus() throws {
        #expect(System.utc(0) == CalendarTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0))
        #expect(System.utc(1_764_072_000) == CalendarTime(year: 2025, month: 11, day: 25, hour: 12, minute: 0, second: 0))
        // pclose's raw wait status: the exit code in the second byte.
        #expect(try System.shellOutput("exit 4", limit: 0).status == 4 << 8)
    }
}
