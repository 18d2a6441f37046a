// A short soak: 200 resources probed every second through rotating faults. Memory must level off
// after warm-up, descriptors stay bounded, counters only grow, and the rounds keep coming.
// `make soak` runs the same for longer (AOAI_CANARY_SOAK_SECONDS).
import AzureSimulator
import Foundation
import Testing

@Suite(.serialized) struct SoakTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["AOAI_CANARY_SOAK_SECONDS"] ?? "") ?? 24
    static let resources = 200

    @Test func twoHundredResourcesThroughRotatingFaults() async throws {
        let world = try World()
        let names = (0..<Self.resources).map { "soak-\($0)" }
        let endpoints = names.map { ($0, world.addResource($0)) }
        let path = world.directory + "/config.yaml"
        try world.configText(resources: endpoints, timeout: "1s", interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))

        struct Sample {
            var time: Double
            var rss: Double
            var fds: Double
            var probes: Double
            var counters: [String: Double]
        }
        var samples: [Sample] = []
        let start = Date()
        var tick = 0
        while Date().timeIntervalSince(start) < Self.seconds {
            // Rotate faults over 10 resources at a time.
            let faulty = (0..<10).map { names[(tick * 10 + $0 * 17) % names.count] }
            for (index, name) in faulty.enumerated() {
                world.simulator.updateResource(name) { resource in
                    resource = SimulatedResource(name: resource.name, tenantID: resource.tenantID, apiKey: resource.apiKey, deployments: resource.deployments)
                    switch index % 5 {
                    case 0: resource.hang = true
                    case 1: resource.closeConnection = true
                    case 2: resource.throttleRetryAfterSeconds = 1
                    case 3: resource.serverErrorStatus = 503
                    default: resource.keyInvalid = true
                    }
                }
            }
            try await Task.sleep(for: .seconds(2))
            for name in faulty {
                world.simulator.updateResource(name) { resource in
                    resource = SimulatedResource(name: resource.name, tenantID: resource.tenantID, apiKey: resource.apiKey, deployments: resource.deployments)
                }
            }
            tick += 1
            let text = String(decoding: try await get(url).body, as: UTF8.self)
            var counters: [String: Double] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("aoai_canary_probes_total{") || line.hasPrefix("aoai_canary_probe_failures_total{") {
                if let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) { counters[String(line[..<space])] = value }
            }
            samples.append(
                Sample(
                    time: Date().timeIntervalSince(start), rss: sampleValue(text, "process_resident_memory_bytes") ?? 0,
                    fds: sampleValue(text, "process_open_fds") ?? 0,
                    probes: counters.filter { $0.key.hasPrefix("aoai_canary_probes_total") }.values.reduce(0, +), counters: counters))
        }
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0, "stops cleanly after the soak")

        // Counters only grow.
        for (previous, next) in zip(samples, samples.dropFirst()) {
            for (series, value) in previous.counters {
                #expect((next.counters[series] ?? -1) >= value, "\(series) went from \(value) to \(next.counters[series] ?? -1)")
            }
        }
        // The rounds kept coming: most of the 2 probes per resource per second were made.
        let first = try #require(samples.first)
        let last = try #require(samples.last)
        let rate = (last.probes - first.probes) / (last.time - first.time)
        #expect(rate > Double(Self.resources) * 2 * 0.7, "probes per second: \(rate)")

        // After warm-up (the first third), memory levels off and descriptors stay bounded.
        let settled = samples.filter { $0.time > Self.seconds / 3 }
        let slope = regressionSlope(settled.map { ($0.time, $0.rss) })
        let fdSpread = (settled.map(\.fds).max() ?? 0) - (settled.map(\.fds).min() ?? 0)
        print(
            "soak: \(Self.resources) resources, \(Int(Self.seconds)) s, \(Int(rate)) probes/s, RSS \(Int((last.rss) / 1_048_576)) MiB, RSS slope after "
                + "warm-up \(Int(slope / 1024)) KiB/s, open fds \(Int(settled.map(\.fds).min() ?? 0))-\(Int(settled.map(\.fds).max() ?? 0))"
        )
        #expect(slope < 256 * 1024, "resident memory keeps growing: \(Int(slope / 1024)) KiB/s after warm-up")
        #expect(fdSpread < 300, "open descriptors vary by \(fdSpread) after warm-up")
        #expect((settled.map(\.fds).max() ?? 0) < 900)
    }
}

/// The least-squares slope of y over x.
func regressionSlope(_ points: [(Double, Double)]) -> Double {
    guard points.count > 1 else { return 0 }
    let n = Double(points.count)
    let meanX = points.map(\.0).reduce(0, +) / n
    let meanY = points.map(\.1).reduce(0, +) / n
    let numerator = points.map { ($0.0 - meanX) * ($0.1 - meanY) }.reduce(0, +)
    let denominator = points.map { ($0.0 - meanX) * ($0.0 - meanX) }.reduce(0, +)
    return denominator == 0 ? 0 : numerator / denominator
}
