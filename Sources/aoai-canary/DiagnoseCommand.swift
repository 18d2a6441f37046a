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
        let withEntra = reports.filter { $0.entraWorks != nil }.count
        print(
            failing.isEmpty
                ? "Entra ID works for all \(withEntra) resources with an Entra ID canary."
                : "Entra ID fails for \(failing.count) of \(withEntra) resources: \(failing.map(\.resource).joined(separator: ", ")).")
    }
    return failing.isEmpty ? 0 : 1
}
