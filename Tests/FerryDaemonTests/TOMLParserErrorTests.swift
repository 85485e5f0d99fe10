import XCTest

@testable import FerryDaemon

/// Every way a document can be refused, each with the line the error names.
final class TOMLParserErrorTests: XCTestCase {
    private func assertErrors(_ cases: [(String, Int, TOMLSyntaxProblem)], file: StaticString = #filePath, line: UInt = #line) {
        for (text, expectedLine, problem) in cases {
            XCTAssertThrowsError(try TOMLParser.parse(text), text, file: file, line: line) { error in
                XCTAssertEqual(
                    error as? TOMLSyntaxError, TOMLSyntaxError(line: expectedLine, problem: problem), text,
                    file: file, line: line
                )
            }
        }
    }

    func testSyntaxErrorsCarryLines() {
        assertErrors([
            ("a = 1\nb = \"open\n", 2, .unterminatedString),
            ("a = 1\n\nb 2", 3, .expectedEquals(key: "b")),
            ("a = \"x\\q\"", 1, .invalidEscape("\\q")),
            ("a = [1, 2", 1, .unterminatedArray),
            ("a = [1\n 2]", 2, .unterminatedArray),
            ("a = 1 2", 1, .trailingCharacters("2")),
            ("[a] b = 1", 1, .trailingCharacters("b = 1")),
            ("a = 99999999999999999999", 1, .integerOverflow("99999999999999999999")),
            ("a = 9223372036854775808", 1, .integerOverflow("9223372036854775808")),
            ("a = -9223372036854775809", 1, .integerOverflow("-9223372036854775809")),
            ("a = 0x1_0000_0000_0000_0000", 1, .integerOverflow("0x1_0000_0000_0000_0000")),
            ("\n\n[a", 3, .invalidTableHeader("[a")),
            ("[]", 1, .invalidTableHeader("[]")),
            ("[a.]", 1, .invalidTableHeader("[a.]")),
            ("[[a]", 1, .invalidTableHeader("[[a]")),
            ("[[a] ]", 1, .invalidTableHeader("[[a] ]")),
            ("a = bogus", 1, .invalidValue("bogus")),
            ("a =", 1, .invalidValue("")),
            ("a = # comment", 1, .invalidValue("")),
            ("= 1", 1, .expectedKey(found: "= 1")),
            ("a.b.= 1", 1, .expectedKey(found: "= 1")),
            ("é = 1", 1, .expectedKey(found: "é = 1")),
        ])
    }

    /// TOML v1.0.0 §Integer and §Float: the grammar is strict, and nothing outside it is read as a number.
    func testMalformedNumbersAreRefused() {
        let texts = [
            "01", "+01", "1__0", "_1", "1_", "0X1", "+0x1", "-0o7", "0x", "0b2", "0o8", "0xg", "0x_1", "1.", ".5",
            "1.e5", "1e", "1e+", "1e_5", "1._5", "1_.5", "00.5", "-01.5", "Inf", "NaN", "infinity", "1e5.5", "0x1.5",
            "1__0.0", "1.0_", "+", "-", "--1", "1-2",
        ]
        for text in texts {
            XCTAssertThrowsError(try TOMLParser.parse("a = \(text)"), text) { error in
                XCTAssertEqual(error as? TOMLSyntaxError, TOMLSyntaxError(line: 1, problem: .invalidValue(text)), text)
            }
        }
    }

    /// Dates and times are valid TOML the configuration never needs; they are refused by name, never misread.
    func testDatesAndTimesAreRefusedAsUnsupported() {
        for text in ["1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999999-07:00", "1979-05-27 07:32:00", "1979-05-27", "07:32:00", "00:32:00.5"] {
            assertErrors([("x = 1\na = \(text)", 2, .unsupported("dates and times are"))])
            assertErrors([("a = [\n\(text)]", 2, .unsupported("dates and times are"))])
        }
    }

