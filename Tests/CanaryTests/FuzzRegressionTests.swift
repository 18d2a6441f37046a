// Replays what the fuzzer once crashed on (Tests/Fuzz/Regressions/<target>/) and its seeds.
import CanaryTestSupport
import Foundation
import Testing

@Suite struct FuzzRegressionTests {
    static let root = String(#filePath.dropLast("CanaryTests/FuzzRegressionTests.swift".count)) + "Fuzz/"

    @Test(arguments: FuzzEntry.Target.allCases)
    func seedsAndRegressionsRunWithoutTrapping(target: FuzzEntry.Target) async throws {
        var inputs = 0
        for folder in ["Corpus", "Regressions"] {
            let directory = Self.root + folder + "/" + target.rawValue
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                await FuzzEntry.runAsync(target, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
                inputs += 1
            }
        }
        #expect(inputs > 0, "no seeds for \(target.rawValue)")
    }
}

@Suite struct FuzzAgentTargetTests {
    /// The agent target really runs what it decodes: the seed's key calls and its managed
    /// identity's call reach the simulator (its client secret is not the demo app's, so the
    /// app's token is refused and its Entra ID probes make no call).
    @Test func anAcceptedConfigurationStartsProbesAndStops() async throws {
        let root = fixturesDirectory.components(separatedBy: "/Tests/")[0]
        let seed = try String(contentsOfFile: root + "/Tests/Fuzz/Corpus/agent/probes.yaml", encoding: .utf8)
        let before = fuzzSimulator.requestCount(resource: "healthy")
        await FuzzEntry.runAsync(.agent, Array(seed.utf8))
        #expect(fuzzSimulator.requestCount(resource: "healthy") - before >= 3)
    }
}
