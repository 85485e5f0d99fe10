/// The four kinds of TOML string (TOML v1.0.0 §String).
///
/// Control characters other than tab (and, in multi-line strings, newline) must be escaped in every kind, so a
/// stray NUL or carriage return is reported instead of ending up inside a path or an address.
extension TOMLParser {
    /// `"…"` on one line, with escapes.
    mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        let stringLine = line
        index += 1
        var result: [UInt8] = []
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n") else {
                throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString)
            }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: result, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try appendEscape(to: &result)
            default:
                try appendStringByte(byte, to: &result)
            }
        }
    }

    /// `'…'` on one line, taken as written.
    mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        let stringLine = line
        index += 1
        var result: [UInt8] = []
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n") else {
                throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString)
            }
            if byte == UInt8(ascii: "'") {
                index += 1
                return String(decoding: result, as: UTF8.self)
            }
            try appendStringByte(byte, to: &result)
        }
    }

    /// `"""…"""`: newlines kept (except one right after the opening quotes), escapes resolved, and a backslash
    /// at the end of a line removes it and all whitespace and newlines that follow. One or two quotes may come
    /// right before the closing three (`"""a"""""` is `a""`).
    mutating func parseMultilineBasicString() throws(TOMLSyntaxError) -> String {
        let stringLine = line
        index += 3
        skipNewlineAfterOpeningDelimiter()
        var result: [UInt8] = []
        while true {
            guard let byte = peek() else { throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString) }
            switch byte {
            case UInt8(ascii: "\""):
                if let closed = closeMultilineString(delimiter: byte, into: &result) { return closed }
            case UInt8(ascii: "\\"):
                if isLineEndingBackslash() {
                    index += 1
                    skipWhitespaceAndNewlinesInString()
                } else {
                    try appendEscape(to: &result)
                }
            case UInt8(ascii: "\n"):
                result.append(byte)
                index += 1
                line += 1
            default:
                try appendStringByte(byte, to: &result)
            }
        }
    }

    /// `'''…'''`: taken as written, newlines kept (except one right after the opening quotes). One or two
    /// apostrophes may come right before the closing three.
    mutating func parseMultilineLiteralString() throws(TOMLSyntaxError) -> String {
        let stringLine = line
        index += 3
        skipNewlineAfterOpeningDelimiter()
        var result: [UInt8] = []
        while true {
            guard let byte = peek() else { throw TOMLSyntaxError(line: stringLine, problem: .unterminatedString) }
            switch byte {
            case UInt8(ascii: "'"):
                if let closed = closeMultilineString(delimiter: byte, into: &result) { return closed }
            case UInt8(ascii: "\n"):
                result.append(byte)
                index += 1
                line += 1
            default:
                try appendStringByte(byte, to: &result)
            }
        }
    }

    // MARK: Helpers

    /// At a run of `delimiter` bytes inside a multi-line string: three or more close the string (up to two more
    /// belong to its content, TOML v1.0.0 §String), fewer are content. Returns the string when it closed.
    private mutating func closeMultilineString(delimiter: UInt8, into result: inout [UInt8]) -> String? {
        var run = 0
        while index + run < bytes.count, bytes[index + run] == delimiter { run += 1 }
        guard run >= 3 else {
            result.append(contentsOf: repeatElement(delimiter, count: run))
            index += run
            return nil
        }
        // A sixth quote is left in place, so `endOfLine` reports it as trailing text, as tomllib does.
        let content = min(run - 3, 2)
        result.append(contentsOf: repeatElement(delimiter, count: content))
        index += content + 3
        return String(decoding: result, as: UTF8.self)
    }

    private mutating func skipNewlineAfterOpeningDelimiter() {
        if peek() == UInt8(ascii: "\n") {
            index += 1
            line += 1
        }
    }

    /// Whether the backslash at `index` is followed by optional spaces or tabs and then a newline.
    private func isLineEndingBackslash() -> Bool {
        var cursor = index + 1
        while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") || bytes[cursor] == UInt8(ascii: "\t") {
            cursor += 1
        }
        return cursor < bytes.count && bytes[cursor] == UInt8(ascii: "\n")
    }

    private mutating func skipWhitespaceAndNewlinesInString() {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                index += 1
            case UInt8(ascii: "\n"):
                index += 1
                line += 1
            default:
                return
            }
        }
    }

    private mutating func appendStringByte(_ byte: UInt8, to result: inout [UInt8]) throws(TOMLSyntaxError) {
        if Self.isControlCharacter(byte) { throw TOMLSyntaxError(line: line, problem: .controlCharacter(byte)) }
        result.append(byte)
        index += 1
    }

    /// At a backslash: appends what the escape stands for (TOML v1.0.0 §String). `\e` and `\xHH` are TOML 1.1
    /// and refused, as `tomllib` refuses them.
    private mutating func appendEscape(to result: inout [UInt8]) throws(TOMLSyntaxError) {
        index += 1
        guard let escape = peek(), escape != UInt8(ascii: "\n") else {
            throw TOMLSyntaxError(line: line, problem: .invalidEscape("\\"))
        }
        let simple: UInt8?
        switch escape {
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "\""): simple = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): simple = UInt8(ascii: "\\")
        default: simple = nil
        }
        if let simple {
            result.append(simple)
            index += 1
            return
        }
        guard escape == UInt8(ascii: "u") || escape == UInt8(ascii: "U") else {
            throw TOMLSyntaxError(line: line, problem: .invalidEscape("\\" + characterText(at: index)))
        }
        let digitCount = escape == UInt8(ascii: "u") ? 4 : 8
        let digitsStart = index + 1
        var value: UInt32 = 0
        var cursor = digitsStart
        while cursor < digitsStart + digitCount, cursor < bytes.count, let digit = Self.hexDigitValue(bytes[cursor]) {
            value = value << 4 | UInt32(digit)
            cursor += 1
        }
        guard cursor == digitsStart + digitCount, let scalar = Unicode.Scalar(value) else {
            let shown = String(decoding: bytes[index..<min(digitsStart + digitCount, bytes.count)], as: UTF8.self)
            throw TOMLSyntaxError(line: line, problem: .invalidEscape("\\" + shown))
        }
        result.append(contentsOf: Array(String(scalar).utf8))
        index = cursor
    }

    /// The whole UTF-8 character starting at `position`, for messages.
    private func characterText(at position: Int) -> String {
        var end = position + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    static func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
