// The Prometheus text format (version 0.0.4): escaping, number formatting, family layout.

/// Writes families in the Prometheus text exposition format.
public enum Exposition {
    /// The one Content-Type of `/metrics`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func appendFamily(_ descriptor: MetricDescriptor, series: [([String], MetricsRegistry.Value)], to output: inout String) {
        output += "# HELP \(descriptor.name) \(escapeHelp(descriptor.help))\n"
        output += "# TYPE \(descriptor.name) \(descriptor.type.rawValue)\n"
        for (labels, value) in series {
            switch value {
            case .scalar(let number):
                output += descriptor.name
                output += labelText(descriptor.labelNames, labels)
                output += " \(format(number))\n"
            case .histogram(let histogram):
                for (index, bound) in descriptor.buckets.enumerated() {
                    output += "\(descriptor.name)_bucket"
                    output += labelText(descriptor.labelNames + ["le"], labels + [format(bound)])
                    output += " \(histogram.counts[index])\n"
                }
                output += "\(descriptor.name)_bucket\(labelText(descriptor.labelNames + ["le"], labels + ["+Inf"])) \(histogram.count)\n"
                output += "\(descriptor.name)_sum\(labelText(descriptor.labelNames, labels)) \(format(histogram.sum))\n"
                output += "\(descriptor.name)_count\(labelText(descriptor.labelNames, labels)) \(histogram.count)\n"
            }
        }
    }

    /// A simple gauge family with one unlabelled value, for collectors.
    public static func gauge(_ name: String, help: String, value: Double, type: MetricType = .gauge) -> String {
        "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n\(name) \(format(value))\n"
    }

    static func labelText(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        var text = "{"
        for (index, name) in names.enumerated() {
            if index > 0 { text += "," }
            text += name
            text += "=\""
            text += escapeLabelValue(index < values.count ? values[index] : "")
            text += "\""
        }
        return text + "}"
    }

    /// Label values escape backslash, double quote and newline.
    public static func escapeLabelValue(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    /// HELP text escapes backslash and newline.
    public static func escapeHelp(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    /// Numbers as Prometheus prints them: integers without a fraction, +Inf, -Inf, NaN.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
