// Percent-encoding for form bodies (token requests), URL path segments (probe URLs) and query
// values (Resource Manager's $filter).

/// Percent-encodes for `application/x-www-form-urlencoded` and URL path segments.
func formEncode(_ value: String) -> String {
    var result = ""
    for byte in value.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            result.append(Character(UnicodeScalar(byte)))
        default:
            result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return result
}
