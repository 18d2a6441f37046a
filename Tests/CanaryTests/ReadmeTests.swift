// The README and the reference in docs/ state facts the code defines; these tests keep them in step.
import Auth
import Config
import Foundation
import Metrics
import Probe
import Testing

@Suite struct ReadmeTests {
    /// README.md and the documents it links to in docs/, as one text.
    let readme: String = {
        let root = fixturesDirectory.components(separatedBy: "/Tests/")[0]
        return (["README.md"] + ["metrics", "configuration", "operations", "security", "performance"].map { "docs/\($0).md" })
            .map { (try? String(contentsOfFile: root + "/" + $0, encoding: .utf8)) ?? "" }.joined(separator: "\n")
    }()

    @Test func theReasonTableIsTheCodesReasonList() throws {
        let table = FailureReason.markdownTable
        if !readme.contains(table) {
            let path = fixturesDirectory.components(separatedBy: "/Tests/")[0] + "/.build/reason-table.md"
            try table.write(toFile: path, atomically: true, encoding: .utf8)
            Issue.record("docs/metrics.md's reason table differs from the code's; the expected table is in \(path)")
        }
    }

    @Test func everyMetricFamilyIsDocumented() {
        // Every family the agent registers, as CanaryMetrics declares them: a new one is
        // documented or this fails.
        for descriptor in CanaryMetrics.all {
            #expect(readme.contains("`\(descriptor.name)"), "\(descriptor.name) is not in README.md or docs/")
        }
    }

    @Test func everyRefreshFailureReasonIsDocumented() {
        for reason in RefreshFailureReason.allCases {
            #expect(readme.contains("`\(reason.rawValue)`"), "refresh failure reason \(reason.rawValue) is not in README.md or docs/")
        }
    }

    @Test func everyLintCheckIsDocumented() {
        for check in LintCheck.allCases {
            #expect(readme.contains("`\(check.rawValue)`"), "lint check \(check.rawValue) is not in README.md or docs/")
        }
    }
}
