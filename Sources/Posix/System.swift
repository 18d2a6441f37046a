// The system calls the agent makes, in one place, as swift-nio keeps them in NIOPosix/System.swift:
// each retries on EINTR where that is right and turns a failure into an `Errno`, so the layers of
// Canary never import Glibc.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call's errno.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Int32

    public init(code: Int32) {
        self.code = code
    }

    /// The calling thread's errno, read right after the call that failed.
    public static var current: Errno { Errno(code: errno) }

    public static let noSuchFile = Errno(code: ENOENT)
    public static let permissionDenied = Errno(code: EACCES)
    public static let isADirectory = Errno(code: EISDIR)
    public static let fileTooLarge = Errno(code: EFBIG)
    public static let fileExists = Errno(code: EEXIST)

    /// The C library's text for it ("No such file or directory").
    public var description: String { String(cString: strerror(code)) }
}

/// What `stat` says of a file.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case regular, directory, other
    }

    public var kind: Kind
    /// The permission bits, with set-id and sticky (`st_mode & 07777`).
    public var permissions: UInt32
    public var owner: UInt32
    public var group: UInt32
    public var size: Int64
    public var device: UInt64
    public var inode: UInt64
    public var modifiedSeconds: Int
    public var modifiedNanoseconds: Int

    init(_ info: stat) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        permissions = UInt32(info.st_mode) & 0o7777
        owner = info.st_uid
        group = info.st_gid
        size = Int64(info.st_size)
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}

/// A broken-down calendar time.
public struct CalendarTime: Sendable, Equatable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }
}

/// The system calls, by what they do.
public enum System {
    // MARK: Files

