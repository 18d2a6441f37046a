// Durations written the way Prometheus writes them: 500ms, 30s, 5m, 1h30m, 1d.

/// Parses and prints durations in Prometheus's format.
public enum PromDuration {
    private static let units: [(suffix: String, seconds: Int64)] = [
        ("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1),
    ]

    /// Parses `1h30m`, `500ms`, `0`; units must come largest first, each at most once.
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var totalMilliseconds: Int64 = 0
        var lastRank = -1
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let rank: Int
            let milliseconds: Int64
            if rest.hasPrefix("ms") {
                rank = units.count
                milliseconds = 1
                rest = rest.dropFirst(2)
            } else if let index = units.firstIndex(where: { rest.hasPrefix($0.suffix) }) {
                rank = index
                milliseconds = units[index].seconds * 1000
                rest = rest.dropFirst(units[index].suffix.count)
            } else {
                return nil
            }
            guard rank > lastRank else { return nil }
            lastRank = rank
            let (product, overflow) = value.multipliedReportingOverflow(by: milliseconds)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = totalMilliseconds.addingReportingOverflow(product)
            guard !sumOverflow else { return nil }
            totalMilliseconds = sum
        }
        return .milliseconds(totalMilliseconds)
    }

    /// Prints a duration the way Prometheus does (`1h30m`, `500ms`, `0s`).
    public static func format(_ duration: Duration) -> String {
        var milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "0s" }
        var text = ""
        for unit in units where unit.suffix != "y" && unit.suffix != "w" {
            let size = unit.seconds * 1000
            if milliseconds >= size {
                text += "\(milliseconds / size)\(unit.suffix)"
                milliseconds %= size
            }
        }
        if milliseconds > 0 { text += "\(milliseconds)ms" }
        return text
    }
}

extension Duration {
    /// The duration in seconds as a Double, for arithmetic with clock readings.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
