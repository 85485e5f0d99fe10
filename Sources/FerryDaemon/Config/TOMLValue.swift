/// A TOML value together with the line it was written on, so configuration errors can point at it.
///
/// Every TOML v1.0.0 type except dates and times is represented (the configuration has no use for them, and
/// `TOMLParser` refuses them with a clear message); see docs/config.md for why Ferry parses TOML itself.
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
        /// A basic (`"…"`, `"""…"""`) or literal (`'…'`, `'''…'''`) string, escapes already resolved.
        case string(String)
        /// A 64-bit signed integer (decimal, or `0x`/`0o`/`0b` prefixed).
        case integer(Int64)
        /// A binary64 floating-point number, including `inf` and `nan` (TOML v1.0.0 §Float).
        case float(Double)
        /// `true` or `false`.
        case boolean(Bool)
        /// An array of values (mixed kinds are allowed by TOML 1.0), or the elements of a `[[header]]` array of
        /// tables.
        case array([TOMLValue])
        /// A table: a `[header]` section, a table made by dotted keys, an inline table `{ … }`, or one element of
        /// a `[[header]]` array of tables.
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
        /// The line the key was written on (for a sub-table, the line of the header or dotted key that defined
        /// it).
        public var line: Int
    }

    /// The entries, in source order.
    public private(set) var entries: [Entry] = []
    /// The line of the header, dotted key or `{` that defined the table (0 for the root table).
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

    /// Appends an entry; `TOMLTableNode` has already refused duplicate keys (compared byte for byte).
    mutating func append(_ key: String, _ value: TOMLValue, line: Int) {
        entries.append(Entry(key: key, value: value, line: line))
    }
}
