/// A TOML value together with the line it was written on, so configuration errors can point at it.
///
/// Only the subset a daemon configuration needs is represented (TOML v1.0.0 minus dates, times and inline
/// tables); see `TOMLParser` and docs/config.md for why Ferry parses TOML itself.
public struct TOMLValue: Sendable, Equatable {
    /// The value's kind and payload.
    public var kind: Kind
    /// The 1-based line the value starts on.
    public var line: Int

    /// Creates a value at a line.
    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    /// The kinds of value the parser produces.
    public enum Kind: Sendable, Equatable {
        /// A basic (`"…"`) or literal (`'…'`) string, escapes already resolved.
        case string(String)
        /// A 64-bit signed integer (decimal, or `0x`/`0o`/`0b` prefixed).
        case integer(Int64)
        /// A decimal floating-point number.
        case float(Double)
        /// `true` or `false`.
        case boolean(Bool)
        /// An array of values (mixed kinds are allowed by TOML 1.0).
        case array([TOMLValue])
        /// A table: a `[header]` section, or one element of a `[[header]]` array of tables.
        case table(TOMLTable)
    }

    /// The TOML name of this value's type, for "expected a string, found an integer" messages.
    public var typeName: String {
        switch kind {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table that keeps its keys in the order they were written and the line of each key.
public struct TOMLTable: Sendable, Equatable {
    /// One `key = value` entry.
    public struct Entry: Sendable, Equatable {
        /// The key as written (quotes removed).
        public var key: String
        /// The value.
        public var value: TOMLValue
        /// The line the key was written on (for a sub-table, the line of its header).
        public var line: Int
    }

    /// The entries, in source order.
    public private(set) var entries: [Entry] = []
    /// The line of the table's header (0 for the root table).
    public var line: Int

    /// Creates an empty table whose header is on `line`.
    public init(line: Int) {
        self.line = line
    }

    /// The value for `key`, if present.
    public subscript(key: String) -> TOMLValue? {
        entries.first { $0.key == key }?.value
    }

    /// The entry for `key`, if present.
    public func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    /// Whether the table defines `key`.
    public func contains(_ key: String) -> Bool {
        entries.contains { $0.key == key }
    }

    /// Adds or replaces an entry (the parser rejects duplicates before calling this).
    mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index] = Entry(key: key, value: value, line: line)
        } else {
            entries.append(Entry(key: key, value: value, line: line))
        }
    }
}

/// Why a document is not valid TOML (in the subset Ferry accepts).
public enum TOMLSyntaxProblem: Sendable, Equatable, CustomStringConvertible {
    /// Something other than a key, a table header, a comment or a blank line starts a line.
    case expectedKey(found: String)
    /// A key is not followed by `=`.
    case expectedEquals(key: String)
    /// No value follows `=`, or the text is no value the parser knows.
    case invalidValue(String)
    /// A string runs to the end of its line (or file) without a closing quote.
    case unterminatedString
    /// An escape sequence other than `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`.
    case invalidEscape(String)
    /// An array is missing its `]` or a comma between elements.
    case unterminatedArray
    /// A table header is malformed (`[a`, `[]`, `[[a]`).
    case invalidTableHeader(String)
    /// The same key is defined twice in one table.
    case duplicateKey(String)
    /// The same `[table]` header appears twice, or a header names something that is not a table.
    case duplicateTable(String)
    /// Text follows a value on the same line.
    case trailingCharacters(String)
    /// An integer does not fit in 64 bits.
    case integerOverflow(String)
    /// A construct TOML has but this parser does not (inline tables, dates, multi-line strings, dotted keys).
    case unsupported(String)

    public var description: String {
        switch self {
        case .expectedKey(let found): "expected a key or [table], found '\(found)'"
        case .expectedEquals(let key): "expected '=' after key '\(key)'"
        case .invalidValue(let text): "invalid value '\(text)'"
        case .unterminatedString: "unterminated string"
        case .invalidEscape(let text): "invalid escape '\(text)'"
        case .unterminatedArray: "unterminated array (missing ']' or ',')"
        case .invalidTableHeader(let text): "invalid table header '\(text)'"
        case .duplicateKey(let key): "key '\(key)' is defined twice"
        case .duplicateTable(let name): "table [\(name)] is defined twice"
        case .trailingCharacters(let text): "unexpected '\(text)' after the value"
        case .integerOverflow(let text): "integer '\(text)' does not fit in 64 bits"
        case .unsupported(let what): "\(what) not supported in ferryd configuration"
        }
    }
}

/// A TOML syntax error at a line.
public struct TOMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 1-based line of the error.
    public var line: Int
    /// What is wrong.
    public var problem: TOMLSyntaxProblem

    /// Creates a syntax error.
    public init(line: Int, problem: TOMLSyntaxProblem) {
        self.line = line
        self.problem = problem
    }

    public var description: String { "line \(line): \(problem)" }
}