    func testDuplicateKeysNameBothLines() {
        assertErrors([
            ("a = 1\na = 2", 2, .duplicateKey("a", firstLine: 1)),
            ("a = 1\n\"a\" = 2", 2, .duplicateKey("a", firstLine: 1)),
            ("a = 1\n'a' = 2", 2, .duplicateKey("a", firstLine: 1)),
            ("[t]\nx = 1\n\nx = 2", 4, .duplicateKey("t.x", firstLine: 2)),
            ("[[t]]\nx = 1\nx = 2", 3, .duplicateKey("t.x", firstLine: 2)),
            ("a.b = 1\na.b = 2", 2, .duplicateKey("a.b", firstLine: 1)),
            ("\"a.b\" = 1\n\"a.b\" = 2", 2, .duplicateKey("\"a.b\"", firstLine: 1)),
            ("x = { a = 1, a = 2 }", 1, .duplicateKey("a", firstLine: 1)),
            ("x = { a.b = 1, a.b = 2 }", 1, .duplicateKey("a.b", firstLine: 1)),
            ("[a.b]\n[a]\nb = 1", 3, .duplicateKey("a.b", firstLine: 1)),
            ("a.b = 1\na = 2", 2, .duplicateKey("a", firstLine: 1)),
        ])
    }

    /// TOML v1.0.0 §Table: a table is defined once, whether by a header, by dotted keys or as an array of tables.
    func testRedefinedTablesNameBothLines() {
        assertErrors([
            ("[t]\n[t]", 2, .duplicateTable("t", firstLine: 1)),
            ("[a]\nb = 1\n[a.c]\n[a]", 4, .duplicateTable("a", firstLine: 1)),
            ("[a.b]\n[a]\n[a]", 3, .duplicateTable("a", firstLine: 2)),
            ("[a]\nb.c = 1\n\n[a.b]", 4, .duplicateTable("a.b", firstLine: 2)),
            ("a.b = 1\n[a]", 2, .duplicateTable("a", firstLine: 1)),
            ("[[a]]\n[a]", 2, .duplicateTable("a", firstLine: 1)),
            ("[[a]]\n[a.b]\n[a.b]", 3, .duplicateTable("a.b", firstLine: 2)),
            ("[a]\n[[a]]", 2, .notAnArrayOfTables("a", firstLine: 1)),
            ("a = 1\n[a]", 2, .notATable("a", firstLine: 1)),
            ("a = 1\n[a.b]", 2, .notATable("a", firstLine: 1)),
            ("a = 1\n[[a]]", 2, .notAnArrayOfTables("a", firstLine: 1)),
            ("a = 1\na.b = 2", 2, .notATable("a", firstLine: 1)),
        ])
    }

    /// TOML v1.0.0 §Table: dotted keys may not add to a table defined elsewhere.
    func testDottedKeysCannotReopenTables() {
        assertErrors([
            ("[a.b]\nc = 1\n[a]\nb.d = 2", 4, .dottedKeyExtendsTable("a.b", firstLine: 1)),
            ("[a]\nb.c = 1\n[x]\n[a.e]\n[a]", 5, .duplicateTable("a", firstLine: 1)),
            ("[[a.b]]\n[a]\nb.c = 1", 3, .dottedKeyExtendsTable("a.b", firstLine: 1)),
            ("[a]\nb.c = 1\n[a.b.d]\n[a]\nb.e = 1", 4, .duplicateTable("a", firstLine: 1)),
            ("[a]\nb.c = 1\n[a.b.d]\nx.y = 1\n[a.b.d.z]\n[a.b.d]", 6, .duplicateTable("a.b.d", firstLine: 3)),
        ])
    }

    /// TOML v1.0.0 §Inline Table and §Array of Tables: inline tables and inline arrays are complete once written.
    func testInlineValuesCannotBeExtended() {
        assertErrors([
            ("a = {}\n[a]", 2, .inlineValueExtended("a", firstLine: 1)),
            ("a = { b = 1 }\n[a.c]", 2, .inlineValueExtended("a", firstLine: 1)),
            ("a = { b = 1 }\na.c = 2", 2, .inlineValueExtended("a", firstLine: 1)),
            ("a = { b = { c = 1 }, b.d = 2 }", 1, .inlineValueExtended("b", firstLine: 1)),
            ("a = []\n[[a]]", 2, .inlineValueExtended("a", firstLine: 1)),
            ("a = [{ b = 1 }]\n[[a]]", 2, .inlineValueExtended("a", firstLine: 1)),
            ("a = [{ b = 1 }]\n[a.c]", 2, .inlineValueExtended("a", firstLine: 1)),
        ])
    }

