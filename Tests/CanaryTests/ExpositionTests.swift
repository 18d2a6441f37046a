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
