// A synchronous metrics registry behind a lock, rendered in the Prometheus text format.
import Synchronization

/// The Prometheus metric types the agent uses.
public enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// A metric family's fixed parts.
public struct MetricDescriptor: Sendable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var labelNames: [String]
    /// Upper bounds for histograms, ascending, without +Inf.
    public let buckets: [Double]
    /// The bounds as `le` label values, formatted once rather than per series and scrape.
    let bucketLabels: [String]

    public init(name: String, help: String, type: MetricType, labelNames: [String], buckets: [Double] = []) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.buckets = buckets
        self.bucketLabels = buckets.map(Exposition.format)
    }
}

/// A metric family of a known type: what the registry's typed writes take, so a gauge cannot be
/// counted up nor a counter set.
public protocol MetricFamily: Sendable {
    var descriptor: MetricDescriptor { get }
}

extension MetricFamily {
    public var name: String { descriptor.name }
}

/// A family of gauges: set to a value.
public struct GaugeFamily: MetricFamily {
    public let descriptor: MetricDescriptor
    public init(_ name: String, help: String, labels: [String] = []) {
        descriptor = MetricDescriptor(name: name, help: help, type: .gauge, labelNames: labels)
    }
}

/// A family of counters: only ever added to.
public struct CounterFamily: MetricFamily {
    public let descriptor: MetricDescriptor
    public init(_ name: String, help: String, labels: [String] = []) {
        descriptor = MetricDescriptor(name: name, help: help, type: .counter, labelNames: labels)
    }
}

/// A family of histograms: observed.
public struct HistogramFamily: MetricFamily {
    public let descriptor: MetricDescriptor
    public init(_ name: String, help: String, labels: [String] = [], buckets: [Double]) {
        descriptor = MetricDescriptor(name: name, help: help, type: .histogram, labelNames: labels, buckets: buckets)
    }
}

/// Families and their series. Safe to use from any thread; rendering never waits on the scheduler.
public final class MetricsRegistry: Sendable {
    /// A histogram's counts, boxed: the series map then holds 16 bytes a value instead of 32
    /// (a few hundred thousand of them are histograms' neighbours at 100,000 resources), and an
    /// observation changes the counts in place. Read and changed only under the registry's lock.
    final class Histogram: @unchecked Sendable {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0

        init(counts: [UInt64]) {
            self.counts = counts
        }
    }

    enum Value: Sendable {
        case scalar(Double)
        case histogram(Histogram)
    }

    struct Family: Sendable {
        var descriptor: MetricDescriptor
        /// Where the family stands in `State.order`, for the index.
        var position: Int
        var series: [[String]: Value] = [:]
        /// Changes whenever a series is added or removed: the sorted keys below are then stale.
        var keysVersion = 0
        /// The series' labels in render order, as of `sortedKeysVersion`.
        var sortedKeys: [[String]] = []
        var sortedKeysVersion = -1
    }

    struct State: Sendable {
        var order: [String] = []
        var families: [String: Family] = [:]
        /// Every series by the value of its first label (a resource or a credential in most
        /// families), across families: one resource's series are found and removed without a
        /// scan of the rest, so removing costs what is removed, not the registry's size. One
        /// list per value, not per family and value, keeps it small (the keys are shared).
        var index: [String: [(family: Int, key: [String])]] = [:]
        /// Counters that came into being with their first increment: they are served at 0 until a
        /// rendering has shown that 0, and only then count (see `add`). By family name and series;
        /// `renders` is the number of renderings begun when the increment came.
        var held: [String: [[String]: (amount: Double, renders: Int)]] = [:]
        /// Renderings begun so far.
        var renders = 0

