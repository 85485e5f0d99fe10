import Foundation
import XCTest

@testable import FerryDaemon

/// Differential test of `TOMLParser` against Python's `tomllib` (the TOML v1.0 reference most users have).
///
/// `Scripts/toml-diff` generates random valid documents covering the syntax the parser accepts, with the values
/// `tomllib` reads from them, and invalid documents `tomllib` refuses, with the line Ferry must name. Both parsers
/// must agree on every value (strings code point for code point, floats bit for bit) and on every refusal.
/// `FERRY_TOML_DIFF_SEED` and `FERRY_TOML_DIFF_COUNT` (valid documents; a third as many invalid ones) run other or
/// more documents; a failure prints the command that shows the document.
final class TOMLDifferentialTests: XCTestCase {
    func testParserAgreesWithTomllib() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["FERRY_TOML_DIFF_SEED"].flatMap { $0.isEmpty ? nil : $0 } ?? "1"
        let validCount = environment["FERRY_TOML_DIFF_COUNT"].flatMap { Int($0) } ?? 300
        let documents = try Self.generate(seed: seed, valid: validCount, invalid: max(validCount / 3, 1))
        var failures = 0
        for document in documents {
            guard failures < 10 else { break }
            let show = "Scripts/toml-diff --seed \(seed) --show \(document.name)"
            if let expected = document.expected {
                do {
                    let actual = Tagged(table: try TOMLParser.parse(document.toml))
                    if actual != expected {
                        failures += 1
                        let difference = actual.firstDifference(from: expected, at: "") ?? "?"
                        XCTFail("\(document.name) differs from tomllib at \(difference) (\(show))")
                    }
                } catch {
                    failures += 1
                    XCTFail("\(document.name) is valid TOML (tomllib reads it) but was refused: \(error) (\(show))")
                }
            } else if let line = document.errorLine {
                do throws(TOMLSyntaxError) {
                    _ = try TOMLParser.parse(document.toml)
                    failures += 1
                    XCTFail("\(document.name) is refused by tomllib but was accepted (\(show))")
                } catch {
                    if error.line != line {
                        failures += 1
                        XCTFail("\(document.name): expected an error on line \(line), got \(error) (\(show))")
                    }
                }
            }
        }
        XCTAssertGreaterThan(documents.count, validCount, "the generator wrote fewer documents than asked")
    }

    // MARK: Running the generator

    private struct Document {
        var name: String
        var toml: String
        /// tomllib's values, for a valid document.
        var expected: Tagged?
        /// The line Ferry's error must name, for an invalid document.
        var errorLine: Int?
    }

    private static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `$FERRY_PYTHON`, else the project's `.venv` (Scripts/setup), else `python3` from `PATH`.
    private static func pythonCommand() -> (URL, [String]) {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["FERRY_PYTHON"], !explicit.isEmpty { return (URL(fileURLWithPath: explicit), []) }
        let venv = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        if FileManager.default.isExecutableFile(atPath: venv) { return (URL(fileURLWithPath: venv), []) }
        return (URL(fileURLWithPath: "/usr/bin/env"), ["python3"])
    }

    private static func generate(seed: String, valid: Int, invalid: Int) throws -> [Document] {
        let (executable, prefix) = pythonCommand()
        let script = repositoryRoot.appendingPathComponent("Scripts/toml-diff").path
        let process = Process()
        process.executableURL = executable
        process.arguments = prefix + [script, "--seed", seed, "--valid", String(valid), "--invalid", String(invalid)]
        let output = Pipe()
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("toml-diff-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        do {
            try process.run()
        } catch {
            // CI installs Python 3.11 (Scripts/setup): a missing interpreter is a failure, not a skip.
            XCTFail("cannot run Python for Scripts/toml-diff: \(error)")
            return []
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        if process.terminationStatus == 3 || process.terminationStatus == 127 {
            XCTFail("Scripts/toml-diff needs Python 3.11+ with tomllib: \(message)")
            return []
        }
        guard process.terminationStatus == 0 else {
            XCTFail("Scripts/toml-diff failed (\(process.terminationStatus)): \(message)")
            return []
        }
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let entries = root["documents"] as? [[String: Any]]
        else {
            XCTFail("Scripts/toml-diff wrote no corpus")
            return []
        }
        return try entries.map { entry in
            guard let name = entry["name"] as? String, let toml = entry["toml"] as? String else {
                throw CorpusError.malformed("document without name or toml")
            }
            let expected = try entry["expected"].map(Tagged.init(json:))
            let errorLine = entry["line"] as? Int
            return Document(name: name, toml: toml, expected: expected, errorLine: errorLine)
        }
    }

    private enum CorpusError: Error {
        case malformed(String)
    }

    // MARK: Tagged values

    /// A TOML value in the generator's tagged form, compared exactly: strings by code points (Swift's `==` would
    /// equate canonically equivalent strings), floats by bit pattern (so `-0.0` differs from `0.0`), NaN by kind.
    private indirect enum Tagged: Equatable {
        case string([Unicode.Scalar])
        case integer(String)
        case float(String)
        case boolean(String)
        case array([Tagged])
        case table([Pair])

        struct Pair: Equatable {
            var key: [Unicode.Scalar]
            var value: Tagged
        }

        init(table: TOMLTable) {
            let pairs = table.entries.map { Pair(key: Array($0.key.unicodeScalars), value: Tagged(value: $0.value)) }
            self = .table(pairs.sorted { $0.key.map(\.value).lexicographicallyPrecedes($1.key.map(\.value)) })
        }

        init(value: TOMLValue) {
            switch value.kind {
            case .string(let text): self = .string(Array(text.unicodeScalars))
            case .integer(let integer): self = .integer(String(integer))
            case .float(let float):
                let bits = String(float.bitPattern, radix: 16)
                self = .float(float.isNaN ? "nan" : String(repeating: "0", count: 16 - bits.count) + bits)
            case .boolean(let flag): self = .boolean(flag ? "true" : "false")
            case .array(let elements): self = .array(elements.map(Tagged.init(value:)))
            case .table(let table): self = Tagged(table: table)
            }
        }

        init(json: Any) throws {
            guard let object = json as? [String: Any], object.count == 1, let (tag, payload) = object.first else {
                throw CorpusError.malformed("not a tagged value: \(json)")
            }
            switch (tag, payload) {
            case ("string", let text as String): self = .string(Array(text.unicodeScalars))
            case ("integer", let text as String): self = .integer(text)
            case ("float", let text as String): self = .float(text)
            case ("bool", let text as String): self = .boolean(text)
            case ("array", let elements as [Any]): self = .array(try elements.map(Tagged.init(json:)))
            case ("table", let pairs as [[Any]]):
                self = .table(
                    try pairs.map { pair in
                        guard pair.count == 2, let key = pair[0] as? String else { throw CorpusError.malformed("bad pair") }
                        return Pair(key: Array(key.unicodeScalars), value: try Tagged(json: pair[1]))
                    }
                )
            default:
                throw CorpusError.malformed("unknown tag \(tag)")
            }
        }

        /// Where `self` first differs from `expected`, as a path with both values.
        func firstDifference(from expected: Tagged, at path: String) -> String? {
            switch (self, expected) {
            case (.array(let actual), .array(let wanted)) where actual.count == wanted.count:
                for (offset, element) in actual.enumerated() {
                    if let difference = element.firstDifference(from: wanted[offset], at: "\(path)[\(offset)]") {
                        return difference
                    }
                }
                return nil
            case (.table(let actual), .table(let wanted)) where actual.map(\.key) == wanted.map(\.key):
                for (offset, pair) in actual.enumerated() {
                    let keyPath = path + "." + String(String.UnicodeScalarView(pair.key)).debugDescription
                    if let difference = pair.value.firstDifference(from: wanted[offset].value, at: keyPath) {
                        return difference
                    }
                }
                return nil
            default:
                return self == expected ? nil : "\(path.isEmpty ? "the root" : path): Swift \(self), tomllib \(expected)"
            }
        }
    }
}
