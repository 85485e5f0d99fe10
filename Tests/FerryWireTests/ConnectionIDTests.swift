import FerryWire
import XCTest

final class ConnectionIDTests: XCTestCase {
    func testLengthsAndBytes() {
        XCTAssertNil(ConnectionID([UInt8](repeating: 1, count: 21)))
        XCTAssertEqual(ConnectionID.empty.count, 0)
        XCTAssertTrue(ConnectionID.empty.isEmpty)
        for length in 0...20 {
            let bytes = (0..<length).map { UInt8($0 * 7 + 1) }
            let id = ConnectionID(bytes)
            XCTAssertEqual(id?.count, length)
            XCTAssertEqual(id?.bytes, bytes)
            XCTAssertEqual(id?.withUnsafeBytes { Array($0) }, bytes)
        }
    }

    func testEqualityAndHashing() {
        let a = ConnectionID([1, 2, 3, 4, 5, 6, 7, 8] as [UInt8]) ?? .empty
        let b = connectionID("0102030405060708")
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        // Same prefix, different length: not equal.
        XCTAssertNotEqual(connectionID("00"), connectionID("0000"))
        XCTAssertNotEqual(connectionID("0102"), connectionID("0103"))
        var table: [ConnectionID: Int] = [a: 1]
        table[connectionID("ff")] = 2
        XCTAssertEqual(table[b], 1)
        XCTAssertEqual(table.count, 2)
    }

    func testDescriptionIsHex() {
        XCTAssertEqual(connectionID("8394c8f03e515708").description, "8394c8f03e515708")
        XCTAssertEqual(ConnectionID.empty.description, "")
    }

    func testRandom() {
        var generator = SplitMix64(seed: 1)
        let id = ConnectionID.random(length: 8, using: &generator)
        XCTAssertEqual(id.count, 8)
        XCTAssertNotEqual(id, ConnectionID.random(length: 8, using: &generator))
    }

    func testStatelessResetToken() {
        XCTAssertNil(StatelessResetToken([UInt8](repeating: 0, count: 15)))
        XCTAssertNil(StatelessResetToken([UInt8](repeating: 0, count: 17)))
        let bytes = (0..<16).map { UInt8($0) }
        XCTAssertEqual(StatelessResetToken(bytes)?.bytes, bytes)
        XCTAssertEqual(StatelessResetToken(bytes), StatelessResetToken(bytes))
        XCTAssertNotEqual(resetToken(1), resetToken(2))
    }
}
