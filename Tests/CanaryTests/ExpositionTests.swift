// The text format: escaping, number formatting, histogram layout, and promtool's verdict.
import CanaryTestSupport
import Testing

@testable import Metrics
@testable import Probe

@Suite struct ExpositionTests {
    @Test func labelValuesAndHelpAreEscaped() {
        let registry = MetricsRegistry()
        let family = GaugeFamily("e", help: "E.", labels: ["v"])
        registry.register(family)
        registry.set(family, [#"a\b"c"# + "\nd"], 1)
        #expect(registry.render().contains(#"e{v="a\\b\"c\nd"} 1"#))
        #expect(Exposition.escapeHelp(#"back\slash"# + "\nnew \"quotes\" stay") == #"back\\slash\nnew "quotes" stay"#)
    }

    @Test func numbersArePrintedThePrometheusWay() {
        #expect(Exposition.format(1) == "1")
        #expect(Exposition.format(0.25) == "0.25")
        #expect(Exposition.format(.infinity) == "+Inf")
        #expect(Exposition.format(-.infinity) == "-Inf")
        #expect(Exposition.format(.nan) == "NaN")
        #expect(Exposition.format(1_795_607_700.5) == "1795607700.5")
    }

    @Test func familiesRenderInRegistrationOrderWithSortedSeries() {
        let registry = MetricsRegistry()
        let counter = CounterFamily("b_total", help: "B.", labels: ["x"])
        let histogram = HistogramFamily("a_seconds", help: "A.", buckets: [0.1, 1])
        registry.register(counter)
        registry.register(histogram)
        registry.add(counter, ["z"])
        registry.add(counter, ["y"], 2)
        registry.observe(histogram, [], 0.5)
        registry.observe(histogram, [], 5)
        // New counters are served at 0 once before they count, so that increase() sees them move.
        #expect(registry.render().contains("b_total{x=\"y\"} 0\nb_total{x=\"z\"} 0\n"))
        #expect(registry.value(counter, ["y"]) == 2, "what is held still counts for the agent's own readers")
        #expect(
            registry.render() == """
                # HELP b_total B.
                # TYPE b_total counter
                b_total{x="y"} 2
                b_total{x="z"} 1
                # HELP a_seconds A.
                # TYPE a_seconds histogram
                a_seconds_bucket{le="0.1"} 0
                a_seconds_bucket{le="1"} 1
                a_seconds_bucket{le="+Inf"} 2
                a_seconds_sum 5.5
                a_seconds_count 2

                """)
    }

    /// A counter that appears with its first increment is served at 0 by one rendering first;
    /// what comes meanwhile is held with it, a counter that existed counts at once, and a removed
    /// series takes what it held with it.
    @Test func aNewCounterIsServedAtZeroOnceBeforeItCounts() {
        let registry = MetricsRegistry()
        let counter = CounterFamily("c_total", help: "C.", labels: ["r", "reason"])
        registry.register(counter)
        registry.touch(counter, ["r", "old"])
        registry.add(counter, ["r", "old"])
        registry.add(counter, ["r", "new"])
        registry.add(counter, ["r", "new"], 2)
        registry.add(counter, ["gone", "new"])
        #expect(registry.render().hasSuffix("c_total{r=\"gone\",reason=\"new\"} 0\nc_total{r=\"r\",reason=\"new\"} 0\nc_total{r=\"r\",reason=\"old\"} 1\n"))
        registry.remove(counter, first: "gone")
        registry.add(counter, ["r", "new"])
        #expect(registry.render().hasSuffix("c_total{r=\"r\",reason=\"new\"} 4\nc_total{r=\"r\",reason=\"old\"} 1\n"))
        registry.add(counter, ["gone", "new"])
        #expect(registry.render().contains("c_total{r=\"gone\",reason=\"new\"} 0\n"), "a series made again starts over at 0")
    }

    /// The alert rules give per-resource Entra ID alerts their credential through this series.
    @Test func eachEntraIDResourceNamesItsCredentialOnceAndFollowsAChange() {
        let metrics = CanaryMetrics(build: BuildInfo(version: "1.0", revision: "abc", swiftVersion: "6.3"))
        let family = CanaryMetrics.resourceCredential
        metrics.prepare(resource: "r", modes: AuthMode.allCases, credential: "app")
        metrics.prepare(resource: "key-only", modes: [.apiKey], credential: nil)
        #expect(metrics.registry.value(family, ["r", "app"]) == 1)
        #expect(!metrics.registry.render().contains(#"aoai_canary_resource_credential_info{resource="key-only""#))
        // A reload that moves the resource to another credential leaves one series, the new one.
        metrics.prepare(resource: "r", modes: AuthMode.allCases, credential: "other")
        #expect(metrics.registry.value(family, ["r", "app"]) == nil)
        #expect(metrics.registry.value(family, ["r", "other"]) == 1)
    }

    /// The last failure's reason, one series per resource and auth mode while it fails, none
    /// while it succeeds: what the auth alert rules read to leave failures before a recovery be.
    @Test func theLastFailureReasonFollowsEachProbe() {
        let metrics = CanaryMetrics(build: BuildInfo(version: "1.0", revision: "abc", swiftVersion: "6.3"))
        let family = CanaryMetrics.lastFailureReason
        metrics.prepare(resource: "r", modes: AuthMode.allCases, credential: "app")
        func probe(_ auth: AuthMode, _ reason: FailureReason?) {
            metrics.record(
                ProbeResult(
                    resource: "r", auth: auth, verdict: reason.map { .failure($0, Evidence()) } ?? .success, status: reason == nil ? 200 : 0,
                    timings: nil, finishedAt: 1_800_000_000))
        }
        func reasons(_ auth: AuthMode) -> [String] {
            FailureReason.allCases.map(\.rawValue).filter { metrics.registry.value(family, ["r", auth.rawValue, $0]) == 1 }
        }
        #expect(reasons(.entraID).isEmpty, "none before the first probe")
        probe(.entraID, .tokenAcquisitionFailed)
        probe(.apiKey, .throttled)
        #expect(reasons(.entraID) == ["token_acquisition_failed"] && reasons(.apiKey) == ["throttled"])
        probe(.entraID, .throttled)
        #expect(reasons(.entraID) == ["throttled"], "the token came back; the old reason goes")
        probe(.entraID, nil)
        #expect(reasons(.entraID).isEmpty && reasons(.apiKey) == ["throttled"], "a success leaves none, and the other mode alone")
        #expect(metrics.registry.render().contains(#"aoai_canary_last_failure_reason{resource="r",auth="api_key",reason="throttled"} 1"#))
    }

    @Test func awkwardLabelValuesPassPromtool() throws {
        let metrics = CanaryMetrics(build: BuildInfo(version: "1.0", revision: "abc", swiftVersion: "6.3"))
        metrics.registry.addCollector { ProcessMetrics.render() }
        let awkward = "we\"ird\\name\nwith newline é"
        metrics.prepare(resource: awkward, modes: AuthMode.allCases)
        metrics.prepare(credential: awkward)
        let text = metrics.registry.render()
        #expect(text.contains(#"resource="we\"ird\\name\nwith newline é""#))
        let result = try Promtool.checkMetrics(text)
        #expect(result.status == 0, "promtool: \(result.output)")
        #expect(result.output.isEmpty, "promtool reported: \(result.output)")
    }
}
