// The standard process_* metrics, read from /proc at scrape time.
import Config
import Posix
import Support

/// Reads this process's CPU, memory, start time and descriptors the way client_golang does.
public enum ProcessMetrics {
    /// The process_* families as exposition text.
    public static func render() -> String {
        var output = ""
        let ticks = System.clockTicksPerSecond
        let pageSize = System.pageSize
        if let stat = readStat() {
            output += Exposition.family(
                "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.", value: (stat.utime + stat.stime) / ticks, type: .counter)
            output += Exposition.family("process_resident_memory_bytes", help: "Resident memory size in bytes.", value: stat.rss * pageSize)
            if let bootTime = bootTime() {
                output += Exposition.family(
                    "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", value: bootTime + stat.startTicks / ticks)
            }
        }
        output += Exposition.family("process_open_fds", help: "Number of open file descriptors.", value: Double(openDescriptors()))
        if let limit = System.openFileLimit() {
            output += Exposition.family("process_max_fds", help: "Maximum number of open file descriptors.", value: Double(limit))
        }
        return output
    }

    struct Stat {
        var utime: Double
        var stime: Double
        var startTicks: Double
        var rss: Double
    }

    static func readStat() -> Stat? {
        guard let text = try? FileIO.readText("/proc/self/stat"),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name, which may itself hold spaces and parentheses.
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime is field 14, stime 15, starttime 22, rss 24.
        guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
            let start = Double(fields[19]), let rss = Double(fields[21])
        else { return nil }
        return Stat(utime: utime, stime: stime, startTicks: start, rss: rss)
    }

    static func bootTime() -> Double? {
        guard let text = try? FileIO.readText("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6))
        }
        return nil
    }

    /// Open descriptors, counted in /proc/self/fd.
    public static func openDescriptors() -> Int {
        max(0, System.directoryEntries("/proc/self/fd").count - 1)  // minus the descriptor opendir itself holds
    }
}