        /// Sets a series of a registered family to `change` of its old value, filing it in the
        /// index when it is new; returns the old value, nil for a new series. Mutated in place
        /// through the dictionaries: copying a family's series per update would cost time in
        /// proportion to the number of resources.
        @discardableResult
        mutating func store(_ name: String, _ labels: [String], _ change: (Value?) -> Value) -> Value? {
            guard let count = families[name]?.descriptor.labelNames.count else { preconditionFailure("metric family \(name) was never registered") }
            precondition(labels.count == count, "label count mismatch for \(name)")
            let old = families[name]!.series[labels]
            if families[name]!.series.updateValue(change(old), forKey: labels) == nil {
                families[name]!.keysVersion &+= 1
                indexed(families[name]!.position, labels)
            }
            return old
        }

        /// Files a new series under its first label's value.
        mutating func indexed(_ family: Int, _ key: [String]) {
            index[key.first ?? "", default: []].append((family, key))
        }

        /// Removes from `family` (a name in `order`) the series that `matches`, looking only at
        /// those whose first label is `first` when it is given, and at all of them otherwise.
        mutating func remove(family name: String, first: String?, where matches: ([String]) -> Bool) {
            // Taken out of the dictionary while it changes: a copy left behind would make every
            // removal copy the family's whole series (copy-on-write), the cost that made a
            // reload of 1,000 of 10,000 resources take 21 s.
            guard var family = families.removeValue(forKey: name) else { return }
            defer { families[name] = family }
            let position = family.position
            var removed: [[String]] = []
            if let first {
                guard let entries = index[first] else { return }
                var kept: [(family: Int, key: [String])] = []
                kept.reserveCapacity(entries.count)
                for entry in entries {
                    if entry.family == position, matches(entry.key) {
                        family.series[entry.key] = nil
                        removed.append(entry.key)
                    } else {
                        kept.append(entry)
                    }
                }
                index[first] = kept.isEmpty ? nil : kept
            } else {
                removed = family.series.keys.filter(matches)
                for key in removed { family.series[key] = nil }
                var byFirst: [String: Set<[String]>] = [:]
                for key in removed { byFirst[key.first ?? "", default: []].insert(key) }
                for (value, keys) in byFirst {
                    let kept = index[value]?.filter { !($0.family == position && keys.contains($0.key)) } ?? []
                    index[value] = kept.isEmpty ? nil : kept
                }
            }
            if !removed.isEmpty {
                family.keysVersion &+= 1
                if held[name] != nil { for key in removed { held[name]![key] = nil } }
            }
        }
    }

    private let state = Mutex(State())
    /// Called at render time for values read fresh (process metrics); returns extra text.
    private let collectors: Mutex<[@Sendable () -> String]> = Mutex([])
    /// Bumped when the configuration behind the series changes (a reload applied or refused): a
    /// rendering made before it is not shared after it, so a scrape right after a reload sees it.
    private let epochCounter = Atomic<Int>(0)

    /// The current epoch (see `markChanged`).
    public var epoch: Int { epochCounter.load(ordering: .acquiring) }

    /// Says the series changed as a whole (a reload): renderings made before are stale.
    public func markChanged() {
        epochCounter.add(1, ordering: .releasing)
    }

    public init() {}

    /// Adds a family. Registering a name twice keeps the first.
    public func register(_ family: some MetricFamily) {
        let descriptor = family.descriptor
        state.withLock { state in
            guard state.families[descriptor.name] == nil else { return }
            state.families[descriptor.name] = Family(descriptor: descriptor, position: state.order.count)
            state.order.append(descriptor.name)
        }
    }

    /// Adds text rendered after the registered families, such as the process metrics.
    public func addCollector(_ collector: @escaping @Sendable () -> String) {
        collectors.withLock { $0.append(collector) }
    }

    /// Sets a gauge; returns its value before, nil when the series is new.
    @discardableResult
    public func set(_ family: GaugeFamily, _ labels: [String], _ value: Double) -> Double? {
        let old = state.withLock { $0.store(family.name, labels) { _ in .scalar(value) } }
        if case .scalar(let previous)? = old { return previous }
        return nil
    }

