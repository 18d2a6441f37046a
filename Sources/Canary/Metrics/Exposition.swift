// The Prometheus text format (version 0.0.4): escaping, number formatting, family layout.

/// Writes families in the Prometheus text exposition format.
public enum Exposition {
    /// The one Content-Type of `/metrics`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func appendHeader(_ descriptor: MetricDescriptor, to output: inout [UInt8]) {
        output.append(contentsOf: "# HELP \(descriptor.name) \(escapeHelp(descriptor.help))\n# TYPE \(descriptor.name) \(descriptor.type.rawValue)\n".utf8)
    }

    /// One series, written straight into the buffer: a scrape at 10,000 resources writes some
    /// 400,000 lines, so no line allocates strings of its own.
    static func appendSeries(_ descriptor: MetricDescriptor, _ labels: [String], _ value: MetricsRegistry.Value, to output: inout [UInt8]) {
        switch value {
        case .scalar(let number):
            appendLine(descriptor, "", labels, le: nil, to: &output) { appendNumber(number, to: &$0) }
        case .histogram(let histogram):
            for (index, bound) in descriptor.bucketLabels.enumerated() {
                appendLine(descriptor, "_bucket", labels, le: bound, to: &output) { appendInteger(histogram.counts[index], to: &$0) }
            }
            appendLine(descriptor, "_bucket", labels, le: "+Inf", to: &output) { appendInteger(histogram.count, to: &$0) }
            appendLine(descriptor, "_sum", labels, le: nil, to: &output) { appendNumber(histogram.sum, to: &$0) }
            appendLine(descriptor, "_count", labels, le: nil, to: &output) { appendInteger(histogram.count, to: &$0) }
        }
    }

    /// `name_suffix{labels} value\n`.
    private static func appendLine(
        _ descriptor: MetricDescriptor, _ suffix: StaticString, _ labels: [String], le: String?, to output: inout [UInt8],
        value: (inout [UInt8]) -> Void
    ) {
        output.append(contentsOf: descriptor.name.utf8)
        suffix.withUTF8Buffer { output.append(contentsOf: $0) }
        appendLabels(descriptor.labelNames, labels, extra: le, to: &output)
        output.append(UInt8(ascii: " "))
        value(&output)
        output.append(UInt8(ascii: "\n"))
    }

    /// `{name="value",...}`, with `le="extra"` last when given; nothing without labels.
    private static func appendLabels(_ names: [String], _ values: [String], extra: String?, to output: inout [UInt8]) {
        guard !names.isEmpty || extra != nil else { return }
        output.append(UInt8(ascii: "{"))
        for (index, name) in names.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: "=\"".utf8)
            appendEscaped(index < values.count ? values[index] : "", to: &output)
            output.append(UInt8(ascii: "\""))
        }
        if let extra {
            if !names.isEmpty { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: "le=\"".utf8)
            output.append(contentsOf: extra.utf8)
            output.append(UInt8(ascii: "\""))
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A label value with backslash, double quote and newline escaped.
    private static func appendEscaped(_ value: String, to output: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): output.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\""): output.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\n"): output.append(contentsOf: "\\n".utf8)
            default: output.append(byte)
            }
        }
    }

    private static func appendNumber(_ value: Double, to output: inout [UInt8]) {
        if value == value.rounded(), abs(value) < 1e15 {
            if value < 0 { output.append(UInt8(ascii: "-")) }
            appendInteger(UInt64(abs(value)), to: &output)
        } else {
            output.append(contentsOf: format(value).utf8)
        }
    }

    private static func appendInteger(_ value: UInt64, to output: inout [UInt8]) {
        guard value >= 10 else {
            output.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            output.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// A family of one unlabelled series (a gauge unless `type` says otherwise), for collectors.
    public static func family(_ name: String, help: String, value: Double, type: MetricType = .gauge) -> String {
        "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n\(name) \(format(value))\n"
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
