// What the compiler cannot see of the layering: that README.md's map is Package.swift's target
// graph, and that the layers reach C only through the project's wrappers. That no layer names one
// above it is the compiler's job (each layer is a target); Tests/Layers/upward-reference.sh shows
// it refusing one.
import Foundation
import Testing

@Suite struct ArchitectureTests {
    static let root = fixturesDirectory.components(separatedBy: "/Tests/")[0]

    /// The layers as README.md's Architecture section lists them: `A` < `B`, `C` < `D` (B and C
    /// on one level, neither naming the other).
    static func layers() throws -> [[String]] {
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let line = try #require(readme.split(separator: "\n").first { $0.hasPrefix("Layers, lowest first:") })
        return line.dropFirst("Layers, lowest first:".count).split(separator: "<").map { level in
            level.split(separator: ",").map { $0.filter { $0.isLetter } }.filter { !$0.isEmpty }
        }
    }

    /// Package.swift's targets under Sources/Canary, with the dependencies each declares.
    static func layerTargets() throws -> [String: [String]] {
        let manifest = try String(contentsOfFile: root + "/Package.swift", encoding: .utf8)
        let pattern = try Regex(#"\.target\(name: "([A-Za-z]+)"(?:, dependencies: \[([^\]]*)\])?, path: "Sources/Canary/([A-Za-z]+)"\)"#)
        var result: [String: [String]] = [:]
        for match in manifest.matches(of: pattern) {
            let name = String(try #require(match.output[1].substring))
            #expect(match.output[3].substring.map(String.init) == name, "target \(name) lives in a folder of another name")
            let dependencies = match.output[2].substring.map { $0.split(separator: ",").map { $0.filter { $0.isLetter } } } ?? []
            result[name] = dependencies
        }
        return result
    }

    @Test func theReadmesLayersAreThePackagesTargetGraph() throws {
        let layers = try Self.layers()
        var rank: [String: Int] = [:]
        for (level, names) in layers.enumerated() { for name in names { rank[name] = level } }
        let targets = try Self.layerTargets()
        #expect(Set(targets.keys) == Set(rank.keys), "README.md's layers and Package.swift's targets under Sources/Canary differ")
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/Sources/Canary")
        #expect(Set(folders) == Set(rank.keys), "a folder of Sources/Canary is not a layer")
        for (name, dependencies) in targets {
            guard let own = rank[name] else { continue }
            let layerDependencies = dependencies.filter { rank[$0] != nil }
            for dependency in layerDependencies {
                #expect(rank[dependency]! < own, "\(name) depends on \(dependency), which README.md does not put below it")
            }
            // Each layer stands on the level just below it, so the line reads as the graph does.
            if own > 0 {
                #expect(layerDependencies.contains { rank[$0] == own - 1 }, "\(name) does not depend on the level below it")
            }
        }
    }

    /// Modules a layer may import besides other layers: the project's wrappers and the
    /// toolchain's Swift modules. No C module, no libc: those are the wrappers' business.
    static let allowedImports: Set<String> = [
        "Posix", "HTTPClient", "HTTPServer", "Journal", "YAML", "JSON", "Gzip", "Crypto",
        "Synchronization", "Dispatch", "FoundationEssentials",
    ]

    /// The layers and the simulator: neither imports a C module or libc.
    @Test func layersAndTheSimulatorReachCOnlyThroughTheWrappers() throws {
        let layers = Set(try Self.layers().joined())
        for folder in layers.sorted().map({ "Canary/" + $0 }) + ["AzureSimulator"] {
            for file in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/Sources/" + folder) {
                let text = try String(contentsOfFile: Self.root + "/Sources/\(folder)/\(file)", encoding: .utf8)
                for line in text.split(separator: "\n") where line.contains("import ") {
                    let words = line.split(separator: " ")
                    guard let index = words.firstIndex(of: "import"), index + 1 < words.count, words[..<index].allSatisfy({ $0.hasPrefix("@") }) else {
                        continue
                    }
                    let module = String(words[index + 1])
                    #expect(layers.contains(module) || Self.allowedImports.contains(module), "\(folder)/\(file) imports \(module)")
                }
            }
        }
    }
}
