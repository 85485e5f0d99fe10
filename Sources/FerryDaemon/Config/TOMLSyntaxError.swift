/// Why a document is not valid TOML v1.0.0, or uses a part of it the configuration reader refuses.
///
/// Every problem that concerns a second definition names the line of the first one, so an operator can see
/// both places without searching the file.
public enum TOMLSyntaxProblem: Sendable, Equatable, CustomStringConvertible {
    /// Something other than a key, a table header, a comment or a blank line starts a line.
    case expectedKey(found: String)
    /// A key is not followed by `=`.
    case expectedEquals(key: String)
    /// No value follows `=` (empty text), or the text is no TOML value.
    case invalidValue(String)
    /// A string runs to the end of its line (or, for a multi-line string, of the file) without a closing quote.
    case unterminatedString
    /// An escape sequence other than `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`, or a `\u` that names no Unicode
    /// scalar value (TOML v1.0.0 §String).
    case invalidEscape(String)
    /// A control character (U+0000…U+001F other than tab, or U+007F) in a string, key or comment, or a carriage
    /// return not followed by a line feed. TOML v1.0.0 §String and §Comment require them to be escaped.
    case controlCharacter(UInt8)
    /// The file starts with a UTF-8 byte order mark, which TOML v1.0.0 does not provide for (and `tomllib` refuses).
    case byteOrderMark
    /// An array is missing its `]` or a comma between elements.
    case unterminatedArray
    /// An inline table is missing its `}` or a comma between key/value pairs.
    case unterminatedInlineTable
    /// An inline table continues onto the next line, which TOML v1.0.0 §Inline Table does not allow.
    case newlineInInlineTable
    /// An inline table ends with `, }`, which TOML v1.0.0 §Inline Table does not allow.
    case trailingCommaInInlineTable
    /// A table header is malformed (`[a`, `[]`, `[[a]`, `[a.]`).
    case invalidTableHeader(String)
    /// The key is already defined in its table (TOML v1.0.0 §Keys: "Defining a key multiple times is invalid").
    case duplicateKey(String, firstLine: Int)
    /// The table is already defined, by a header, by dotted keys or as an array of tables (TOML v1.0.0 §Table:
    /// "you cannot define a table more than once").
    case duplicateTable(String, firstLine: Int)
    /// A header or dotted key goes through a key whose value is not a table.
    case notATable(String, firstLine: Int)
    /// A header, dotted key or `[[…]]` tries to add to an inline table or inline array, which TOML v1.0.0
    /// §Inline Table and §Array of Tables say are complete once written.
    case inlineValueExtended(String, firstLine: Int)
    /// A dotted key tries to add to a table defined elsewhere by a header or by dotted keys in another section
    /// (TOML v1.0.0 §Table).
    case dottedKeyExtendsTable(String, firstLine: Int)
    /// `[[name]]` names something that is not an array of tables.
    case notAnArrayOfTables(String, firstLine: Int)
    /// Text follows a value or header on the same line.
    case trailingCharacters(String)
    /// An integer does not fit in 64 bits (TOML v1.0.0 §Integer asks for an error rather than a lossy value).
    case integerOverflow(String)
    /// Tables, arrays and inline tables are nested deeper than the parser allows.
    case nestingTooDeep(limit: Int)
    /// A construct TOML has but the configuration reader deliberately does not (dates and times).
    case unsupported(String)

    public var description: String {
        switch self {
        case .expectedKey(let found): "expected a key or [table], found '\(found)'"
        case .expectedEquals(let key): "expected '=' after key '\(key)'"
        case .invalidValue(let text): text.isEmpty ? "missing value" : "invalid value '\(text)'"
        case .unterminatedString: "unterminated string"
        case .invalidEscape(let text): "invalid escape '\(text)'"
        case .controlCharacter(0x0D): "carriage return without a line feed"
        case .controlCharacter(let byte):
            "control character U+\(String(byte, radix: 16, uppercase: true).leftPadded(to: 4)) must be escaped"
        case .byteOrderMark: "the file starts with a byte order mark (U+FEFF); save it as UTF-8 without one"
        case .unterminatedArray: "unterminated array (missing ']' or ',')"
        case .unterminatedInlineTable: "unterminated inline table (missing '}' or ',')"
        case .newlineInInlineTable: "an inline table must be written on one line"
        case .trailingCommaInInlineTable: "trailing comma in an inline table"
        case .invalidTableHeader(let text): "invalid table header '\(text)'"
        case .duplicateKey(let key, let firstLine): "key '\(key)' is already defined on line \(firstLine)"
        case .duplicateTable(let name, let firstLine): "table [\(name)] is already defined on line \(firstLine)"
        case .notATable(let name, let firstLine): "'\(name)' is defined on line \(firstLine) as a value, not a table"
        case .inlineValueExtended(let name, let firstLine):
            "'\(name)' is an inline table or array (line \(firstLine)) and cannot be extended"
        case .dottedKeyExtendsTable(let name, let firstLine):
            "dotted keys cannot add to table '\(name)' defined on line \(firstLine)"
        case .notAnArrayOfTables(let name, let firstLine):
            "'\(name)' is defined on line \(firstLine) and is not an array of tables"
        case .trailingCharacters(let text): "unexpected '\(text)' after the value"
        case .integerOverflow(let text): "integer '\(text)' does not fit in 64 bits"
        case .nestingTooDeep(let limit): "nesting deeper than \(limit) levels"
        case .unsupported(let what): "\(what) not supported in Ferry configuration"
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

/// Renders a dotted key for messages the way it would be written in TOML: bare parts as they are, other parts
/// quoted, so `a."b.c"` is not shown as the different key `a.b.c`.
enum TOMLKeyPath {
    static func display(_ parts: some Sequence<String>) -> String {
        parts.map(displayPart).joined(separator: ".")
    }

    private static func displayPart(_ part: String) -> String {
        if !part.isEmpty, part.utf8.allSatisfy(TOMLParser.isBareKeyByte) { return part }
        var quoted = "\""
        for scalar in part.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\u{00}"..."\u{1F}", "\u{7F}":
                quoted += "\\u" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}

extension String {
    /// The string with leading zeros added up to `width` characters (for `U+000D`-style code points).
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
