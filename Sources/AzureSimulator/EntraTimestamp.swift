// Entra ID's timestamps, from the shared civil-time fields (HTTP dates are HTTPServer's HTTPDate).
import HTTPServer

extension HTTPDate {
    /// Entra ID's timestamp, e.g. `2019-09-30 20:03:53Z`.
    static func entraTimestamp(_ epochSeconds: Double) -> String {
        let time = CivilTime(epochSeconds)
        return "\(time.year)-\(time.pad(time.month))-\(time.pad(time.day)) \(time.pad(time.hour)):\(time.pad(time.minute)):\(time.pad(time.second))Z"
    }
}
