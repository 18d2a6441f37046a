// Mutated inputs through every parser that reads the outside world: none may trap. Seeds mutated
// at random with a fixed generator, so a failure replays; coverage-guided search is `make fuzz`'s
// (Tests/Fuzz), and its fixed-seed run is part of `make test`.
import HTTPServer
import JSON
import Testing

@testable import Auth
@testable import Config
@testable import Probe
@testable import Support
@testable import YAML

/// A small deterministic generator (SplitMix64), so every run mutates the same way.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` mutations of `seed`: flipped, inserted, deleted and duplicated bytes, and splices of
/// interesting tokens.
func mutations(of seed: [UInt8], count: Int, tokens: [String]) -> [[UInt8]] {
    var generator = SplitMix(state: UInt64(seed.count) &* 2_654_435_761)
    var results: [[UInt8]] = []
    for _ in 0..<count {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &generator)
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &generator))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default: bytes.insert(contentsOf: Array(tokens.randomElement(using: &generator)!.utf8), at: position)
            }
        }
        results.append(bytes)
    }
    return results
}

@Suite struct MutationTests {
    static let rounds = 3000

    @Test func theConfigLoaderReportsNeverTraps() throws {
        let seed = Array(try FileIO.readText(fixturesDirectory + "/config/good.yaml").utf8)
        let environment = ConfigEnvironment(variables: ["APP_ENV_SECRET": "x"], configDirectory: fixturesDirectory + "/config")
        for input in mutations(
            of: seed, count: Self.rounds,
            tokens: [": ", "\n  - ", "&a ", "*a", "{", "[", "'", "\"", "99999999999999999999d", "\t", "%YAML 1.1\n", "---\n", "!!binary "])
        {
            _ = try? ConfigLoader.decode(String(decoding: input, as: UTF8.self), file: "mutated.yaml", environment: environment)
        }
    }

    @Test func tokenParsersNeverTrap() {
        let jwt = Array(makeJWT(#"{"aud":"https://cognitiveservices.azure.com","tid":"t","oid":"o","exp":4000,"nbf":1,"roles":["a"]}"#).utf8)
        for input in mutations(of: jwt, count: Self.rounds, tokens: [".", "=", "-", "_", "eyJ", "\u{0}"]) {
            _ = try? TokenClaims.decode(jwt: String(decoding: input, as: UTF8.self))
        }
        let response = Array(#"{"token_type":"Bearer","expires_in":"3599","refresh_in":1800,"access_token":"a.b.c","error_codes":[7000215]}"#.utf8)
        for input in mutations(of: response, count: Self.rounds, tokens: ["1e400", "nan", "-1", "[", "{", "null", "\"", "9223372036854775808"]) {
            _ = try? TokenResponse.parse(status: 200, body: input, now: 1_800_000_000)
            _ = try? TokenResponse.parse(status: 401, body: input, now: 1_800_000_000)
            _ = try? AzureCLISource.parse(String(decoding: input, as: UTF8.self), now: 1_800_000_000)
        }
    }

    @Test func theClassifierNeverTraps() {
        let body = Array(
            #"{"error":{"code":"PermissionDenied","message":"The principal `o` lacks the required data action `a` to perform `POST /x` operation."}}"#.utf8)
        let claims = TokenClaims(audience: "https://cognitiveservices.azure.com", notBefore: 1, expiresAt: 4000, roles: [])
        for (index, input) in mutations(of: body, count: Self.rounds, tokens: ["`", "statusCode", "401", "\"code\":", "}", "]", "1e400"]).enumerated() {
            let status = [200, 400, 401, 403, 404, 429, 500, 418][index % 8]
            for auth in AuthMode.allCases {
                let verdict = ResponseClassifier.classify(
                    status: status, body: input, headers: [("Date", String(decoding: input.prefix(29), as: UTF8.self))], auth: auth)
                _ = TokenDiagnosis.refine(verdict, claims: claims, endpoint: "https://a.openai.azure.com/", serviceTime: 1_800_000_000)
                _ = HTTPDate.parse(String(decoding: input.prefix(40), as: UTF8.self))
            }
        }
    }

    @Test func theYAMLParserNeverTraps() {
        let seed = Array("a: [1, {b: c}]\n# x\nd: |\n  e\nf: &g h\ni: *g\n".utf8)
        for input in mutations(of: seed, count: Self.rounds, tokens: ["*", "&", "!", "|", ">", "? ", "\u{FEFF}", "\r\n", "\t"]) {
            _ = try? YAMLParser.parse(String(decoding: input, as: UTF8.self))
        }
    }
}