    /// Adds to a counter. A counter that does not exist yet is created at 0 and its first
    /// increment is held until a rendering has served that 0: Prometheus's `increase()` and
    /// `rate()` see a series appear at 0 and then move, so the first failure of a reason counts
    /// although its counter was not exported before it (scrapes served from one shared rendering
    /// count as one). `value(_:_:)` includes what is held.
    public func add(_ family: CounterFamily, _ labels: [String], _ amount: Double = 1) {
        let name = family.name
        state.withLock { state in
            if let held = state.held[name]?[labels] {
                state.held[name]![labels] = (held.amount + amount, held.renders)
                return
            }
            let old = state.store(name, labels) { old in
                if case .scalar(let current)? = old { return .scalar(current + amount) }
                return .scalar(0)
            }
            if old == nil { state.held[name, default: [:]][labels] = (amount, state.renders) }
        }
    }

    /// Makes a series exist (at 0) without changing an existing value.
    public func touch(_ family: some MetricFamily, _ labels: [String]) {
        let name = family.name
        state.withLock { state in
            guard let descriptor = state.families[name]?.descriptor else { preconditionFailure("metric family \(name) was never registered") }
            guard state.families[name]!.series[labels] == nil else { return }
            state.store(name, labels) { _ in
                descriptor.type == .histogram ? .histogram(Histogram(counts: Array(repeating: 0, count: descriptor.buckets.count))) : .scalar(0)
            }
        }
    }

    /// Records one observation in a histogram.
    public func observe(_ family: HistogramFamily, _ labels: [String], _ value: Double) {
        let name = family.name
        state.withLock { state in
            guard let buckets = state.families[name]?.descriptor.buckets else { preconditionFailure("metric family \(name) was never registered") }
            let histogram: Histogram
            if case .histogram(let existing)? = state.families[name]!.series[labels] {
                histogram = existing
            } else {
                histogram = Histogram(counts: Array(repeating: 0, count: buckets.count))
                state.store(name, labels) { _ in .histogram(histogram) }
            }
            // The box is changed in place: no allocation per observation.
            for (index, bound) in buckets.enumerated() where value <= bound {
                histogram.counts[index] += 1
            }
            histogram.sum += value
            histogram.count += 1
        }
    }

    /// Removes the series of a family whose labels match. A scan of the family: for small ones.
    public func remove(_ family: some MetricFamily, where matches: ([String]) -> Bool) {
        state.withLock { $0.remove(family: family.name, first: nil, where: matches) }
    }

    /// Removes the series of a family whose first label is `first` (and that match): only that
    /// value's series are looked at.
    public func remove(_ family: some MetricFamily, first: String, where matches: ([String]) -> Bool = { _ in true }) {
        state.withLock { $0.remove(family: family.name, first: first, where: matches) }
    }

    /// Removes, from every family with the label, the series whose value for it is in `values`
    /// (the series of resources and credentials a reload dropped). Where the label comes first
    /// (every per-resource family), only the removed series are touched.
    public func removeSeries(label: String, values: Set<String>) {
        guard !values.isEmpty else { return }
        state.withLock { state in
            for name in state.order {
                guard let position = state.families[name]?.descriptor.labelNames.firstIndex(of: label) else { continue }
                if position == 0 {
                    for value in values { state.remove(family: name, first: value) { _ in true } }
                } else {
                    state.remove(family: name, first: nil) { values.contains($0[position]) }
                }
            }
        }
    }

    /// Removes, from every family that has all the given labels, the series with those values;
    /// only the series of the family's first label's value are looked at when it is among them.
    public func removeSeries(matching labels: [String: String]) {
        state.withLock { state in
            for name in state.order {
                guard let descriptor = state.families[name]?.descriptor else { continue }
                let positions = labels.compactMap { pair in descriptor.labelNames.firstIndex(of: pair.key).map { ($0, pair.value) } }
                guard positions.count == labels.count else { continue }
                let first = descriptor.labelNames.first.flatMap { labels[$0] }
                state.remove(family: name, first: first) { key in positions.allSatisfy { key[$0.0] == $0.1 } }
            }
        }
    }

