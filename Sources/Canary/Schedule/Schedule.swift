// When each resource's next round is due: a value type the scheduler actor drives.

/// The probe timetable. Rounds are spread over each interval, never run twice at once for a
/// resource, and pushed back by `retry-after`. A min-heap of due times keeps each step
/// logarithmic in the number of resources.
public struct Schedule: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var interval: Double
        /// Monotonic time of the next round.
        public var nextDue: Double
        public var inFlight: Bool
        /// The next round was set by the service's `retry-after`: it starts no earlier.
        public var notEarly = false
        /// False for a slot whose resource a reload removed (its index may be reused).
        public var active = true
    }

    struct Slot: Sendable, Equatable {
        var due: Double
        var index: Int
    }

    public private(set) var entries: [Entry]
    /// Due times, earliest first at the root; an entry whose time moved leaves a stale slot
    /// behind, which is skipped when it surfaces.
    private var heap: [Slot] = []

    /// Resource `i` of `n` first runs at `start + interval * i / n`, so rounds do not all start at once.
    public init(intervals: [Double], start: Double) {
        let count = Double(max(intervals.count, 1))
        entries = intervals.enumerated().map { index, interval in
            Entry(interval: interval, nextDue: start + interval * Double(index) / count, inFlight: false)
        }
        for (index, entry) in entries.enumerated() { push(Slot(due: entry.nextDue, index: index)) }
    }

    /// Puts a resource on the schedule at index `index` (the next free one, or one past the
    /// end), first due at `firstDue`. A reload calls it for added resources, spread over the interval.
    public mutating func add(at index: Int, interval: Double, firstDue: Double) {
        let entry = Entry(interval: interval, nextDue: firstDue, inFlight: false)
        if index == entries.count { entries.append(entry) } else { entries[index] = entry }
        push(Slot(due: firstDue, index: index))
    }

    /// Takes a resource off the schedule: its slots in the heap are skipped when they surface.
    /// The index may be reused by `add` at once (the scheduler ignores a round of the old
    /// resource that finishes later).
    public mutating func remove(_ index: Int) {
        entries[index].active = false
        entries[index].inFlight = false
        entries[index].nextDue = .infinity
    }

    /// A changed resource: no longer in flight (the scheduler ignores the round of the old
    /// settings), and with a new interval its next round moves to `firstDue`.
    public mutating func reset(_ index: Int, interval: Double, firstDue: Double?) {
        entries[index].inFlight = false
        guard let firstDue else { return }
        entries[index].interval = interval
        entries[index].nextDue = firstDue
        entries[index].notEarly = false
        push(Slot(due: firstDue, index: index))
    }

    /// Marks no resource in flight (the rounds of a stopped loop were cancelled).
    public mutating func clearInFlight() {
        for index in entries.indices { entries[index].inFlight = false }
    }

    /// The resources due at `now`, marked in flight; their next slot moves one interval on
    /// (skipping slots that were missed). A resource still in flight skips its slot.
    public mutating func takeDue(now: Double) -> [Int] {
        takeDueWithLag(now: now).map(\.index)
    }

    /// The same, with how late each round starts against its slot (0 for one started early).
    /// Slots up to `ahead` seconds away are taken too, so rounds due close together start on
    /// one wake-up of the loop rather than one each.
    public mutating func takeDueWithLag(now: Double, ahead: Double = 0) -> [(index: Int, lag: Double)] {
        var due: [(index: Int, lag: Double)] = []
        var notYet: [Slot] = []
        defer { for slot in notYet { push(slot) } }
        while let top = heap.first, top.due <= now + ahead {
            popRoot()
            let index = top.index
            guard entries[index].active, entries[index].nextDue == top.due else { continue }  // stale, or removed
            if entries[index].notEarly {
                guard top.due <= now else {
                    notYet.append(top)
                    continue
                }
                entries[index].notEarly = false
            }
            if !entries[index].inFlight {
                entries[index].inFlight = true
                due.append((index, max(0, now - entries[index].nextDue)))
            }
            let interval = entries[index].interval
            let missed = max(0, ((now - entries[index].nextDue) / interval).rounded(.down))
            entries[index].nextDue += (missed + 1) * interval
            push(Slot(due: entries[index].nextDue, index: index))
        }
        return due
    }

    /// A round finished; `retryAfter` (from a 429) pushes the next round back at least that far.
    public mutating func completed(_ index: Int, now: Double, retryAfter: Double?) {
        entries[index].inFlight = false
        guard entries[index].active else { return }
        let before = entries[index].nextDue
        // Slots that passed while the round ran are skipped, keeping the resource's phase.
        let interval = entries[index].interval
        if entries[index].nextDue < now {
            entries[index].nextDue += (((now - entries[index].nextDue) / interval).rounded(.down) + 1) * interval
        }
        if let retryAfter, now + retryAfter > entries[index].nextDue {
            entries[index].nextDue = now + retryAfter
            entries[index].notEarly = true
        }
        if entries[index].nextDue != before { push(Slot(due: entries[index].nextDue, index: index)) }
    }

    /// When the loop should next look; nil with no resources. (A stale slot can make it early,
    /// never late: due times only ever move later.)
    public var nextWake: Double? { heap.first?.due }

    public static func == (lhs: Schedule, rhs: Schedule) -> Bool { lhs.entries == rhs.entries }

    // MARK: the heap

    private mutating func push(_ slot: Slot) {
        heap.append(slot)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popRoot() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
