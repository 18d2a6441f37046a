// Tests for the libyaml-backed parser: shapes, marks, aliases and errors.
import Testing

@testable import YAML

@Suite struct YAMLParserTests {
    @Test func mappingsSequencesAndMarksComeBackInOrder() throws {
        let text = """
            listen: "0.0.0.0:9725"
            resources:
              - name: a
                interval: 30s
            """
        let root = try #require(try YAMLParser.parse(text))
        guard case .mapping(let pairs, let mark) = root else {
            Issue.record("not a mapping")
            return
        }
        #expect(mark == YAMLMark(line: 1, column: 1))
        #expect(pairs.map { if case .scalar(let k, _, _) = $0.key { return k } else { return "?" } } == ["listen", "resources"])
        guard case .scalar("0.0.0.0:9725", plain: false, let listenMark) = pairs[0].value else {
            Issue.record("listen")
            return
        }
        #expect(listenMark == YAMLMark(line: 1, column: 9))
        guard case .sequence(let items, _) = pairs[1].value, case .mapping(let resource, let resourceMark) = items[0] else {
            Issue.record("resources")
            return
        }
        #expect(resourceMark == YAMLMark(line: 3, column: 5))
        #expect(resource.count == 2)
        #expect(resource[1].value.mark == YAMLMark(line: 4, column: 15))
    }

    @Test func aliasesResolveToTheirAnchors() throws {
        let root = try #require(try YAMLParser.parse("a: &x 5s\nb: *x\n"))
        guard case .mapping(let pairs, _) = root, case .scalar("5s", _, _) = pairs[1].value else {
            Issue.record("alias not resolved")
            return
        }
    }

    @Test func emptyTextIsNoDocument() throws {
        #expect(try YAMLParser.parse("") == nil)
        #expect(try YAMLParser.parse("# only a comment\n") == nil)
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        #expect {
            _ = try YAMLParser.parse("a: b\n  c: d\n")
        } throws: { error in
            guard let error = error as? YAMLError else { return false }
            return error.mark.line == 2
        }
    }

    @Test func nullsAreRecognised() throws {
        let root = try #require(try YAMLParser.parse("a:\nb: ~\nc: 'null'\n"))
        guard case .mapping(let pairs, _) = root else {
            Issue.record("mapping")
            return
        }
        #expect(pairs[0].value.isNull)
        #expect(pairs[1].value.isNull)
        #expect(!pairs[2].value.isNull)
    }
}