    /// Opens a file for reading without blocking on a FIFO or device, and without it becoming the
    /// controlling terminal; close-on-exec.
    public static func openForReading(_ path: String) throws(Errno) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw .current }
        return fd
    }

    /// Creates or truncates a file for writing, with exactly `mode` whatever the umask.
    public static func openForWriting(_ path: String, mode: UInt32) throws(Errno) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw .current }
        guard fchmod(fd, mode_t(mode)) == 0 else {
            let error = Errno.current
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Creates a file that must not exist yet, with exactly `mode`; close-on-exec.
    public static func createExclusive(_ path: String, mode: UInt32) throws(Errno) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw .current }
        return fd
    }

    public static func removeFile(_ path: String) throws(Errno) {
        guard unlink(path) == 0 else { throw .current }
    }

    /// Removes an empty folder.
    public static func removeDirectory(_ path: String) throws(Errno) {
        guard rmdir(path) == 0 else { throw .current }
    }

    /// Creates a private folder from `template`, whose last six characters are `XXXXXX`; its path.
    public static func makeTemporaryDirectory(template: String) throws(Errno) -> String {
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw .current }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Reads what is there into `buffer`, up to its size; 0 at the end of the file.
    public static func read(_ fd: Int32, into buffer: inout [UInt8]) throws(Errno) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count >= 0 { return count }
            if errno != EINTR { throw .current }
        }
    }

    /// Writes all of `bytes`.
    public static func write(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .current
            }
            offset += written
        }
    }

    /// Writes a line to standard error, ignoring a failure: there is nowhere left to report it.
    public static func writeStandardError(_ text: String) {
        try? write(2, Array(text.utf8))
    }

    public static func status(path: String) throws(Errno) -> FileStatus {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .current }
        return FileStatus(info)
    }

    public static func status(fd: Int32) throws(Errno) -> FileStatus {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .current }
        return FileStatus(info)
    }

    /// Creates a folder (and no parents).
    public static func makeDirectory(_ path: String, mode: UInt32) throws(Errno) {
        guard mkdir(path, mode_t(mode)) == 0 else { throw .current }
    }

    /// Whether the calling process may run `path`.
    public static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }

    /// The names in a folder, without `.` and `..`; empty when it cannot be read.
    public static func directoryEntries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The working directory, or nil when it cannot be had.
    public static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Users and groups

    /// The uid and every group (primary and supplementary) of a user, or nil if there is none.
    public static func account(named name: String) -> (uid: UInt32, groups: [UInt32])? {
        guard let entry = getpwnam(name) else { return nil }
        let uid = entry.pointee.pw_uid
        let primary = entry.pointee.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, primary, &groups, &count)
        }
        return (uid, Array(groups.prefix(Int(max(count, 0)))) + [primary])
    }

    /// A user's name, or its number when it has none.
    public static func userName(uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return String(uid) }
        return String(cString: name)
    }

    /// A group's name, or its number when it has none.
    public static func groupName(gid: UInt32) -> String {
        guard let entry = getgrgid(gid), let name = entry.pointee.gr_name else { return String(gid) }
        return String(cString: name)
    }

    // MARK: Time

    /// Unix time in seconds.
    public static func wallClock() -> Double {
        read(CLOCK_REALTIME)
    }

    /// Seconds from an arbitrary start that never jumps.
    public static func monotonicClock() -> Double {
        read(CLOCK_MONOTONIC)
    }

    private static func read(_ clock: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Blocks the calling thread (one that is not the cooperative pool's) for `seconds`.
    public static func sleep(seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    /// Unix time `seconds` as a UTC calendar time.
    public static func utc(_ seconds: Int) -> CalendarTime {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return CalendarTime(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }

    /// A calendar time in the host's time zone as Unix time, or nil when it has none.
    public static func unixTime(local time: CalendarTime) -> Int? {
        var parts = tm()
        parts.tm_year = Int32(clamping: time.year - 1900)
        parts.tm_mon = Int32(clamping: time.month - 1)
        parts.tm_mday = Int32(clamping: time.day)
        parts.tm_hour = Int32(clamping: time.hour)
        parts.tm_min = Int32(clamping: time.minute)
        parts.tm_sec = Int32(clamping: time.second)
        parts.tm_isdst = -1
        let seconds = mktime(&parts)
        return seconds == -1 ? nil : Int(seconds)
    }

    // MARK: This process

    /// Clock ticks per second, the unit of /proc's CPU times.
    public static var clockTicksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }

    public static var pageSize: Double { Double(sysconf(Int32(_SC_PAGESIZE))) }

    /// The soft limit on open descriptors.
    public static func openFileLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return UInt64(limit.rlim_cur)
    }

    // MARK: Child processes

    /// A pipe whose ends are closed on exec.
    public static func makePipe() throws(Errno) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw .current }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    /// Starts `path` (looked up on PATH when it has no slash) with `arguments` and this process's
    /// environment, its standard input on /dev/null and its output on the given descriptors.
    public static func spawn(_ path: String, _ arguments: [String], standardOutput: Int32, standardError: Int32) throws(Errno) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        posix_spawn_file_actions_adddup2(&actions, standardError, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = argv.withUnsafeBufferPointer { buffer in
            posix_spawnp(&pid, path, &actions, nil, UnsafeMutablePointer(mutating: buffer.baseAddress!), environ)
        }
        guard spawned == 0 else { throw Errno(code: spawned) }
        return pid
    }

    /// Kills a process outright.
    public static func kill(_ pid: Int32) {
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Reaps a child; its exit status, or 128 + the signal that ended it.
    public static func waitForExit(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED/WEXITSTATUS are macros: decode the wait status by hand.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Waits up to `milliseconds` for input on `fds` (negative ones are ignored); which are ready.
    /// An interrupted wait returns none ready; another failure throws.
    public static func pollReadable(_ fds: [Int32], milliseconds: Int32) throws(Errno) -> [Bool] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&entries, nfds_t(entries.count), milliseconds)
        if ready < 0 {
            if errno == EINTR { return fds.map { _ in false } }
            throw .current
        }
        return entries.map { $0.fd >= 0 && $0.revents != 0 }
    }

    /// Runs a shell command line and reads its standard output, up to `limit` bytes; its exit
    /// status with what it printed.
    public static func shellOutput(_ command: String, limit: Int) throws(Errno) -> (status: Int32, output: [UInt8]) {
        guard let pipe = popen(command, "r") else { throw .current }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, pipe)
            if count <= 0 { break }
            bytes += buffer[0..<count]
            if bytes.count > limit { break }
        }
        return (pclose(pipe), bytes)
    }
}
