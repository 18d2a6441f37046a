// Dates as the simulated services print them, built by hand from epoch seconds (no DateFormatter).

/// Formats epoch seconds the way HTTP and Entra ID print times.
enum HTTPDate {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The IMF-fixdate of RFC 9110, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func imfFixdate(_ epochSeconds: Double) -> String {
        let parts = Parts(epochSeconds)
        return "\(weekdays[parts.weekday]), \(pad(parts.day)) \(months[parts.month - 1]) \(parts.year) \(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second)) GMT"
    }

    /// Entra ID's timestamp, e.g. `2019-09-30 20:03:53Z`.
    static func entraTimestamp(_ epochSeconds: Double) -> String {
        let parts = Parts(epochSeconds)
        return "\(parts.year)-\(pad(parts.month))-\(pad(parts.day)) \(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second))Z"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }

    /// A UTC civil time split into fields (Howard Hinnant's days-to-civil algorithm).
    private struct Parts {
        var year, month, day, hour, minute, second, weekday: Int

        init(_ epochSeconds: Double) {
            let total = Int(epochSeconds.rounded(.down))
            var days = total / 86_400
            var rest = total % 86_400
            if rest < 0 { rest += 86_400; days -= 1 }
            hour = rest / 3600
            minute = rest % 3600 / 60
            second = rest % 60
            weekday = ((days % 7) + 7 + 4) % 7   // 1970-01-01 was a Thursday
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
    }
}
