// libyaml's event stream turned into a YAMLNode tree (the only importer of CYAML).
import CYAML

/// Parses YAML text with libyaml.
public enum YAMLParser {
    /// Parses the first document of `text`; an empty text gives nil. Anchors and aliases are resolved.
    public static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(message: "cannot initialise the YAML parser", mark: YAMLMark(line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLError) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let mark = YAMLMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
                    var message = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                    if let context = parser.context { message += " " + String(cString: context) }
                    throw YAMLError(message: message, mark: mark)
                }
                defer { yaml_event_delete(&event) }
                let done = try builder.consume(&event)
                if done { return builder.root }
            }
        }
    }
}

/// Builds the tree from events with a stack of open collections.
private struct TreeBuilder {
    /// A collection being built. Appended to in place on the stack (`stack[last].items`): an
    /// enum with the array as its payload was copied out, appended to and put back, which copied
    /// the array on every append (10,000 resources took a second to parse).
    private struct Open {
        var isMapping: Bool
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        var mark: YAMLMark
        var anchor: String?
    }

    var root: YAMLNode?
    private var stack: [Open] = []
    private var anchors: [String: YAMLNode] = [:]
    private var documentDone = false

    /// Returns true when the first document is complete.
    mutating func consume(_ event: inout yaml_event_t) throws(YAMLError) -> Bool {
        let mark = YAMLMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_STREAM_END_EVENT, YAML_DOCUMENT_END_EVENT:
            return true
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE
            let node = YAMLNode.scalar(value, plain: plain, mark)
            if let anchor = scalar.anchor { anchors[String(cString: anchor)] = node }
            try add(node)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard let node = anchors[name] else {
                throw YAMLError(message: "unknown alias *\(name)", mark: mark)
            }
            try add(node)
        case YAML_SEQUENCE_START_EVENT:
            stack.append(Open(isMapping: false, mark: mark, anchor: event.data.sequence_start.anchor.map { String(cString: $0) }))
        case YAML_MAPPING_START_EVENT:
            stack.append(Open(isMapping: true, mark: mark, anchor: event.data.mapping_start.anchor.map { String(cString: $0) }))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let open = stack.popLast() else { break }
            let node: YAMLNode = open.isMapping ? .mapping(open.pairs, open.mark) : .sequence(open.items, open.mark)
            if let anchor = open.anchor { anchors[anchor] = node }
            try add(node)
        default:
            break
        }
        return false
    }

    private mutating func add(_ node: YAMLNode) throws(YAMLError) {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append((key, node))
            stack[top].pendingKey = nil
        } else {
            stack[top].pendingKey = node
        }
    }
}
