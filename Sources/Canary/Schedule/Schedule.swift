// When each resource's next round is due: a value type the scheduler actor drives.

/// The probe timetable. Rounds are spread over each interval, never run twice at once for a
/// resource, and pushed back by `retry-after`.
public struct Schedule: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var interval: Double
        /// Monotonic time of the next round.
        public var nextDue: Double
        public var inFlight: Bool
    }

    public private(set) var entries: [Entry]

    /// Resource `i` of `n` first runs at `start + interval * i / n`, so rounds do not all start at once.
    public init(intervals: [Double], start: Double) {
        let count = Double(max(intervals.count, 1))
        entries = intervals.enumerated().map { index, interval in
            Entry(interval: interval, nextDue: start + interval * Double(index) / count, inFlight: false)
        }
    }

    /// The resources due at `now`, marked in flight; their next slot moves one interval on
    /// (skipping slots that were missed). A resource still in flight skips its slot.
    public mutating func takeDue(now: Double) -> [Int] {
        takeDueWithLag(now: now).map(\.index)
    }

    /// The same, with how late each round starts against its slot.
    public mutating func takeDueWithLag(now: Double) -> [(index: Int, lag: Double)] {
        var due: [(index: Int, lag: Double)] = []
        for index in entries.indices where entries[index].nextDue <= now {
            if !entries[index].inFlight {
                entries[index].inFlight = true
                due.append((index, now - entries[index].nextDue))
            }
            let interval = entries[index].interval
            let missed = ((now - entries[index].nextDue) / interval).rounded(.down)
            entries[index].nextDue += (missed + 1) * interval
        }
        return due
    }

    /// A round finished; `retryAfter` (from a 429) pushes the next round back at least that far.
    public mutating func completed(_ index: Int, now: Double, retryAfter: Double?) {
        entries[index].inFlight = false
        // Slots that passed while the round ran are skipped, keeping the resource's phase.
        let interval = entries[index].interval
        if entries[index].nextDue < now {
            entries[index].nextDue += (((now - entries[index].nextDue) / interval).rounded(.down) + 1) * interval
        }
        if let retryAfter, now + retryAfter > entries[index].nextDue {
            entries[index].nextDue = now + retryAfter
        }
    }

    /// When the loop should next look; nil with no resources.
    public var nextWake: Double? { entries.map(\.nextDue).min() }
}
