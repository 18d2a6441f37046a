// Percent-encoding for form bodies (token requests), URL path segments (probe URLs), query
// values (Resource Manager's $filter), and the encoded forms of a secret that redaction knows.

/// `text` with every byte but the unreserved ones (letters, digits, `-._~`) as `%XX`; a space as
/// `+` with `plusForSpace`, and hex digits in lower case unless `uppercase`.
func percentEncoded(_ text: String, plusForSpace: Bool = false, uppercase: Bool = true) -> String {
    let digits = Array((uppercase ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            bytes.append(byte)
        case UInt8(ascii: " ") where plusForSpace:
            bytes.append(UInt8(ascii: "+"))
        default:
            bytes += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Percent-encodes for `application/x-www-form-urlencoded` and URL path segments.
package func formEncode(_ value: String) -> String {
    percentEncoded(value)
}