    /// The current value of a counter or gauge series.
    public func value(_ family: some MetricFamily, _ labels: [String]) -> Double? {
        value(family.name, labels)
    }

    /// The current value of a counter or gauge series by its family's name, for tests.
    package func value(_ name: String, _ labels: [String]) -> Double? {
        state.withLock { state in
            if case .scalar(let value)? = state.families[name]?.series[labels] { return value + (state.held[name]?[labels]?.amount ?? 0) }
            return nil
        }
    }

    /// The whole exposition, families in registration order and series sorted by label values.
    public func render() -> String {
        String(decoding: renderBytes(), as: UTF8.self)
    }

    /// Series looked up per lock hold while rendering: short enough that probes recording their
    /// results never wait long, long enough that the lock is not taken per series.
    private static let renderChunk = 2048
    /// The size of the last render, to reserve the next one's buffer in one go.
    private let lastRenderSize = Atomic<Int>(4096)

    /// The exposition as bytes. No snapshot of the registry is taken: each family is read in
    /// chunks under the lock, so a scrape neither copies the series (which would make every
    /// family's next update copy it again) nor holds the lock for the whole render.
    public func renderBytes() -> [UInt8] {
        let (order, begun) = state.withLock { state in
            state.renders &+= 1
            return (state.order, state.renders)
        }
        var output: [UInt8] = []
        output.reserveCapacity(lastRenderSize.load(ordering: .relaxed) + 4096)
        for name in order {
            guard let (descriptor, keys) = sortedKeys(name) else { continue }
            Exposition.appendHeader(descriptor, to: &output)
            var start = 0
            while start < keys.count {
                let end = min(start + Self.renderChunk, keys.count)
                state.withLock { state in
                    guard let series = state.families[name]?.series else { return }
                    for key in keys[start..<end] {
                        guard let value = series[key] else { continue }  // removed since the keys were sorted
                        Exposition.appendSeries(descriptor, key, value, to: &output)
                    }
                }
                start = end
            }
        }
        for collector in collectors.withLock({ $0 }) {
            output.append(contentsOf: collector().utf8)
        }
        lastRenderSize.store(output.count, ordering: .relaxed)
        releaseHeld(shownBy: begun)
        return output
    }

    /// Lets the first increments count whose 0 the rendering `begun` has served: those held
    /// before it began.
    private func releaseHeld(shownBy begun: Int) {
        state.withLock { state in
            guard !state.held.isEmpty else { return }
            for (name, series) in state.held {
                var kept: [[String]: (amount: Double, renders: Int)] = [:]
                for (key, held) in series {
                    guard held.renders < begun else {
                        kept[key] = held
                        continue
                    }
                    if case .scalar(let current)? = state.families[name]?.series[key] { state.families[name]!.series[key] = .scalar(current + held.amount) }
                }
                state.held[name] = kept.isEmpty ? nil : kept
            }
        }
    }

    /// A family's series labels in render order: cached while no series is added or removed,
    /// sorted outside the lock when stale.
    private func sortedKeys(_ name: String) -> (MetricDescriptor, [[String]])? {
        let cached = state.withLock { state -> (MetricDescriptor, [[String]]?, [[String]], Int)? in
            guard let family = state.families[name] else { return nil }
            if family.sortedKeysVersion == family.keysVersion { return (family.descriptor, family.sortedKeys, [], 0) }
            return (family.descriptor, nil, Array(family.series.keys), family.keysVersion)
        }
        guard let (descriptor, fresh, unsorted, version) = cached else { return nil }
        if let fresh { return (descriptor, fresh) }
        let sorted = unsorted.sorted { $0.lexicographicallyPrecedes($1) }
        state.withLock { state in
            guard state.families[name]?.keysVersion == version else { return }
            state.families[name]!.sortedKeys = sorted
            state.families[name]!.sortedKeysVersion = version
        }
        return (descriptor, sorted)
    }
}
