// Numbers and number text from the outside world: doubles into integers safely, fixed-width digits,
// and a stable hash.

extension Double {
    /// The value rounded toward zero and clamped to ±10^15, so huge or odd inputs never trap.
    public var clampedInt: Int {
        guard isFinite else { return 0 }
        return Int(Swift.max(-1e15, Swift.min(1e15, self)))
    }
}

extension String {
    /// The string with zeros in front up to `width` characters (for fixed-width numbers).
    package func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// 64-bit FNV-1a of `text`'s UTF-8: a stable hash, the same in every process and version (Swift's
/// `Hasher` is seeded per process).
package func fnv1a(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
}
