// Replays what the fuzzer once crashed on (Tests/Fuzz/Regressions/<target>/) and its seeds.
import Foundation
import CanaryTestSupport
import Testing
@testable import Canary

@Suite struct FuzzRegressionTests {
    static let root = String(#filePath.dropLast("CanaryTests/FuzzRegressionTests.swift".count)) + "Fuzz/"

    @Test(arguments: FuzzEntry.Target.allCases)
    func seedsAndRegressionsRunWithoutTrapping(target: FuzzEntry.Target) throws {
        var inputs = 0
        for folder in ["Corpus", "Regressions"] {
            let directory = Self.root + folder + "/" + target.rawValue
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                FuzzEntry.run(target, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
                inputs += 1
            }
        }
        #expect(inputs > 0, "no seeds for \(target.rawValue)")
    }
}
