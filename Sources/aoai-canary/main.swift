// The aoai-canary executable: argument parsing and wiring only.
import AzureSimulator
import CBuildInfo
import CProcess
import HTTPServer
import Journal
import Log
import Metrics

#if canImport(Glibc)
import Glibc
#endif

// In a container the agent may be PID 1: then a small init stays PID 1, reaping and passing
// signals on, and the agent runs as its child. This comes first, before any thread starts.
CProcess_run_as_init_when_pid1()

let version = "0.1.0"
let build = BuildInfo(version: version, revision: String(cString: CBuildInfo_revision()), swiftVersion: swiftVersionString())

func swiftVersionString() -> String {
    #if swift(>=6.3)
    return "6.3"
    #elseif swift(>=6.2)
    return "6.2"
    #elseif swift(>=6.1)
    return "6.1"
    #else
    return "6.0"
    #endif
}

func printError(_ text: String) {
    EventLogger.writeStderr(text.hasSuffix("\n") ? text : text + "\n")
}

func environmentVariables() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        pointer += 1
    }
    return result
}

let exitUsage: Int32 = 64
let exitConfig: Int32 = 64
let exitUnavailable: Int32 = 69

signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
let invocation: Invocation
do {
    invocation = try parseArguments(arguments)
} catch {
    var text = "Error: \(error.message)\n"
    if let command = error.command {
        text += "Usage: \(command.usage)\n  See 'aoai-canary \(command.name) --help'.\n"
    } else {
        text += "Usage: aoai-canary <subcommand> [options]\n  See 'aoai-canary --help'.\n"
    }
    printError(text)
    exit(exitUsage)
}

// Large blocks (a /metrics rendering of many megabytes) are mapped and unmapped, so their memory
// goes back to the system when the scrapes that held them end.
CProcess_keep_large_blocks_mapped()

switch invocation {
case .help(let text):
    print(text, terminator: "")
case .version:
    print("aoai-canary \(version) (revision \(build.revision))")
case .manPage(let date):
    print(manPage(date: date), terminator: "")
case .benchTarget(let listen):
    exit(await runBenchTarget(listen))
case .command(let command, let options):
    let status: Int32
    switch command.name {
    case "run": status = await runDaemon(options)
    case "check-config": status = checkConfig(options)
    case "token": status = await printToken(options)
    case "diagnose": status = await runDiagnose(options)
    case "simulate": status = await runSimulator(options)
    case "demo": status = await runDemo(options)
    case "version":
        print("aoai-canary \(version) (revision \(build.revision))")
        status = 0
    default: status = exitUsage
    }
    exit(status)
}
