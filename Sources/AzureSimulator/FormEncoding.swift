// Percent-decoding of application/x-www-form-urlencoded bodies and URL path segments.

/// Decoding of the encodings the token endpoint and admin paths receive.
enum FormEncoding {
    /// The fields of a form body in order; `+` is a space, `%XX` a byte, bad escapes kept as sent.
    static func decode(_ body: [UInt8]) -> [(name: String, value: String)] {
        body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { field in
            let pair = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(pair[0], plusIsSpace: true)
            let value = pair.count > 1 ? percentDecode(pair[1], plusIsSpace: true) : ""
            return (name, value)
        }
    }

    /// Decodes `%XX` escapes (and `+` when `plusIsSpace`) in UTF-8 bytes.
    static func percentDecode<Bytes: Collection<UInt8>>(_ bytes: Bytes, plusIsSpace: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                if first != bytes.endIndex {
                    let second = bytes.index(after: first)
                    if second != bytes.endIndex, let high = hexValue(bytes[first]), let low = hexValue(bytes[second]) {
                        out.append(high << 4 | low)
                        index = bytes.index(after: second)
                        continue
                    }
                }
                out.append(byte)
            } else if byte == UInt8(ascii: "+"), plusIsSpace {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
            index = bytes.index(after: index)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes one path segment (`+` stays a plus).
    static func pathSegment(_ segment: Substring) -> String {
        percentDecode(Array(segment.utf8), plusIsSpace: false)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
