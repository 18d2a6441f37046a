// The alerting rules under promtool: the rule file checks clean, and its unit tests pass and cover every rule.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The repository's root: this file is Tests/EndToEndTests/RulesTests.swift in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let rulesPath = repositoryRoot + "/dashboards/aoai-canary.rules.yml"
let rulesTestPath = repositoryRoot + "/dashboards/tests/aoai-canary.rules.test.yml"
let promtoolPath = "/usr/bin/promtool"

/// The alert names the rule file defines, in order.
func alertNames(inRules text: String) -> [String] {
    text.split(separator: "\n").compactMap { line in
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
    }
}

@Suite struct RulesTests {
    @Test func promtoolCheckRulesAcceptsTheRuleFileWithoutAWord() async throws {
        let result = try await runTool(promtoolPath, ["check", "rules", rulesPath])
        #expect(result.status == 0, "promtool check rules:\n\(result.stdout)\(result.stderr)")
        #expect(result.stderr.isEmpty, "promtool check rules wrote to stderr:\n\(result.stderr)")
        let count = alertNames(inRules: try String(contentsOfFile: rulesPath, encoding: .utf8)).count
        #expect(result.stdout.contains("SUCCESS: \(count) rules found"), "\(result.stdout)")
    }

    /// The Prometheus Operator's PrometheusRule and the dashboard's ConfigMap are generated from
    /// the rule file and the dashboard (packaging/kubernetes/generate.sh, `make manifests`): the
    /// committed files are what it writes, and the rule's spec is the rule file, which promtool
    /// accepts.
    @Test func theKubernetesRuleAndDashboardAreTheSourcesOwn() async throws {
        let directory = NSTemporaryDirectory() + "aoai-canary-manifests-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let generated = try await runTool(repositoryRoot + "/packaging/kubernetes/generate.sh", [directory])
        #expect(generated.status == 0, "\(generated.stderr)")
        for name in ["prometheusrule.yaml", "dashboard-configmap.yaml"] {
            let committed = try String(contentsOfFile: repositoryRoot + "/packaging/kubernetes/components/prometheus-operator/" + name, encoding: .utf8)
            let fresh = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            #expect(committed == fresh, "packaging/kubernetes/components/prometheus-operator/\(name) drifted from its source: run make manifests")
        }
        // The spec, taken back out, is the rule file's text less its header comments.
        let rule = try String(contentsOfFile: directory + "/prometheusrule.yaml", encoding: .utf8)
        let spec = try #require(rule.components(separatedBy: "\nspec:\n").last)
        let rules = spec.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasPrefix("  ") ? String($0.dropFirst(2)) : String($0) }
            .joined(separator: "\n")
        let source = try String(contentsOfFile: rulesPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        #expect(rules == source)
        try rules.write(toFile: directory + "/spec.yml", atomically: true, encoding: .utf8)
        let checked = try await runTool(promtoolPath, ["check", "rules", directory + "/spec.yml"])
        #expect(checked.status == 0 && checked.stdout.contains("SUCCESS"), "\(checked.stdout)\(checked.stderr)")
    }

    @Test func promtoolUnitTestsOfTheRulesPass() async throws {
        let result = try await runTool(promtoolPath, ["test", "rules", rulesTestPath])
        #expect(result.status == 0, "promtool test rules:\n\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("SUCCESS"), "promtool test rules:\n\(result.stdout)\(result.stderr)")
    }

    /// Each rule has a case that fires it, with its labels and annotations (`exp_alerts`), and a
    /// case in which it stays quiet (a flow entry `{eval_time: ..., alertname: ...}` without them).
    @Test func everyRuleHasATestThatFiresItAndOneThatKeepsItQuiet() throws {
        let names = alertNames(inRules: try String(contentsOfFile: rulesPath, encoding: .utf8))
        #expect(names.count >= 12)
        #expect(names.allSatisfy { $0.hasPrefix("AoaiCanary") })
        #expect(Set(names).count == names.count, "duplicate alert names: \(names)")

        let lines = try String(contentsOfFile: rulesTestPath, encoding: .utf8).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var fired = Set<String>()
        var quiet = Set<String>()
        for (index, line) in lines.enumerated() {
            if line.hasPrefix("- {eval_time:"), let range = line.range(of: #"alertname: (\w+)"#, options: .regularExpression) {
                quiet.insert(String(line[range].dropFirst("alertname: ".count)))
            } else if line.hasPrefix("alertname: "), index + 1 < lines.count, lines[index + 1] == "exp_alerts:" {
                fired.insert(String(line.dropFirst("alertname: ".count)))
            }
        }
        for name in names {
            #expect(fired.contains(name), "no test fires \(name)")
            #expect(quiet.contains(name), "no test shows \(name) quiet")
        }
        #expect(fired.union(quiet).subtracting(names).isEmpty, "tests of unknown alerts: \(fired.union(quiet).subtracting(names))")
    }
}
