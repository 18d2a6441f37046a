// Turning doubles from the outside world (token lifetimes, claims, dates) into integers safely.

extension Double {
    /// The value rounded toward zero and clamped to ±10^15, so huge or odd inputs never trap.
    public var clampedInt: Int {
        guard isFinite else { return 0 }
        return Int(Swift.max(-1e15, Swift.min(1e15, self)))
    }
}
