// `aoai-canary diagnose`: the checklist for every resource, as text or JSON.
import Config
import Diagnose
import HTTPClient
import JSON
import Support

func runDiagnose(_ options: [String: String]) async -> Int32 {
    let path = options["config"] ?? defaultConfigPath
    let variables = environmentVariables()
    let config: CanaryConfig
    do {
        config = try ConfigLoader.load(path: path, variables: variables)
    } catch {
        printError(error.description)
        return exitConfig
    }
    if let name = options["resource"], !config.resources.contains(where: { $0.name == name }) {
        printError("Error: no resource \"\(name)\" in \(path) (defined: \(config.resources.map(\.name).joined(separator: ", ")))")
        return exitUsage
    }
    let client = HTTPClient()
    defer { client.shutdown() }
    let diagnoser = Diagnoser(
        client: client, clock: SystemClock(), timeoutSeconds: config.timeout.seconds, azPath: Diagnoser.findAzureCLI(path: variables["PATH"]))
    let reports = await diagnoser.diagnose(config, resource: options["resource"])
    let failing = reports.filter { $0.entraWorks == false }
    if options["format"] == "json" {
        let document = JSONValue.object([
            ("ok", .bool(failing.isEmpty)),
            ("resources", .array(reports.map(\.json))),
        ])
        print(document.rendered)
    } else {
        print(reports.map(\.text).joined(separator: "\n"))
        print(summary(reports))
    }
    return failing.isEmpty ? 0 : 1
}

/// The last line of the text report: which resources' Entra ID fails, and which could not be
/// judged (a throttled call proves nothing about permissions).
func summary(_ reports: [ResourceDiagnosis]) -> String {
    let failing = reports.filter { $0.entraWorks == false }
    let unjudged = reports.filter { $0.entraUnjudged != nil }
    let withEntra = reports.filter { $0.entraWorks != nil || $0.entraUnjudged != nil }.count
    let notJudged =
        unjudged.isEmpty
        ? ""
        : " Not judged, their calls prove nothing about auth: "
            + unjudged.map { "\($0.resource) (\($0.entraUnjudged?.rawValue ?? ""))" }.joined(separator: ", ") + "."
    if !failing.isEmpty {
        return "Entra ID fails for \(failing.count) of \(withEntra) resources: \(failing.map(\.resource).joined(separator: ", "))." + notJudged
    }
    if unjudged.isEmpty { return "Entra ID works for all \(withEntra) resources with an Entra ID canary." }
    return "Entra ID works for \(withEntra - unjudged.count) of \(withEntra) resources with an Entra ID canary." + notJudged
}
