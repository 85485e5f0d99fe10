import Foundation
import XCTest

@testable import FerryDaemon

/// A config file that is not UTF-8 is refused, not read with replacement characters.
final class ConfigEncodingTests: XCTestCase {
    func testInvalidUTF8IsRefused() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/bad.toml"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([0x5b, 0x65, 0x6e, 0xff, 0x5d, 0x0a])))
        XCTAssertThrowsError(try readConfigFile(path)) { error in
            let description = "\(error)"
            XCTAssertTrue(description.contains("bad.toml"), description)
            guard case .unreadable(_, let errno)? = (error as? ConfigError)?.problem else {
                return XCTFail("expected unreadable, got \(error)")
            }
            XCTAssertEqual(errno, EILSEQ)
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("[endpoint]\n".utf8)))
        XCTAssertNoThrow(try readConfigFile(path))
    }
}
