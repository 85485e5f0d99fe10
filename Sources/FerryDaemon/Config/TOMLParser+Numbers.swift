/// Booleans, integers and floats (TOML v1.0.0 §Boolean, §Integer, §Float), and the refusal of dates and times.
///
/// Each token is matched against the ABNF grammar byte by byte before it is converted, so forms TOML does not
/// allow (`01`, `1__0`, `_1`, `0X1`, `+0x1`, `1.`, `.5`, `1e`, `Inf`) are errors rather than whatever a
/// permissive number parser would make of them.
extension TOMLParser {
    /// A bare value token: a boolean, number, or (refused) date or time.
    mutating func parseScalar() throws(TOMLSyntaxError) -> TOMLValue {
        let valueLine = line
        let start = index
        while let byte = peek(), !Self.isValueTerminator(byte) { index += 1 }
        let token = bytes[start..<index]
        let text = String(decoding: token, as: UTF8.self)
        switch text {
        case "true": return TOMLValue(.boolean(true), line: valueLine)
        case "false": return TOMLValue(.boolean(false), line: valueLine)
        default: break
        }
        if Self.isDateOrTime(token) {
            throw TOMLSyntaxError(line: valueLine, problem: .unsupported("dates and times are"))
        }
        switch Self.integer(token) {
        case .value(let integer): return TOMLValue(.integer(integer), line: valueLine)
        case .overflow: throw TOMLSyntaxError(line: valueLine, problem: .integerOverflow(text))
        case .notInteger: break
        }
        if let float = Self.float(token) { return TOMLValue(.float(float), line: valueLine) }
        throw TOMLSyntaxError(line: valueLine, problem: .invalidValue(text))
    }

    /// Bytes that end a bare value token.
    static func isValueTerminator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: ","),
            UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#"):
            true
        default:
            false
        }
    }

    /// `1979-05-27…` or `07:32…`: the start of every TOML date, date-time and time (TOML v1.0.0 §Offset
    /// Date-Time … §Local Time). No integer or float can start this way, so nothing valid is refused by mistake.
    static func isDateOrTime(_ token: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(token)
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= bytes.count && range.allSatisfy { isDecimalDigit(bytes[$0]) }
        }
        let isDate = digits(0..<4) && bytes.count > 4 && bytes[4] == UInt8(ascii: "-") && digits(5..<7)
        let isTime = digits(0..<2) && bytes.count > 2 && bytes[2] == UInt8(ascii: ":") && digits(3..<5)
        return isDate || isTime
    }

    enum IntegerToken: Equatable {
        case value(Int64)
        case overflow
        case notInteger
    }

    /// `[+-]` decimal without leading zeros, or unsigned `0x` / `0o` / `0b`; `_` only between two digits.
    static func integer(_ token: ArraySlice<UInt8>) -> IntegerToken {
        var body = token
        var isNegative = false
        var radix: UInt64 = 10
        if let first = body.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            isNegative = first == UInt8(ascii: "-")
            body = body.dropFirst()
        } else if body.count > 2, body.first == UInt8(ascii: "0") {
            switch body[body.startIndex + 1] {
            case UInt8(ascii: "x"): radix = 16
            case UInt8(ascii: "o"): radix = 8
            case UInt8(ascii: "b"): radix = 2
            default: break
            }
            if radix != 10 { body = body.dropFirst(2) }
        }
        guard let end = digitRunEnd(body, radix: radix), end == body.endIndex else { return .notInteger }
        // A decimal may not have leading zeros (`0` itself is fine); other bases may.
        if radix == 10, body.count > 1, body.first == UInt8(ascii: "0") { return .notInteger }
        var magnitude: UInt64 = 0
        for byte in body where byte != UInt8(ascii: "_") {
            guard let digit = hexDigitValue(byte) else { return .notInteger }
            let (shifted, overflowShift) = magnitude.multipliedReportingOverflow(by: radix)
            let (sum, overflowAdd) = shifted.addingReportingOverflow(UInt64(digit))
            if overflowShift || overflowAdd { return .overflow }
            magnitude = sum
        }
        if isNegative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return .overflow }
            return .value(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        guard magnitude <= UInt64(Int64.max) else { return .overflow }
        return .value(Int64(magnitude))
    }

    /// `[+-]` integer part, then a fraction, an exponent or both; or `inf` / `nan` with an optional sign.
    static func float(_ token: ArraySlice<UInt8>) -> Double? {
        var body = token
        var sign: Double = 1
        if let first = body.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            sign = first == UInt8(ascii: "-") ? -1 : 1
            body = body.dropFirst()
        }
        if body.elementsEqual("inf".utf8) { return sign * .infinity }
        if body.elementsEqual("nan".utf8) { return .nan }
        // Integer part: decimal digits without leading zeros.
        guard let integerEnd = digitRunEnd(body, radix: 10) else { return nil }
        if integerEnd - body.startIndex > 1, body.first == UInt8(ascii: "0") { return nil }
        var cursor = integerEnd
        var hasFraction = false
        var hasExponent = false
        if cursor < body.endIndex, body[cursor] == UInt8(ascii: ".") {
            guard let fractionEnd = digitRunEnd(body[(cursor + 1)...], radix: 10) else { return nil }
            cursor = fractionEnd
            hasFraction = true
        }
        if cursor < body.endIndex, body[cursor] == UInt8(ascii: "e") || body[cursor] == UInt8(ascii: "E") {
            cursor += 1
            if cursor < body.endIndex, body[cursor] == UInt8(ascii: "+") || body[cursor] == UInt8(ascii: "-") {
                cursor += 1
            }
            guard let exponentEnd = digitRunEnd(body[cursor...], radix: 10) else { return nil }
            cursor = exponentEnd
            hasExponent = true
        }
        guard cursor == body.endIndex, hasFraction || hasExponent else { return nil }
        let digits = String(decoding: token.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        return Double(digits)
    }

    /// Where a run of digits in `radix`, with single underscores between digits, ends; nil when `bytes` does not
    /// start with a digit or an underscore is not between two digits.
    private static func digitRunEnd(_ bytes: ArraySlice<UInt8>, radix: UInt64) -> Int? {
        var cursor = bytes.startIndex
        guard cursor < bytes.endIndex, isDigit(bytes[cursor], radix: radix) else { return nil }
        cursor += 1
        while cursor < bytes.endIndex {
            if isDigit(bytes[cursor], radix: radix) {
                cursor += 1
            } else if bytes[cursor] == UInt8(ascii: "_") {
                guard cursor + 1 < bytes.endIndex, isDigit(bytes[cursor + 1], radix: radix) else { return nil }
                cursor += 2
            } else {
                break
            }
        }
        return cursor
    }

    private static func isDigit(_ byte: UInt8, radix: UInt64) -> Bool {
        guard let value = hexDigitValue(byte) else { return false }
        return UInt64(value) < radix
    }

    private static func isDecimalDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
