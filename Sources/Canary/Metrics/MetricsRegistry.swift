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
    public var buckets: [Double]

    public init(name: String, help: String, type: MetricType, labelNames: [String], buckets: [Double] = []) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.buckets = buckets
    }
}

/// Families and their series. Safe to use from any thread; rendering never waits on the scheduler.
public final class MetricsRegistry: Sendable {
    struct Histogram: Sendable {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    enum Value: Sendable {
        case scalar(Double)
        case histogram(Histogram)
    }

    struct Family: Sendable {
        var descriptor: MetricDescriptor
        var series: [[String]: Value] = [:]
    }

    struct State: Sendable {
        var order: [String] = []
        var families: [String: Family] = [:]
    }

    private let state = Mutex(State())
    /// Called at render time for values read fresh (process metrics); returns extra text.
    private let collectors: Mutex<[@Sendable () -> String]> = Mutex([])

    public init() {}

    /// Adds a family. Registering a name twice keeps the first.
    public func register(_ descriptor: MetricDescriptor) {
        state.withLock { state in
            guard state.families[descriptor.name] == nil else { return }
            state.order.append(descriptor.name)
            state.families[descriptor.name] = Family(descriptor: descriptor)
        }
    }

    /// Adds text rendered after the registered families, such as the process metrics.
    public func addCollector(_ collector: @escaping @Sendable () -> String) {
        collectors.withLock { $0.append(collector) }
    }

    /// Sets a gauge.
    public func set(_ name: String, _ labels: [String], _ value: Double) {
        update(name, labels) { _ in .scalar(value) }
    }

    /// Adds to a counter (or gauge); creates the series at 0 first.
    public func add(_ name: String, _ labels: [String], _ amount: Double = 1) {
        update(name, labels) { old in
            if case .scalar(let current)? = old { return .scalar(current + amount) }
            return .scalar(amount)
        }
    }

    /// Makes a series exist (at 0) without changing an existing value.
    public func touch(_ name: String, _ labels: [String]) {
        state.withLock { state in
            guard let descriptor = state.families[name]?.descriptor, state.families[name]?.series[labels] == nil else { return }
            // Mutated in place through the dictionaries: copying a family's series per update
            // would cost time in proportion to the number of resources.
            state.families[name]!.series[labels] = descriptor.type == .histogram
                ? .histogram(Histogram(counts: Array(repeating: 0, count: descriptor.buckets.count)))
                : .scalar(0)
        }
    }

    /// Records one observation in a histogram.
    public func observe(_ name: String, _ labels: [String], _ value: Double) {
        state.withLock { state in
            guard let buckets = state.families[name]?.descriptor.buckets else { return }
            var histogram: Histogram
            if case .histogram(let existing)? = state.families[name]!.series[labels] {
                histogram = existing
            } else {
                histogram = Histogram(counts: Array(repeating: 0, count: buckets.count))
            }
            for (index, bound) in buckets.enumerated() where value <= bound {
                histogram.counts[index] += 1
            }
            histogram.sum += value
            histogram.count += 1
            state.families[name]!.series[labels] = .histogram(histogram)
        }
    }

    /// Removes the series of a family whose labels match.
    public func remove(_ name: String, where matches: ([String]) -> Bool) {
        state.withLock { state in
            guard var family = state.families[name] else { return }
            family.series = family.series.filter { !matches($0.key) }
            state.families[name] = family
        }
    }

    /// Removes, from every family with the label, the series whose value for it is in `values`
    /// (the series of resources and credentials a reload dropped).
    public func removeSeries(label: String, values: Set<String>) {
        guard !values.isEmpty else { return }
        state.withLock { state in
            for name in state.order {
                guard var family = state.families[name], let index = family.descriptor.labelNames.firstIndex(of: label) else { continue }
                family.series = family.series.filter { !values.contains($0.key[index]) }
                state.families[name] = family
            }
        }
    }

    /// Removes, from every family that has all the given labels, the series with those values.
    public func removeSeries(matching labels: [String: String]) {
        state.withLock { state in
            for name in state.order {
                guard var family = state.families[name] else { continue }
                let positions = labels.compactMap { pair in family.descriptor.labelNames.firstIndex(of: pair.key).map { ($0, pair.value) } }
                guard positions.count == labels.count else { continue }
                family.series = family.series.filter { series in !positions.allSatisfy { series.key[$0.0] == $0.1 } }
                state.families[name] = family
            }
        }
    }

    /// The current value of a counter or gauge series, for tests and the status view.
    public func value(_ name: String, _ labels: [String]) -> Double? {
        state.withLock { state in
            if case .scalar(let value)? = state.families[name]?.series[labels] { return value }
            return nil
        }
    }

    private func update(_ name: String, _ labels: [String], _ change: (Value?) -> Value) {
        state.withLock { state in
            guard let count = state.families[name]?.descriptor.labelNames.count else { return }
            precondition(labels.count == count, "label count mismatch for \(name)")
            state.families[name]!.series[labels] = change(state.families[name]!.series[labels])
        }
    }

    /// The whole exposition, families in registration order and series sorted by label values.
    public func render() -> String {
        let snapshot = state.withLock { $0 }
        var output = ""
        output.reserveCapacity(4096)
        for name in snapshot.order {
            guard let family = snapshot.families[name] else { continue }
            Exposition.appendFamily(family.descriptor, series: family.series.sorted { $0.key.lexicographicallyPrecedes($1.key) }, to: &output)
        }
        for collector in collectors.withLock({ $0 }) {
            output += collector()
        }
        return output
    }
}
