// HTTP dates (IMF-fixdate), parsed and printed without Foundation's formatters: one for the agent,
// which reads the service's Date header, and the simulator, which writes it.

/// HTTP dates of RFC 9110, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, from and to epoch seconds.
public enum HTTPDate {
    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Epoch seconds of an IMF-fixdate; nil for anything else.
    public static func parse(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), (1...31).contains(day),
            let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]), (1970...9999).contains(year)
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0..<24).contains(clock[0]), (0..<60).contains(clock[1]), (0...60).contains(clock[2]) else { return nil }
        return Double(CivilTime.days(year: year, month: month + 1, day: day) * 86400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
    }

    /// The IMF-fixdate of epoch seconds.
    public static func imfFixdate(_ epochSeconds: Double) -> String {
        let time = CivilTime(epochSeconds)
        return
            "\(weekdays[time.weekday]), \(time.pad(time.day)) \(months[time.month - 1]) \(time.year) "
            + "\(time.pad(time.hour)):\(time.pad(time.minute)):\(time.pad(time.second)) GMT"
    }
}

/// A UTC civil time split into fields, and back (Howard Hinnant's algorithms).
public struct CivilTime: Sendable, Equatable {
    public var year, month, day, hour, minute, second: Int
    /// 0 for Sunday.
    public var weekday: Int

    /// The fields of `epochSeconds`, rounded down to the second.
    public init(_ epochSeconds: Double) {
        let total = Int(max(-1e15, min(1e15, epochSeconds)).rounded(.down))
        var days = total / 86_400
        var rest = total % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        hour = rest / 3600
        minute = rest % 3600 / 60
        second = rest % 60
        weekday = ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 of a civil date (month 1–12).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Two digits at least.
    public func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
}
