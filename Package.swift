// swift-tools-version:6.0
// The aoai-canary package: an Azure OpenAI authentication canary for Linux hosts.
import PackageDescription

/// The source revision for `aoai_canary_build_info`, from the environment (the Makefile sets it).
let revision = Context.environment["AOAI_CANARY_REVISION"].map { $0.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." } } ?? ""

/// `make fuzz` sets this to build the libFuzzer harness; ordinary builds leave it out.
let fuzzing = Context.environment["AOAI_CANARY_FUZZ"] == "1"

let package = Package(
    name: "aoai-canary",
    products: [
        .executable(name: "aoai-canary", targets: ["aoai-canary"])
    ] + (fuzzing ? [.library(name: "CanaryFuzz", type: .dynamic, targets: ["CanaryFuzz"])] : []),
    targets: [
        // C corners: a module map and a header of static inline shims each.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev", "libgnutls28-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCrypt", pkgConfig: "libcrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CBuildInfo", cSettings: revision.isEmpty ? [] : [.define("AOAI_CANARY_REVISION", to: "\"\(revision)\"")]),
        .target(name: "CProcess"),

        // One Swift wrapper per C library.
        .target(name: "HTTPClient", dependencies: ["CCurl"]),
        .target(name: "HTTPServer", dependencies: ["CMicroHTTPD"]),
        .target(name: "Journal", dependencies: ["CSystemd"]),
        .target(name: "YAML", dependencies: ["CYAML"]),
        .target(name: "JSON"),
        .target(name: "Gzip", dependencies: ["CZlib"]),
        .target(name: "Posix"),
        .target(name: "Crypto", dependencies: ["CCrypto", "CCrypt"]),

        // The domain, one target per layer (README.md, Architecture): each names only the layers
        // below it, so an upward reference does not compile.
        .target(name: "Support", dependencies: ["Posix"], path: "Sources/Canary/Support"),
        .target(name: "Log", dependencies: ["Support", "Posix", "Journal", "JSON"], path: "Sources/Canary/Log"),
        .target(name: "Config", dependencies: ["Log", "Posix", "Crypto", "HTTPServer", "YAML"], path: "Sources/Canary/Config"),
        .target(name: "Auth", dependencies: ["Config", "Posix", "Crypto", "HTTPClient", "JSON"], path: "Sources/Canary/Auth"),
        .target(name: "Probe", dependencies: ["Auth", "HTTPClient", "HTTPServer", "JSON"], path: "Sources/Canary/Probe"),
        .target(name: "ControlPlane", dependencies: ["Probe", "HTTPClient", "HTTPServer", "JSON"], path: "Sources/Canary/ControlPlane"),
        .target(name: "Metrics", dependencies: ["ControlPlane", "Posix"], path: "Sources/Canary/Metrics"),
        .target(name: "Status", dependencies: ["Metrics", "JSON"], path: "Sources/Canary/Status"),
        .target(name: "Schedule", dependencies: ["Status"], path: "Sources/Canary/Schedule"),
        .target(name: "Diagnose", dependencies: ["Schedule", "Posix", "HTTPClient", "JSON"], path: "Sources/Canary/Diagnose"),
        .target(name: "Endpoint", dependencies: ["Schedule", "Crypto", "Gzip", "HTTPServer"], path: "Sources/Canary/Endpoint"),
        .target(name: "Agent", dependencies: ["Diagnose", "Endpoint", "HTTPClient", "HTTPServer", "Posix"], path: "Sources/Canary/Agent"),

        // The fake Azure the agent is tested against.
        .target(name: "AzureSimulator", dependencies: ["HTTPServer", "JSON", "Crypto", "Posix"]),

        .executableTarget(name: "aoai-canary", dependencies: ["Agent", "AzureSimulator", "CBuildInfo", "CProcess", "Journal", "HTTPServer"]),

        // Test doubles and the fuzz entry: shared by the test targets and the fuzz harness, never shipped.
        .target(name: "CanaryTestSupport", dependencies: ["Agent", "AzureSimulator", "HTTPServer", "JSON"], path: "Tests/CanaryTestSupport"),
        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient", "HTTPServer"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip"]),
        .testTarget(name: "PosixTests", dependencies: ["Posix"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "AzureSimulatorTests", dependencies: ["AzureSimulator", "HTTPClient", "Crypto"]),
        .testTarget(
            name: "CanaryTests", dependencies: ["Agent", "CanaryTestSupport", "AzureSimulator", "Crypto", "HTTPClient", "HTTPServer", "JSON"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "EndToEndTests", dependencies: ["Agent", "CanaryTestSupport", "AzureSimulator", "Crypto", "HTTPClient", "HTTPServer", "Journal"],
            exclude: ["Fixtures"]),
    ] + (fuzzing ? [.target(name: "CanaryFuzz", dependencies: ["CanaryTestSupport"])] : [])
)
