/// A small TOML parser that records the line of every key and value.
///
/// It accepts the subset of TOML v1.0.0 a daemon configuration needs: `[table]` and `[[array-of-tables]]`
/// headers (dotted names), bare and quoted keys, basic strings with escapes, literal strings, integers
/// (decimal with `_`, hex, octal, binary), floats, booleans, multi-line arrays with trailing commas and
/// comments. Inline tables, dates and multi-line strings are refused with a clear error. Ferry parses TOML
/// itself so every semantic error can name the line of the offending key (docs/config.md explains the choice).
public struct TOMLParser {
    private var bytes: [UInt8]
    private var index = 0
    private var line = 1

    /// Parses `text` into its root table.
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: Document structure

    /// Where subsequent `key = value` lines go: a path of keys from the root, and for array-of-tables
    /// elements the path ends at the last element.
    private mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        var root = TOMLTable(line: 0)
        var currentPath: [String] = []
        var definedTables: Set<[String]> = []
        while true {
            skipWhitespaceAndNewlines()
            guard let byte = peek() else { break }
            if byte == UInt8(ascii: "#") {
                skipComment()
                continue
            }
            if byte == UInt8(ascii: "[") {
                let headerLine = line
                let (path, isArray) = try parseTableHeader()
                try endOfLine()
                if isArray {
                    try Self.appendArrayTable(&root, path: path[...], line: headerLine)
                } else {
                    guard !definedTables.contains(path) else {
                        throw TOMLSyntaxError(line: headerLine, problem: .duplicateTable(path.joined(separator: ".")))
                    }
                    definedTables.insert(path)
                    try Self.defineTable(&root, path: path[...], line: headerLine)
                }
                currentPath = path
                continue
            }
            let keyLine = line
            let key = try parseKey()
            skipSpaces()
            if peek() == UInt8(ascii: ".") {
                throw TOMLSyntaxError(line: keyLine, problem: .unsupported("dotted keys are"))
            }
            guard peek() == UInt8(ascii: "=") else {
                throw TOMLSyntaxError(line: keyLine, problem: .expectedEquals(key: key))
            }
            index += 1
            skipSpaces()
            let value = try parseValue()
            try endOfLine()
            try Self.insert(&root, path: currentPath[...], key: key, value: value, line: keyLine)
        }
        return root
    }

    /// `[a.b]` or `[[a.b]]`; returns the dotted path and whether it is an array of tables.
    private mutating func parseTableHeader() throws(TOMLSyntaxError) -> ([String], Bool) {
        let headerLine = line
        let start = index
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        var path: [String] = []
        while true {
            skipSpaces()
            guard let byte = peek(), byte != UInt8(ascii: "\n") else {
                throw TOMLSyntaxError(line: headerLine, problem: .invalidTableHeader(text(from: start)))
            }
            if byte == UInt8(ascii: "]") { break }
            path.append(try parseKey())
            skipSpaces()
            if peek() == UInt8(ascii: ".") {
                index += 1
                continue
            }
            guard peek() == UInt8(ascii: "]") else {
                throw TOMLSyntaxError(line: headerLine, problem: .invalidTableHeader(text(from: start)))
            }
        }
        index += 1
        if isArray {
            guard peek() == UInt8(ascii: "]") else {
                throw TOMLSyntaxError(line: headerLine, problem: .invalidTableHeader(text(from: start)))
            }
            index += 1
        }
        guard !path.isEmpty else {
            throw TOMLSyntaxError(line: headerLine, problem: .invalidTableHeader(text(from: start)))
        }
        return (path, isArray)
    }

    private static func defineTable(_ table: inout TOMLTable, path: ArraySlice<String>, line: Int) throws(TOMLSyntaxError) {
        guard let first = path.first else { return }
        let rest = path.dropFirst()
        var child: TOMLTable
        switch table[first]?.kind {
        case nil:
            child = TOMLTable(line: line)
        case .table(let existing):
            child = existing
        case .array(var elements) where rest.isEmpty == false:
            // `[a.b]` after `[[a]]` extends the last element of the array.
            guard case .table(var last)? = elements.last?.kind else {
                throw TOMLSyntaxError(line: line, problem: .duplicateTable(path.joined(separator: ".")))
            }
            try defineTable(&last, path: rest, line: line)
            elements[elements.count - 1].kind = .table(last)
            table.set(first, TOMLValue(.array(elements), line: table[first]?.line ?? line), line: line)
            return
        default:
            throw TOMLSyntaxError(line: line, problem: .duplicateTable(path.joined(separator: ".")))
        }
        try defineTable(&child, path: rest, line: line)
        let keyLine = table.entry(first)?.line ?? line
        table.set(first, TOMLValue(.table(child), line: child.line), line: keyLine)
    }

    private static func appendArrayTable(_ table: inout TOMLTable, path: ArraySlice<String>, line: Int) throws(TOMLSyntaxError) {
        guard let first = path.first else { return }
        let rest = path.dropFirst()
        if rest.isEmpty {
            var elements: [TOMLValue]
            switch table[first]?.kind {
            case nil: elements = []
            case .array(let existing) where existing.allSatisfy({ if case .table = $0.kind { true } else { false } }):
                elements = existing
            default:
                throw TOMLSyntaxError(line: line, problem: .duplicateTable(first))
            }
            elements.append(TOMLValue(.table(TOMLTable(line: line)), line: line))
            let keyLine = table.entry(first)?.line ?? line
            table.set(first, TOMLValue(.array(elements), line: keyLine), line: keyLine)
            return
        }
        switch table[first]?.kind {
        case nil:
            var child = TOMLTable(line: line)
            try appendArrayTable(&child, path: rest, line: line)
            table.set(first, TOMLValue(.table(child), line: line), line: line)
        case .table(var child):
            try appendArrayTable(&child, path: rest, line: line)
            table.set(first, TOMLValue(.table(child), line: child.line), line: table.entry(first)?.line ?? line)
        case .array(var elements):
            guard case .table(var last)? = elements.last?.kind else {
                throw TOMLSyntaxError(line: line, problem: .duplicateTable(path.joined(separator: ".")))
            }
            try appendArrayTable(&last, path: rest, line: line)
            elements[elements.count - 1].kind = .table(last)
            table.set(first, TOMLValue(.array(elements), line: table[first]?.line ?? line), line: table.entry(first)?.line ?? line)
        default:
            throw TOMLSyntaxError(line: line, problem: .duplicateTable(path.joined(separator: ".")))
        }
    }

    private static func insert(
        _ table: inout TOMLTable,
        path: ArraySlice<String>,
        key: String,
        value: TOMLValue,
        line: Int
    ) throws(TOMLSyntaxError) {
        guard let first = path.first else {
            guard !table.contains(key) else { throw TOMLSyntaxError(line: line, problem: .duplicateKey(key)) }
            table.set(key, value, line: line)
            return
        }
        let rest = path.dropFirst()
        guard let entry = table.entry(first) else { return }
        switch entry.value.kind {
        case .table(var child):
            try insert(&child, path: rest, key: key, value: value, line: line)
            table.set(first, TOMLValue(.table(child), line: entry.value.line), line: entry.line)
        case .array(var elements):
            guard case .table(var last)? = elements.last?.kind else { return }
            try insert(&last, path: rest, key: key, value: value, line: line)
            elements[elements.count - 1].kind = .table(last)
            table.set(first, TOMLValue(.array(elements), line: entry.value.line), line: entry.line)
        default:
            return
        }
    }

    // MARK: Keys and values

    private mutating func parseKey() throws(TOMLSyntaxError) -> String {
        guard let byte = peek() else { throw TOMLSyntaxError(line: line, problem: .expectedKey(found: "end of file")) }
        if byte == UInt8(ascii: "\"") { return try parseBasicString() }
        if byte == UInt8(ascii: "'") { return try parseLiteralString() }
        let start = index
        while let byte = peek(), Self.isBareKeyByte(byte) { index += 1 }
        guard index > start else {
            throw TOMLSyntaxError(line: line, problem: .expectedKey(found: restOfLine()))
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func parseValue() throws(TOMLSyntaxError) -> TOMLValue {
        let valueLine = line
        guard let byte = peek(), byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "#") else {
            throw TOMLSyntaxError(line: valueLine, problem: .invalidValue(""))
        }
        switch byte {
        case UInt8(ascii: "\""):
            if startsWith("\"\"\"") {
                throw TOMLSyntaxError(line: valueLine, problem: .unsupported("multi-line strings are"))
            }
            return TOMLValue(.string(try parseBasicString()), line: valueLine)
        case UInt8(ascii: "'"):
            if startsWith("'''") {
                throw TOMLSyntaxError(line: valueLine, problem: .unsupported("multi-line strings are"))
            }
            return TOMLValue(.string(try parseLiteralString()), line: valueLine)
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "{"):
            throw TOMLSyntaxError(line: valueLine, problem: .unsupported("inline tables are"))
        default:
            return try parseScalar()
        }
    }

    private mutating func parseArray() throws(TOMLSyntaxError) -> TOMLValue {
        let arrayLine = line
        index += 1
        var elements: [TOMLValue] = []
        while true {
            skipWhitespaceCommentsAndNewlines()
            guard let byte = peek() else { throw TOMLSyntaxError(line: arrayLine, problem: .unterminatedArray) }
            if byte == UInt8(ascii: "]") {
                index += 1
                return TOMLValue(.array(elements), line: arrayLine)
            }
            elements.append(try parseValue())
            skipWhitespaceCommentsAndNewlines()
            guard let next = peek() else { throw TOMLSyntaxError(line: arrayLine, problem: .unterminatedArray) }
            if next == UInt8(ascii: ",") {
                index += 1
            } else if next != UInt8(ascii: "]") {
                throw TOMLSyntaxError(line: line, problem: .unterminatedArray)
            }
        }
    }

    private mutating func parseScalar() throws(TOMLSyntaxError) -> TOMLValue {
        let valueLine = line
        let start = index
        while let byte = peek(), !Self.isValueTerminator(byte) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if text == "true" { return TOMLValue(.boolean(true), line: valueLine) }
        if text == "false" { return TOMLValue(.boolean(false), line: valueLine) }
        if let integer = try Self.parseInteger(text, line: valueLine) {
            return TOMLValue(.integer(integer), line: valueLine)
        }
        if let float = Self.parseFloat(text) { return TOMLValue(.float(float), line: valueLine) }
        if text.count >= 10, text.first?.isNumber == true, text.contains("-") || text.contains(":") {
            throw TOMLSyntaxError(line: valueLine, problem: .unsupported("dates and times are"))
        }
        throw TOMLSyntaxError(line: valueLine, problem: .invalidValue(text))
    }

    private static func parseInteger(_ text: String, line: Int) throws(TOMLSyntaxError) -> Int64? {
        var body = Substring(text)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        var radix = 10
        if body.hasPrefix("0x") || body.hasPrefix("0o") || body.hasPrefix("0b") {
            guard text.first != "+", text.first != "-" else { return nil }
            radix = body.hasPrefix("0x") ? 16 : body.hasPrefix("0o") ? 8 : 2
            body = body.dropFirst(2)
        }
        guard !body.isEmpty, body.first != "_", body.last != "_", !body.contains("__") else { return nil }
        let digits = body.filter { $0 != "_" }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        if radix == 10 {
            guard digits.allSatisfy(\.isNumber) else { return nil }
            if digits.count > 1, digits.first == "0" { return nil }
        }
        guard let magnitude = UInt64(digits, radix: radix) else {
            if digits.allSatisfy({ Int(String($0), radix: radix) != nil }) {
                throw TOMLSyntaxError(line: line, problem: .integerOverflow(text))
            }
            return nil
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else {
                throw TOMLSyntaxError(line: line, problem: .integerOverflow(text))
            }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw TOMLSyntaxError(line: line, problem: .integerOverflow(text)) }
        return Int64(magnitude)
    }

    private static func parseFloat(_ text: String) -> Double? {
        let allowed = Set("0123456789+-._eE")
        guard !text.isEmpty, text.allSatisfy({ allowed.contains($0) }), text.contains(where: \.isNumber) else {
            switch text {
            case "inf", "+inf": return .infinity
            case "-inf": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default: return nil
            }
        }
        guard !text.hasPrefix("."), !text.hasSuffix("."), !text.contains("._"), !text.contains("_.") else { return nil }
        return Double(text.filter { $0 != "_" })
    }

    private mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        let stringLine = line
        index += 1
        var result: [UInt8] = []
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n") else {
                throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString)
            }
            index += 1
            if byte == UInt8(ascii: "\"") { break }
            guard byte == UInt8(ascii: "\\") else {
                result.append(byte)
                continue
            }
            guard let escape = peek() else { throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString) }
            index += 1
            switch escape {
            case UInt8(ascii: "b"): result.append(0x08)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "n"): result.append(0x0a)
            case UInt8(ascii: "f"): result.append(0x0c)
            case UInt8(ascii: "r"): result.append(0x0d)
            case UInt8(ascii: "\""): result.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): result.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = escape == UInt8(ascii: "u") ? 4 : 8
                guard index + count <= bytes.count else {
                    throw TOMLSyntaxError(line: stringLine, problem: .invalidEscape("\\" + text(from: index - 1)))
                }
                let hex = String(decoding: bytes[index..<(index + count)], as: UTF8.self)
                guard hex.allSatisfy(\.isHexDigit), let scalarValue = UInt32(hex, radix: 16),
                    let scalar = Unicode.Scalar(scalarValue)
                else {
                    throw TOMLSyntaxError(line: stringLine, problem: .invalidEscape("\\\(Character(Unicode.Scalar(escape)))\(hex)"))
                }
                index += count
                result.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw TOMLSyntaxError(line: stringLine, problem: .invalidEscape("\\\(Character(Unicode.Scalar(escape)))"))
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    private mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        let stringLine = line
        index += 1
        let start = index
        while let byte = peek(), byte != UInt8(ascii: "'") {
            guard byte != UInt8(ascii: "\n") else { throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString) }
            index += 1
        }
        guard peek() != nil else { throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString) }
        let value = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        return value
    }

    // MARK: Lexing helpers

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private func startsWith(_ prefix: String) -> Bool {
        let utf8 = Array(prefix.utf8)
        return index + utf8.count <= bytes.count && Array(bytes[index..<(index + utf8.count)]) == utf8
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    private mutating func skipComment() {
        while let byte = peek(), byte != UInt8(ascii: "\n") { index += 1 }
    }

    private mutating func skipWhitespaceAndNewlines() {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): index += 1
            case UInt8(ascii: "\n"):
                index += 1
                line += 1
            default: return
            }
        }
    }

    private mutating func skipWhitespaceCommentsAndNewlines() {
        while true {
            skipWhitespaceAndNewlines()
            guard peek() == UInt8(ascii: "#") else { return }
            skipComment()
        }
    }

    /// After a value or header: optional spaces and a comment, then a newline or the end of the file.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { skipComment() }
        if peek() == UInt8(ascii: "\r") { index += 1 }
        guard let byte = peek() else { return }
        guard byte == UInt8(ascii: "\n") else {
            throw TOMLSyntaxError(line: line, problem: .trailingCharacters(restOfLine()))
        }
    }

    private func restOfLine() -> String {
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        return String(decoding: bytes[index..<end], as: UTF8.self).trimmingSpaces()
    }

    private func text(from start: Int) -> String {
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self).trimmingSpaces()
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    private static func isValueTerminator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: ","),
            UInt8(ascii: "]"), UInt8(ascii: "#"):
            true
        default:
            false
        }
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
