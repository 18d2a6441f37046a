// A YAML document as a tree of nodes, each with the line and column it started at.

/// Where a node starts in its file, 1-based as editors show it.
public struct YAMLMark: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// One node of a parsed document.
public indirect enum YAMLNode: Sendable, Equatable {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    case scalar(String, plain: Bool, YAMLMark)
    case sequence([YAMLNode], YAMLMark)
    /// A mapping with its keys in file order (duplicates are kept for the decoder to report).
    case mapping([(key: YAMLNode, value: YAMLNode)], YAMLMark)

    public var mark: YAMLMark {
        switch self {
        case .scalar(_, _, let mark), .sequence(_, let mark), .mapping(_, let mark): return mark
        }
    }

    /// A short name of the node's kind, for error messages.
    public var kindName: String {
        switch self {
        case .scalar: return "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// True for an empty plain scalar or `null`/`~`: YAML's null.
    public var isNull: Bool {
        if case .scalar(let value, true, _) = self { return value.isEmpty || value == "null" || value == "~" || value == "Null" || value == "NULL" }
        return false
    }

    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case (.scalar(let a, let pa, let ma), .scalar(let b, let pb, let mb)): return a == b && pa == pb && ma == mb
        case (.sequence(let a, let ma), .sequence(let b, let mb)): return a == b && ma == mb
        case (.mapping(let a, let ma), .mapping(let b, let mb)):
            return ma == mb && a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }
}

/// Why a document could not be parsed.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var mark: YAMLMark

    public init(message: String, mark: YAMLMark) {
        self.message = message
        self.mark = mark
    }

    public var description: String { "\(mark): \(message)" }
}