    func testInlineTableSyntax() {
        assertErrors([
            ("a = { b = 1,\n c = 2 }", 1, .newlineInInlineTable),
            ("a = { b = 1\n}", 1, .newlineInInlineTable),
            ("a = {\n}", 1, .newlineInInlineTable),
            ("a = { b = 1, }", 1, .trailingCommaInInlineTable),
            ("a = { b = 1 c = 2 }", 1, .unterminatedInlineTable),
            ("a = { b = 1", 1, .unterminatedInlineTable),
            ("a = { b = 1 # no }", 1, .newlineInInlineTable),
            ("a = { b }", 1, .expectedEquals(key: "b")),
        ])
    }

    /// TOML v1.0.0 §String: escapes, control characters and closing quotes, with the line of the problem (for an
    /// unterminated string, the line it starts on).
    func testStringErrors() {
        assertErrors([
            ("a = 'open", 1, .unterminatedString),
            ("a = '''\nopen\n", 1, .unterminatedString),
            ("x = 1\na = \"\"\"\nopen\n\"\"", 2, .unterminatedString),
            ("a = \"\"\"\nfine\n\\q\"\"\"", 3, .invalidEscape("\\q")),
            ("a = \"\\e\"", 1, .invalidEscape("\\e")),
            ("a = \"\\x41\"", 1, .invalidEscape("\\x")),
            ("a = \"\\é\"", 1, .invalidEscape("\\é")),
            ("a = \"\\u12\"", 1, .invalidEscape("\\u12\"")),
            ("a = \"\\uD800\"", 1, .invalidEscape("\\uD800")),
            ("a = \"\\U00110000\"", 1, .invalidEscape("\\U00110000")),
            ("a = \"\"\"x \\  y\"\"\"", 1, .invalidEscape("\\ ")),
            ("a = \"a\u{01}b\"", 1, .controlCharacter(0x01)),
            ("a = 'a\u{7F}b'", 1, .controlCharacter(0x7F)),
            ("a = \"\"\"\n\n\u{00}\"\"\"", 3, .controlCharacter(0x00)),
            ("a = '''a\u{0B}'''", 1, .controlCharacter(0x0B)),
            ("a = 1 # bell \u{07}", 1, .controlCharacter(0x07)),
            ("a = 1\rb = 2", 1, .controlCharacter(0x0D)),
            ("a = \"x\ry\"", 1, .controlCharacter(0x0D)),
            ("a = \"\"\"a\"\"\"\"\"\"", 1, .trailingCharacters("\"")),
            ("a = 1\n\u{00}", 2, .controlCharacter(0x00)),
            ("\u{FEFF}a = 1", 1, .byteOrderMark),
        ])
    }

    func testNestingIsBounded() {
        let depth = TOMLParser.maximumDepth + 5
        let arrays = "a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let tables = "a = " + String(repeating: "{ b = ", count: depth) + "1" + String(repeating: " }", count: depth)
        let dotted = Array(repeating: "k", count: depth).joined(separator: ".") + " = 1"
        let header = "\n[" + Array(repeating: "k", count: depth).joined(separator: ".") + "]"
        for (text, line) in [(arrays, 1), (tables, 1), (dotted, 1), (header, 2)] {
            XCTAssertThrowsError(try TOMLParser.parse(text)) { error in
                XCTAssertEqual(error as? TOMLSyntaxError, TOMLSyntaxError(line: line, problem: .nestingTooDeep(limit: TOMLParser.maximumDepth)))
            }
        }
    }

    func testMessagesNameTheFirstDefinition() {
        XCTAssertEqual(
            TOMLSyntaxError(line: 4, problem: .duplicateTable("a.\"b c\"", firstLine: 2)).description,
            "line 4: table [a.\"b c\"] is already defined on line 2"
        )
        XCTAssertEqual(TOMLKeyPath.display(["a", "b.c", "", "q\"\n"]), "a.\"b.c\".\"\".\"q\\\"\\u000A\"")
        XCTAssertEqual(TOMLSyntaxProblem.controlCharacter(0x01).description, "control character U+0001 must be escaped")
        XCTAssertEqual(
            TOMLSyntaxProblem.unsupported("dates and times are").description,
            "dates and times are not supported in Ferry configuration"
        )
    }
}
