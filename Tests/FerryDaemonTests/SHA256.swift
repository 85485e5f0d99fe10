import FerryCrypto
import Foundation
import XCTest

/// SHA-256 for checking that bytes crossed the daemons unchanged: OpenSSL's, through FerryCrypto's
/// `SHA256Digest`, rather than an implementation of the tests' own.
struct SHA256 {
    private let digest = SHA256Digest()

    mutating func update(_ bytes: some Collection<UInt8>) {
        digest.update(bytes)
    }

    /// The digest (32 zero bytes if OpenSSL failed, which no expected value matches).
    mutating func finalize() -> [UInt8] {
        digest.finalize() ?? [UInt8](repeating: 0, count: 32)
    }

    /// The hex digest of `bytes`.
    static func hex(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 examples, plus a message split across updates.
    func testKnownDigests() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var hasher = SHA256()
        let text = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        hasher.update(text[0..<5])
        hasher.update(text[5...])
        XCTAssertEqual(hasher.finalize().map { String(format: "%02x", $0) }.joined(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
