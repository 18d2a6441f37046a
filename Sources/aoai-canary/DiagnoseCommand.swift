// `aoai-canary diagnose`: the checklist for every resource, as text or JSON.
import Config
import Diagnose
import Glibc
import HTTPClient
import JSON
import Log
import Support

func runDiagnose(_ options: [String: String]) async -> Int32 {
    let path = options["config"] ?? defaultConfigPath
    let variables = environmentVariables()
    var config: CanaryConfig
    do {
        config = try ConfigLoader.load(path: path, variables: variables)
    } catch {
        printError(error.description)
        return exitConfig
    }
    let client = HTTPClient()
    defer { client.shutdown() }
    let diagnoser = Diagnoser(
        client: client, clock: SystemClock(), timeoutSeconds: config.timeout.seconds, azPath: Diagnoser.findAzureCLI(path: variables["PATH"]))
    // What discovery finds is walked too, after one pass, as the agent would probe it.
    let listed = config.resources.count
    if !config.discovery.isEmpty, config.controlPlane != nil {
        if isatty(STDERR_FILENO) == 1 { EventLogger.writeStderr("\r\u{1B}[Kdiscovering accounts...") }
        let (merged, problems) = await diagnoser.discover(config)
        if isatty(STDERR_FILENO) == 1 { EventLogger.writeStderr("\r\u{1B}[K") }
        for problem in problems { printError("Warning: \(problem)") }
        config = merged
    }
    if let name = options["resource"], !config.resources.contains(where: { $0.name == name }) {
        // An estate lists thousands: the first names say enough.
        func some(_ names: ArraySlice<ResourceConfig>) -> String {
            guard !names.isEmpty else { return "none" }
            let shown = names.prefix(20).map(\.name).joined(separator: ", ")
            return names.count > 20 ? "\(shown) and \(names.count - 20) more" : shown
        }
        printError(
            "Error: no resource \"\(name)\" in \(path) (defined: \(some(config.resources.prefix(listed)))"
                + (config.discovery.isEmpty ? "" : "; discovered: \(some(config.resources.dropFirst(listed)))") + ")")
        return exitUsage
    }
    let asText = options["format"] != "json"
    // Each checklist is printed as soon as it is done; on a terminal, one line on stderr says
    // which resource is being walked meanwhile (endpoints that do not answer take the timeout).
    let progress = isatty(STDERR_FILENO) == 1
    var printed = 0
    let reports = await diagnoser.diagnose(
        config, resource: options["resource"],
        starting: { name, position, count in
            guard progress else { return }
            EventLogger.writeStderr("\r\u{1B}[Kchecking \(name) (\(position) of \(count))...")
        },
        finished: { report in
            if progress { EventLogger.writeStderr("\r\u{1B}[K") }
            guard asText else { return }
            print((printed > 0 ? "\n" : "") + report.text, terminator: "")
            fflush(nil)  // every output stream: a pipe holds a checklist back otherwise
            printed += 1
        })
    let failing = reports.filter { $0.entraWorks == false }
    if asText {
        print("\n" + summary(reports))
    } else {
        let document = JSONValue.object([
            ("ok", .bool(failing.isEmpty)),
            ("resources", .array(reports.map(\.json))),
        ])
        print(document.rendered)
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
