import Foundation
import XCTest

@testable import FerryDaemon

/// A temporary directory removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() {
        let base = FileManager.default.temporaryDirectory.path
        // Unix socket paths must stay short, so the name is brief.
        path = base + "/fd-" + String(UUID().uuidString.prefix(8))
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int? = nil) -> String {
        let file = path + "/" + name
        _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        if let mode { chmod(file, mode_t(mode)) }
        return file
    }
}

let sampleID = String(repeating: "ab", count: 32)
let otherID = String(repeating: "cd", count: 32)

/// Asserts that `text` fails to load with exactly `expected` (rendered with file name "ferryd.toml").
func assertConfigError(
    _ text: String,
    _ expected: String,
    directory: TemporaryDirectory = TemporaryDirectory(),
    file: StaticString = #filePath,
    line: UInt = #line
) {
    do {
        _ = try DaemonConfig.parse(text, file: "ferryd.toml", directory: directory.path)
        XCTFail("expected error: \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error.description.replacingOccurrences(of: directory.path + "/", with: ""), expected, file: file, line: line)
    }
}
