import XCTest

@testable import FerryDaemon

/// What the TOML parser accepts, and the lines it records. Errors are in `TOMLParserErrorTests`; agreement with
/// Python's `tomllib` on generated documents is in `TOMLDifferentialTests`.
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
        let root = try TOMLParser.parse(#"a = "tab\there \"q\" \\ \u00e9 \U0001F600 \b\f\r\n"\#nb = 'C:\path\n'"#)
        XCTAssertEqual(root["a"]?.kind, .string("tab\there \"q\" \\ é 😀 \u{08}\u{0C}\r\n"))
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

    func testIntegersInEveryBase() throws {
        let cases: [(String, Int64)] = [
            ("0", 0), ("+0", 0), ("-0", 0), ("1_2_3", 123), ("9223372036854775807", .max),
            ("-9223372036854775808", .min), ("0xDEAD_beef", 0xDEAD_BEEF), ("0x00ff", 255), ("0o755", 0o755),
            ("0o0_1", 1), ("0b1101_0110", 0b1101_0110), ("0x7fffffffffffffff", .max),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try TOMLParser.parse("a = \(text)")["a"]?.kind, .integer(expected), text)
        }
    }

    func testFloats() throws {
        let cases: [(String, Double)] = [
            ("+1.0", 1), ("3.1415", 3.1415), ("-0.01", -0.01), ("5e+22", 5e22), ("1e06", 1e6), ("-2E-2", -0.02),
            ("6.626e-34", 6.626e-34), ("224_617.445_991_228", 224_617.445_991_228), ("0e0", 0), ("1_0.0_1e1_0", 10.01e10),
            ("inf", .infinity), ("+inf", .infinity), ("-inf", -.infinity),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try TOMLParser.parse("a = \(text)")["a"]?.kind, .float(expected), text)
        }
        for text in ["nan", "+nan", "-nan"] {
            guard case .float(let value)? = try TOMLParser.parse("a = \(text)")["a"]?.kind else { return XCTFail(text) }
            XCTAssertTrue(value.isNaN, text)
        }
        guard case .float(let negativeZero)? = try TOMLParser.parse("a = -0.0")["a"]?.kind else { return XCTFail() }
        XCTAssertEqual(negativeZero.sign, .minus)
    }

    func testDottedKeysBuildTablesWithTheKeyLine() throws {
        let root = try TOMLParser.parse(
            """
            name = "x"
            physical.color = "orange"
            physical . shape = 'round'
            site."google.com" = true
            3.14159 = "pi"

            [fruit]
            apple.taste.sweet = true
            apple.color = "red"
            """
        )
        guard case .table(let physical)? = root["physical"]?.kind else { return XCTFail("no physical table") }
        XCTAssertEqual(root.entry("physical")?.line, 2)
        XCTAssertEqual(physical["color"], TOMLValue(.string("orange"), line: 2))
        XCTAssertEqual(physical["shape"], TOMLValue(.string("round"), line: 3))
        guard case .table(let site)? = root["site"]?.kind else { return XCTFail("no site table") }
        XCTAssertEqual(site["google.com"]?.kind, .boolean(true))
        guard case .table(let three)? = root["3"]?.kind else { return XCTFail("no 3 table") }
        XCTAssertEqual(three["14159"]?.kind, .string("pi"))
        guard case .table(let fruit)? = root["fruit"]?.kind, case .table(let apple)? = fruit["apple"]?.kind,
            case .table(let taste)? = apple["taste"]?.kind
        else { return XCTFail("no fruit.apple.taste") }
        XCTAssertEqual(apple.line, 8)
        XCTAssertEqual(taste["sweet"], TOMLValue(.boolean(true), line: 8))
        XCTAssertEqual(apple["color"], TOMLValue(.string("red"), line: 9))
    }

    func testHeadersWithQuotedPartsAndSpaces() throws {
        let root = try TOMLParser.parse("[ a . \"b.c\" . 'd e' ]\nx = 1\n[[ q.\"\" ]]\ny = 2")
        guard case .table(let a)? = root["a"]?.kind, case .table(let bc)? = a["b.c"]?.kind,
            case .table(let de)? = bc["d e"]?.kind
        else { return XCTFail("no a.\"b.c\".'d e'") }
        XCTAssertEqual(de["x"], TOMLValue(.integer(1), line: 2))
        guard case .table(let q)? = root["q"]?.kind, case .array(let elements)? = q[""]?.kind else {
            return XCTFail("no q.\"\" array")
        }
        XCTAssertEqual(elements.count, 1)
    }

    func testInlineTablesNestedAndInArrays() throws {
        let root = try TOMLParser.parse(
            """
            point = { x = 1, y = -2, label.text = "p", label.size = 3 }
            empty = {}
            nested = { a = { b = { c = "deep" } }, list = [1, 2] }
            hooks = [
              { type = "log" },
              { type = "rate-limit", per_second = 5.5 },
            ]
            """
        )
        guard case .table(let point)? = root["point"]?.kind else { return XCTFail("no point") }
        XCTAssertEqual(point.line, 1)
        XCTAssertEqual(point["x"], TOMLValue(.integer(1), line: 1))
        guard case .table(let label)? = point["label"]?.kind else { return XCTFail("no label") }
        XCTAssertEqual(label["text"]?.kind, .string("p"))
        XCTAssertEqual(label["size"]?.kind, .integer(3))
        XCTAssertEqual(root["empty"]?.kind, .table(TOMLTable(line: 2)))
        guard case .table(let nested)? = root["nested"]?.kind, case .table(let a)? = nested["a"]?.kind,
            case .table(let b)? = a["b"]?.kind
        else { return XCTFail("no nested.a.b") }
        XCTAssertEqual(b["c"]?.kind, .string("deep"))
        guard case .array(let hooks)? = root["hooks"]?.kind, hooks.count == 2, case .table(let second) = hooks[1].kind else {
            return XCTFail("no hooks array of inline tables")
        }
        XCTAssertEqual(second.line, 6)
        XCTAssertEqual(second["per_second"], TOMLValue(.float(5.5), line: 6))
    }

    func testMultilineBasicStrings() throws {
        let root = try TOMLParser.parse(
            """
            a = \"\"\"
            Roses are red
            \tViolets are "blue\" \\u00e9\"\"\"
            b = \"\"\"\\
                The quick brown \\
                fox.\\
                \"\"\"
            c = \"\"\"two quotes at the end: ""\"\"\"
            d = \"\"\"one "" inside and ""\\\" three escaped\"\"\"
            e = 1
            """
        )
        XCTAssertEqual(root["a"], TOMLValue(.string("Roses are red\n\tViolets are \"blue\" é"), line: 1))
        XCTAssertEqual(root["b"], TOMLValue(.string("The quick brown fox."), line: 4))
        XCTAssertEqual(root["c"]?.kind, .string("two quotes at the end: \"\""))
        XCTAssertEqual(root["d"]?.kind, .string("one \"\" inside and \"\"\" three escaped"))
        XCTAssertEqual(root["e"], TOMLValue(.integer(1), line: 10), "lines inside strings are counted")
    }

    func testMultilineLiteralStrings() throws {
        let root = try TOMLParser.parse(
            """
            regex = '''I [dw]on't need \\d{2} apples'''
            lines = '''
            The first newline is
               trimmed in raw strings.
            '''
            quotes = ''''That,' she said, 'is still pointless.''''
            next = true
            """
        )
        XCTAssertEqual(root["regex"]?.kind, .string("I [dw]on't need \\d{2} apples"))
        XCTAssertEqual(root["lines"], TOMLValue(.string("The first newline is\n   trimmed in raw strings.\n"), line: 2))
        XCTAssertEqual(root["quotes"]?.kind, .string("'That,' she said, 'is still pointless.'"))
        XCTAssertEqual(root["next"], TOMLValue(.boolean(true), line: 7))
    }

    func testCRLFLineEndingsAreNormalised() throws {
        let root = try TOMLParser.parse("a = 1\r\n[t]\r\nb = \"\"\"x\r\ny\"\"\"\r\nc = '''\r\nz'''\r\n")
        guard case .table(let table)? = root["t"]?.kind else { return XCTFail("no t") }
        XCTAssertEqual(table["b"], TOMLValue(.string("x\ny"), line: 3))
        XCTAssertEqual(table["c"], TOMLValue(.string("z"), line: 5))
    }

    /// TOML v1.0.0 §Table: tables may be defined out of order, and a table implied by `[a.b]` may be defined
    /// once afterwards; `[a.b.d]` may add a sub-table to one made by dotted keys.
    func testOutOfOrderAndImplicitTables() throws {
        let root = try TOMLParser.parse(
            """
            [x.y.z]
            w = 1
            [x]
            v = 2
            [fruit]
            apple.color = "red"
            [fruit.apple.texture]
            smooth = true
            """
        )
        guard case .table(let x)? = root["x"]?.kind else { return XCTFail("no x") }
        XCTAssertEqual(x.line, 3, "an implicit table takes the line of its own header once defined")
        XCTAssertEqual(x["v"]?.kind, .integer(2))
        guard case .table(let fruit)? = root["fruit"]?.kind, case .table(let apple)? = fruit["apple"]?.kind,
            case .table(let texture)? = apple["texture"]?.kind
        else { return XCTFail("no fruit.apple.texture") }
        XCTAssertEqual(apple["color"]?.kind, .string("red"))
        XCTAssertEqual(texture["smooth"]?.kind, .boolean(true))
    }

    /// A table only implied by `[a.b.c]` was never defined, so dotted keys in a later `[a]` section may define it
    /// (as tomllib and toml-test read TOML v1.0.0 §Table); once they have, no header may define it again.
    func testDottedKeysMayDefineAnImplicitTable() throws {
        let root = try TOMLParser.parse("[a.b.c]\nx = 1\n[a]\nb.d = 2\nb.e = 3")
        guard case .table(let a)? = root["a"]?.kind, case .table(let b)? = a["b"]?.kind else { return XCTFail("no a.b") }
        XCTAssertEqual(b.entries.map(\.key), ["c", "d", "e"])
        XCTAssertEqual(b.line, 4)
        XCTAssertThrowsError(try TOMLParser.parse("[a.b.c]\n[a]\nb.d = 2\n[a.b]")) { error in
            XCTAssertEqual(error as? TOMLSyntaxError, TOMLSyntaxError(line: 4, problem: .duplicateTable("a.b", firstLine: 3)))
        }
    }

    func testNestedArraysOfTables() throws {
        let root = try TOMLParser.parse(
            """
            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits.varieties]]
            name = "granny smith"
            [[fruits]]
            name = "banana"
            [fruits.physical]
            color = "yellow"
            """
        )
        guard case .array(let fruits)? = root["fruits"]?.kind, fruits.count == 2,
            case .table(let apple) = fruits[0].kind, case .table(let banana) = fruits[1].kind
        else { return XCTFail("no fruits") }
        guard case .array(let varieties)? = apple["varieties"]?.kind else { return XCTFail("no varieties") }
        XCTAssertEqual(varieties.map(\.line), [5, 7])
        guard case .table(let physical)? = banana["physical"]?.kind else { return XCTFail("no banana.physical") }
        XCTAssertEqual(physical["color"], TOMLValue(.string("yellow"), line: 12))
    }

    /// Keys are compared code point for code point (as tomllib does), not by Swift's canonical equivalence.
    func testCanonicallyEquivalentKeysAreDistinct() throws {
        let root = try TOMLParser.parse("\"\u{E9}\" = 1\n\"e\u{301}\" = 2")
        XCTAssertEqual(root.entries.count, 2)
    }

    func testDeepButReasonableNestingIsAccepted() throws {
        let depth = 50
        let text = "a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        XCTAssertNoThrow(try TOMLParser.parse(text))
    }
}
