import XCTest

@testable import FerryDaemon

final class TOMLParserTests: XCTestCase {
    func testTablesArraysOfTablesAndLines() throws {
        let root = try TOMLParser.parse(
            """
            # comment
            top = 1

            [endpoint]
            key_file = "a.key"   # trailing comment
            listen = [
              "0.0.0.0:1",  # first
              "[::]:2",
            ]

            [[hooks]]
            type = 'log'
            [[hooks]]
            type = "allow-endpoints"
            """
        )
        XCTAssertEqual(root["top"], TOMLValue(.integer(1), line: 2))
        guard case .table(let endpoint)? = root["endpoint"]?.kind else { return XCTFail("no endpoint table") }
        XCTAssertEqual(endpoint.line, 4)
        XCTAssertEqual(endpoint.entry("key_file")?.line, 5)
        guard case .array(let listen)? = endpoint["listen"]?.kind else { return XCTFail("no listen array") }
        XCTAssertEqual(listen.map(\.line), [7, 8])
        XCTAssertEqual(listen.map(\.kind), [.string("0.0.0.0:1"), .string("[::]:2")])
        guard case .array(let hooks)? = root["hooks"]?.kind else { return XCTFail("no hooks") }
        XCTAssertEqual(hooks.count, 2)
        guard case .table(let second) = hooks[1].kind else { return XCTFail("hook is not a table") }
        XCTAssertEqual(second.line, 13)
        XCTAssertEqual(second["type"], TOMLValue(.string("allow-endpoints"), line: 14))
    }

    func testStringEscapesAndLiteralStrings() throws {
        let root = try TOMLParser.parse(#"a = "tab\there \"q\" \\ \u00e9 \U0001F600"\#nb = 'C:\path\n'"#)
        XCTAssertEqual(root["a"]?.kind, .string("tab\there \"q\" \\ é 😀"))
        XCTAssertEqual(root["b"]?.kind, .string(#"C:\path\n"#))
    }

    func testNumbersAndBooleans() throws {
        let root = try TOMLParser.parse("a = 1_000\nb = -17\nc = 0xff\nd = 1.5\ne = true\nf = false\ng = +3")
        XCTAssertEqual(root["a"]?.kind, .integer(1000))
        XCTAssertEqual(root["b"]?.kind, .integer(-17))
        XCTAssertEqual(root["c"]?.kind, .integer(255))
        XCTAssertEqual(root["d"]?.kind, .float(1.5))
        XCTAssertEqual(root["e"]?.kind, .boolean(true))
        XCTAssertEqual(root["f"]?.kind, .boolean(false))
        XCTAssertEqual(root["g"]?.kind, .integer(3))
    }

    func testSyntaxErrorsCarryLines() {
        let cases: [(String, Int, TOMLSyntaxProblem)] = [
            ("a = 1\nb = \"open\n", 2, .unterminatedString),
            ("a = 1\n\nb 2", 3, .expectedEquals(key: "b")),
            ("a = 1\na = 2", 2, .duplicateKey("a")),
            ("[t]\n[t]", 2, .duplicateTable("t")),
            ("a = \"x\\q\"", 1, .invalidEscape("\\q")),
            ("a = [1, 2", 1, .unterminatedArray),
            ("a = 1 2", 1, .trailingCharacters("2")),
            ("a = { b = 1 }", 1, .unsupported("inline tables are")),
            ("a = 99999999999999999999", 1, .integerOverflow("99999999999999999999")),
            ("\n\n[a", 3, .invalidTableHeader("[a")),
            ("a = bogus", 1, .invalidValue("bogus")),
            ("a =", 1, .invalidValue("")),
            ("= 1", 1, .expectedKey(found: "= 1")),
            ("a.b = 1", 1, .unsupported("dotted keys are")),
        ]
        for (text, line, problem) in cases {
            XCTAssertThrowsError(try TOMLParser.parse(text), text) { error in
                XCTAssertEqual(error as? TOMLSyntaxError, TOMLSyntaxError(line: line, problem: problem), text)
            }
        }
    }
}
