// Numbers and number text from the outside world: doubles into integers safely, fixed-width digits.

extension Double {
    /// The value rounded toward zero and clamped to ±10^15, so huge or odd inputs never trap.
    public var clampedInt: Int {
        guard isFinite else { return 0 }
        return Int(Swift.max(-1e15, Swift.min(1e15, self)))
    }
}

extension String {
    /// The string with zeros in front up to `width` characters (for fixed-width numbers).
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
