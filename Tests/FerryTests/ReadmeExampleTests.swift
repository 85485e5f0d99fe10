import Foundation
import XCTest

/// The README's library example is `Examples/readme-echo/main.swift`, which the package compiles and Scripts/test
/// runs; this test keeps the copy in the README identical to it, so the snippet users paste is code that builds.
final class ReadmeExampleTests: XCTestCase {
    func testReadmeShowsTheCompiledExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: root.appendingPathComponent("Examples/readme-echo/main.swift"), encoding: .utf8)
        XCTAssertTrue(
            readme.contains("```swift\n" + example + "```\n"),
            "README.md's example differs from Examples/readme-echo/main.swift; copy the file into the README"
        )
    }
}
