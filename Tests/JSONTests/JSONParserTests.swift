// The JSON parser every answer goes through, held to Foundation's JSONDecoder on the documents
// the agent sees and on the corners of the grammar (the fuzzer does the same on random input).
import JSON
import Testing

@Suite struct JSONParserTests {
    static let documents: [String] = [
        #"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"pong"}}],"usage":{"total_tokens":12}}"#,
        #"{"error":{"code":"PermissionDenied","message":"The principal `x` lacks the required data action "#
            + #"`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action`."}}"#,
        #"{"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or "#
            + #"have expired."}"#,
        #"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAi.e30.c2ln"}"#,
        #"{"access_token":"a","expires_in":"86399","expires_on":"1764000000","resource":"https://cognitiveservices.azure.com","token_type":"Bearer"}"#,
        #"  [1, -0, 0.5, -1.25e+3, 1E2, 12345678901234567890, true, false, null, "", "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]  "#,
        "[2E22,[2E18]]", "[1.0, 1.5e1, -0.0, 9.3e18]",
        #"{"b":1,"a":2,"b":3}"#, #"{"é":1,"é":2}"#, "{}", "[]", "0", "\"x\"", "null", "[1,]", "{\"a\":1,}",
        // Not JSON:
        "", " ", "{", "[,]", "{,}", "[1,,]", "01", "1.", ".5", "-", "+1", "1e", "tru", "nul", "[1 2]", "{\"a\" 1}", "{1:2}",
        "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\u{01}b\"", "1e400", "-1e400", "[1] x", "\"abc",
    ]

    @Test(arguments: documents)
    func agreesWithFoundation(document: String) {
        let bytes = Array(document.utf8)
        let ours = JSONValue.parse(bytes)
        let reference = JSONValue.parseWithFoundation(bytes)
        #expect((ours == nil) == (reference == nil), "valid? ours \(ours != nil), Foundation \(reference != nil)")
        #expect(ours?.rendered == reference?.rendered)
    }

    @Test func aUTF8ByteOrderMarkIsSkipped() {
        let document: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8)
        #expect(JSONValue.parse(document)?.rendered == #"{"a":1}"#)
        #expect(JSONValue.parse(document)?.rendered == JSONValue.parseWithFoundation(document)?.rendered)
    }

    @Test func invalidUTF8FailsTheDocument() {
        #expect(JSONValue.parse([UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]) == nil)
        #expect(JSONValue.parse([UInt8(ascii: "\""), 0xFF, UInt8(ascii: "\"")]) == nil)
    }

    @Test func deepNestingFailsInsteadOfOverflowingTheStack() {
        #expect(JSONValue.parse(Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)) == nil)
        #expect(JSONValue.parse(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)) != nil)
    }

    @Test func valuesKeepTheirKinds() throws {
        let value = try #require(JSONValue.parse(Array(#"{"n":3599,"s":"3599","d":0.5,"t":true,"z":null,"a":[1]}"#.utf8)))
        #expect(value["n"]?.numberValue == 3599 && value["s"]?.numberValue == 3599 && value["d"]?.numberValue == 0.5)
        #expect(value["a"]?.arrayValue?.count == 1)
        #expect(value.rendered == #"{"a":[1],"d":0.5,"n":3599,"s":"3599","t":true,"z":null}"#)
    }
}
