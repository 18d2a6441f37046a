// A small JSON value shared by the agent and the simulator: parsed leniently, rendered byte-stably.
import FoundationEssentials

/// Any JSON value. Objects keep their members in order, so rendered bodies are byte-stable.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Parses a JSON document; nil when it is not valid JSON.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        JSONParser.parse(bytes)
    }

    /// Parses with Foundation's JSONDecoder: the reference the fuzzer holds `parse` to.
    public static func parseWithFoundation(_ bytes: [UInt8]) -> JSONValue? {
        guard !bytes.isEmpty else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The value written as compact JSON.
    public var rendered: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .double(let value):
            if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
            return value.isFinite ? String(value) : "null"
        case .string(let value): return jsonString(value)
        case .array(let items): return "[" + items.map(\.rendered).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { jsonString($0.0) + ":" + $0.1.rendered }.joined(separator: ",") + "}"
        }
    }

    /// The members of an object, nil for anything else.
    public var objectMembers: [(String, JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }
}

extension JSONValue {
    /// The member named `key` of an object; nil for a missing member or a non-object.
    public subscript(key: String) -> JSONValue? {
        objectMembers?.first { $0.0 == key }?.1
    }

    /// The value as a string; numbers print without a fraction when whole.
    public var stringValue: String? {
        switch self {
        case .string(let value): return value
        case .int(let value): return String(value)
        case .double: return rendered
        default: return nil
        }
    }

    /// The value as a number; numeric strings count (IMDS sends every field as a string).
    public var numberValue: Double? {
        let number: Double?
        switch self {
        case .int(let value): number = Double(value)
        case .double(let value): number = value
        case .string(let value): number = Double(value.filter { $0 != " " })
        default: number = nil
        }
        // "nan", "inf" and "1e400" parse as numbers; nothing that reads them wants them.
        return number.flatMap { $0.isFinite ? $0 : nil }
    }

    /// A JSON `true` or `false`; nil for anything else.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The items of an array, nil for anything else.
    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}

extension JSONValue: Decodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var members: [(String, JSONValue)] = []
            for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                members.append((key.stringValue, try container.decode(JSONValue.self, forKey: key)))
            }
            self = .object(members)
        } else if var container = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !container.isAtEnd { items.append(try container.decode(JSONValue.self)) }
            self = .array(items)
        } else {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else if let value = try? container.decode(Double.self) {
                self = .double(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }
}

/// `text` as a JSON string literal: quotes, backslashes and the characters `isUnsafeInText` names
/// escaped, `/` left alone.
public func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if isUnsafeInText(scalar) {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Characters a terminal, log viewer or page would act on rather than show: C0 and C1
/// controls, DEL, and the bidirectional and line-separator formats that can reorder or split a
/// line. `jsonString` writes them as `\uXXXX`.
public func isUnsafeInText(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0..<0x20, 0x7f...0x9f, 0x061c, 0x200e, 0x200f, 0x2028...0x202e, 0x2066...0x2069: return true
    default: return false
    }
}
