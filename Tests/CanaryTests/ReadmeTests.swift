// The README states facts the code defines; these tests keep the two in step.
import Canary
import Foundation
import Testing

@Suite struct ReadmeTests {
    let readme: String = {
        let root = fixturesDirectory.components(separatedBy: "/Tests/")[0]
        return (try? String(contentsOfFile: root + "/README.md", encoding: .utf8)) ?? ""
    }()

    @Test func theReasonTableIsTheCodesReasonList() throws {
        let table = FailureReason.markdownTable
        if !readme.contains(table) {
            let path = fixturesDirectory.components(separatedBy: "/Tests/")[0] + "/.build/reason-table.md"
            try table.write(toFile: path, atomically: true, encoding: .utf8)
            Issue.record("README.md's reason table differs from the code's; the expected table is in \(path)")
        }
    }

    @Test func everyMetricFamilyIsDocumented() {
        // Every family the agent registers, as CanaryMetrics declares them: a new one is
        // documented or this fails.
        for descriptor in CanaryMetrics.all {
            #expect(readme.contains("`\(descriptor.name)"), "\(descriptor.name) is not in README.md")
        }
    }

    @Test func everyRefreshFailureReasonIsDocumented() {
        for reason in RefreshFailureReason.allCases {
            #expect(readme.contains("`\(reason.rawValue)`"), "refresh failure reason \(reason.rawValue) is not in README.md")
        }
    }

    @Test func everyLintCheckIsDocumented() {
        for check in LintCheck.allCases {
            #expect(readme.contains("`\(check.rawValue)`"), "lint check \(check.rawValue) is not in README.md")
        }
    }
}
