// The README's map of Canary's rooms is the code's: each folder names only the types of the
// folders below it, so the module could be split into targets along them.
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

    /// The top-level types and functions each folder of Sources/Canary declares.
    static func declarations() throws -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        let pattern = try Regex(#"^(?:public |package |internal )?(?:final )?(?:struct|enum|class|actor|protocol|typealias|func) +([A-Za-z_][A-Za-z0-9_]*)"#)
        for folder in try FileManager.default.contentsOfDirectory(atPath: root + "/Sources/Canary") {
            for file in try FileManager.default.contentsOfDirectory(atPath: root + "/Sources/Canary/" + folder) {
                let text = try String(contentsOfFile: root + "/Sources/Canary/\(folder)/\(file)", encoding: .utf8)
                for line in text.split(separator: "\n") {
                    if let match = try pattern.firstMatch(in: String(line)), let name = match.output[1].substring {
                        result[folder, default: []].insert(String(name))
                    }
                }
            }
        }
        return result
    }

    /// A file's code without comments and string literals, split into words.
    static func words(_ text: String) -> Set<String> {
        var code = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var stripped = line.firstRange(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line)
            while let open = stripped.firstIndex(of: "\""), let close = stripped[stripped.index(after: open)...].firstIndex(of: "\"") {
                stripped.removeSubrange(open...close)
            }
            code += stripped + "\n"
        }
        return Set(code.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init))
    }

    @Test func everyFolderIsALayerAndNamesOnlyTheLayersBelowIt() throws {
        let layers = try Self.layers()
        var rank: [String: Int] = [:]
        for (level, folders) in layers.enumerated() { for folder in folders { rank[folder] = level } }
        let declared = try Self.declarations()
        #expect(Set(declared.keys) == Set(rank.keys), "README.md's layers and the folders of Sources/Canary differ")
        for folder in declared.keys.sorted() {
            guard let own = rank[folder] else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/Sources/Canary/" + folder) {
                let used = Self.words(try String(contentsOfFile: Self.root + "/Sources/Canary/\(folder)/\(file)", encoding: .utf8))
                for (other, names) in declared where other != folder {
                    guard let theirs = rank[other], theirs >= own else { continue }
                    let named = names.intersection(used)
                    #expect(named.isEmpty, "\(folder)/\(file) names \(named.sorted()) of \(other), which is not below it")
                }
            }
        }
    }
}
