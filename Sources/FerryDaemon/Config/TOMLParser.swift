/// A TOML v1.0.0 parser that records the line of every key and value.
///
/// It accepts all of TOML v1.0.0 except dates and times, which the configuration never needs and which are refused
/// with a clear "not supported" error rather than misread: `[table]` and `[[array-of-tables]]` headers, bare,
/// quoted and dotted keys, inline tables, all four kinds of string, integers in every base, floats (with `inf` and
/// `nan`), booleans and arrays. Every rule about defining a key or table twice is enforced
/// (`TOMLTableNode`), and every error names its line. Ferry parses TOML itself so every semantic error can name
/// the line of the offending key (docs/config.md explains the choice); `TOMLDifferentialTests` checks it against
/// Python's `tomllib` on generated documents.
public struct TOMLParser {
    /// How deeply tables, arrays and inline tables may nest: far beyond any configuration, low enough that the
    /// recursive parts cannot exhaust a thread's stack.
    static let maximumDepth = 100

    var bytes: [UInt8]
    var index = 0
    var line = 1
    /// The next section or inline-table number, for `TOMLTableNode.insert(_:at:line:scope:tablePath:)`.
    private var nextScope = 0

    /// Parses `text` into its root table.
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var parser = TOMLParser(bytes: Self.normalizingLineEndings(Array(text.utf8)))
        return try parser.parseDocument()
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// CRLF becomes LF, as TOML v1.0.0 §Spec allows ("normalize newline"); a CR left over is then an error
    /// wherever it appears.
    private static func normalizingLineEndings(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "\r")) else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        for (offset, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "\r"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "\n") { continue }
            result.append(byte)
        }
        return result
    }

    private mutating func makeScope() -> Int {
        nextScope += 1
        return nextScope
    }

    // MARK: Document structure

    /// Reads headers and key/value lines; key/value pairs go to the table of the most recent header.
    private mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        // tomllib refuses a leading U+FEFF too; naming it beats "expected a key" about an invisible character.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw TOMLSyntaxError(line: 1, problem: .byteOrderMark) }
        let root = TOMLTableNode(origin: .root, line: 0, depth: 0)
        var section = root
        var sectionPath: [String] = []
        var scope = makeScope()
        while true {
            try skipWhitespaceCommentsAndNewlines()
            guard let byte = peek() else { break }
            if byte == UInt8(ascii: "[") {
                let headerLine = line
                let (path, isArray) = try parseTableHeader()
                try endOfLine()
                section = try isArray
                    ? root.appendArrayElement(path, line: headerLine)
                    : root.defineTable(path, line: headerLine)
                sectionPath = path
                scope = makeScope()
                continue
            }
            try parseKeyValue(into: section, tablePath: sectionPath, scope: scope)
            try endOfLine()
        }
        return root.makeTable()
    }

    /// `[a.b]` or `[[a.b]]`; returns the dotted path and whether it is an array of tables (TOML v1.0.0 §Table).
    private mutating func parseTableHeader() throws(TOMLSyntaxError) -> ([String], Bool) {
        let headerLine = line
        let start = index
        let invalid = TOMLSyntaxError(line: headerLine, problem: .invalidTableHeader(text(from: start)))
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipSpaces()
        guard let byte = peek(), byte != UInt8(ascii: "]") else { throw invalid }
        let path: [String]
        do throws(TOMLSyntaxError) {
            path = try parseDottedKey()
        } catch {
            guard case .expectedKey = error.problem else { throw error }
            throw invalid
        }
        guard peek() == UInt8(ascii: "]") else { throw invalid }
        index += 1
        if isArray {
            guard peek() == UInt8(ascii: "]") else { throw invalid }
            index += 1
        }
        return (path, isArray)
    }

    /// `key = value`, where the key may be dotted (TOML v1.0.0 §Keys).
    private mutating func parseKeyValue(into table: TOMLTableNode, tablePath: [String], scope: Int) throws(TOMLSyntaxError) {
        let keyLine = line
        let key = try parseDottedKey()
        guard peek() == UInt8(ascii: "=") else {
            throw TOMLSyntaxError(line: keyLine, problem: .expectedEquals(key: TOMLKeyPath.display(key)))
        }
        index += 1
        skipSpaces()
        let value = try parseValue(depth: table.depth + key.count)
        try table.insert(value, at: key, line: keyLine, scope: scope, tablePath: tablePath)
    }

    // MARK: Keys

    /// One or more keys joined by dots, with optional spaces around the dots; stops after trailing spaces.
    private mutating func parseDottedKey() throws(TOMLSyntaxError) -> [String] {
        var parts = [try parseKey()]
        skipSpaces()
        while peek() == UInt8(ascii: ".") {
            index += 1
            skipSpaces()
            parts.append(try parseKey())
            skipSpaces()
        }
        return parts
    }

    /// A bare key (`A-Za-z0-9_-`), or a basic or literal string used as a key.
    private mutating func parseKey() throws(TOMLSyntaxError) -> String {
        guard let byte = peek() else { throw TOMLSyntaxError(line: line, problem: .expectedKey(found: "end of file")) }
        if byte == UInt8(ascii: "\"") { return try parseBasicString() }
        if byte == UInt8(ascii: "'") { return try parseLiteralString() }
        if Self.isControlCharacter(byte) { throw TOMLSyntaxError(line: line, problem: .controlCharacter(byte)) }
        let start = index
        while let byte = peek(), Self.isBareKeyByte(byte) { index += 1 }
        guard index > start else {
            throw TOMLSyntaxError(line: line, problem: .expectedKey(found: restOfLine()))
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    // MARK: Values

    /// Any value; `depth` is how deeply it is nested, for `maximumDepth`.
    mutating func parseValue(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        let valueLine = line
        guard let byte = peek(), byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "#") else {
            throw TOMLSyntaxError(line: valueLine, problem: .invalidValue(""))
        }
        switch byte {
        case UInt8(ascii: "\""):
            let text = try startsWith("\"\"\"") ? parseMultilineBasicString() : parseBasicString()
            return TOMLValue(.string(text), line: valueLine)
        case UInt8(ascii: "'"):
            let text = try startsWith("'''") ? parseMultilineLiteralString() : parseLiteralString()
            return TOMLValue(.string(text), line: valueLine)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth)
        case UInt8(ascii: "{"):
            return try parseInlineTable(depth: depth)
        default:
            return try parseScalar()
        }
    }

    /// `[ v, v, ]`: values separated by commas, with newlines, comments and a trailing comma allowed
    /// (TOML v1.0.0 §Array).
    private mutating func parseArray(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        let arrayLine = line
        try TOMLTableNode.checkDepth(depth + 1, line: arrayLine)
        index += 1
        var elements: [TOMLValue] = []
        while true {
            try skipWhitespaceCommentsAndNewlines()
            guard let byte = peek() else { throw TOMLSyntaxError(line: arrayLine, problem: .unterminatedArray) }
            if byte == UInt8(ascii: "]") {
                index += 1
                return TOMLValue(.array(elements), line: arrayLine)
            }
            elements.append(try parseValue(depth: depth + 1))
            try skipWhitespaceCommentsAndNewlines()
            guard let next = peek() else { throw TOMLSyntaxError(line: arrayLine, problem: .unterminatedArray) }
            if next == UInt8(ascii: ",") {
                index += 1
            } else if next != UInt8(ascii: "]") {
                throw TOMLSyntaxError(line: line, problem: .unterminatedArray)
            }
        }
    }

    /// `{ k = v, a.b = v }` on one line, with no trailing comma (TOML v1.0.0 §Inline Table). Its keys follow the
    /// same duplicate rules as a section's; the finished table is a value nothing can add to.
    private mutating func parseInlineTable(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        let tableLine = line
        try TOMLTableNode.checkDepth(depth, line: tableLine)
        index += 1
        let node = TOMLTableNode(origin: .inline, line: tableLine, depth: depth)
        let scope = makeScope()
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return TOMLValue(.table(node.makeTable()), line: tableLine)
        }
        while true {
            skipSpaces()
            switch peek() {
            case nil: throw TOMLSyntaxError(line: tableLine, problem: .unterminatedInlineTable)
            case UInt8(ascii: "\n"): throw TOMLSyntaxError(line: line, problem: .newlineInInlineTable)
            case UInt8(ascii: "}"): throw TOMLSyntaxError(line: line, problem: .trailingCommaInInlineTable)
            default: break
            }
            try parseKeyValue(into: node, tablePath: [], scope: scope)
            skipSpaces()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return TOMLValue(.table(node.makeTable()), line: tableLine)
            case UInt8(ascii: "\n"), UInt8(ascii: "#"):
                throw TOMLSyntaxError(line: line, problem: .newlineInInlineTable)
            case nil:
                throw TOMLSyntaxError(line: tableLine, problem: .unterminatedInlineTable)
            default:
                throw TOMLSyntaxError(line: line, problem: .unterminatedInlineTable)
            }
        }
    }

    // MARK: Lexing helpers

    func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    func startsWith(_ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return prefix.withUTF8Buffer { buffer in
            buffer.indices.allSatisfy { bytes[index + $0] == buffer[$0] }
        }
    }

    /// Spaces and tabs: TOML v1.0.0's whitespace.
    mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// From `#` to the end of the line; control characters other than tab are refused (TOML v1.0.0 §Comment).
    private mutating func skipComment() throws(TOMLSyntaxError) {
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if Self.isControlCharacter(byte) { throw TOMLSyntaxError(line: line, problem: .controlCharacter(byte)) }
            index += 1
        }
    }

    /// Whitespace, newlines and comments, between lines and between array elements.
    private mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLSyntaxError) {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                index += 1
            case UInt8(ascii: "\n"):
                index += 1
                line += 1
            case UInt8(ascii: "#"):
                try skipComment()
            case UInt8(ascii: "\r"):
                throw TOMLSyntaxError(line: line, problem: .controlCharacter(byte))
            default:
                return
            }
        }
    }

    /// After a value or header: optional spaces and a comment, then a newline or the end of the file.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { try skipComment() }
        guard let byte = peek(), byte != UInt8(ascii: "\n") else { return }
        if byte == UInt8(ascii: "\r") { throw TOMLSyntaxError(line: line, problem: .controlCharacter(byte)) }
        throw TOMLSyntaxError(line: line, problem: .trailingCharacters(restOfLine()))
    }

    func restOfLine() -> String {
        text(from: index)
    }

    func text(from start: Int) -> String {
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self).trimmingSpaces()
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// U+0000…U+001F except tab, and U+007F: not allowed unescaped in strings or comments (TOML v1.0.0 §String).
    static func isControlCharacter(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
