import FerryWire
import XCTest

final class PacketNumberTests: XCTestCase {
    /// RFC 9000 Appendix A.3 (and §17.1) example.
    func testRFC9000DecodingExample() {
        XCTAssertEqual(PacketNumber.decode(truncated: 0x9b32, length: 2, largestReceived: 0xa82f_30ea), 0xa82f_9b32)
    }

    /// RFC 9000 §17.1 examples of the encoded length.
    func testRFC9000EncodingExamples() {
        XCTAssertEqual(PacketNumber.encodedLength(packetNumber: 0xac5c02, largestAcknowledged: 0xabe8b3), 2)
        XCTAssertEqual(PacketNumber.encodedLength(packetNumber: 0xace8fe, largestAcknowledged: 0xabe8b3), 3)
        XCTAssertEqual(PacketNumber.encodedLength(packetNumber: 0, largestAcknowledged: nil), 1)
        XCTAssertEqual(PacketNumber.encodedLength(packetNumber: 127, largestAcknowledged: nil), 1)
        XCTAssertEqual(PacketNumber.encodedLength(packetNumber: 128, largestAcknowledged: nil), 2)
        XCTAssertEqual(PacketNumber.encodedLength(packetNumber: 1 << 40, largestAcknowledged: nil), 4)
    }

    func testWrapAround() {
        // Expected 256, truncated 0x01 with 1 byte -> 257; truncated 0xff -> 255.
        XCTAssertEqual(PacketNumber.decode(truncated: 0x01, length: 1, largestReceived: 255), 257)
        XCTAssertEqual(PacketNumber.decode(truncated: 0xff, length: 1, largestReceived: 255), 255)
        XCTAssertEqual(PacketNumber.decode(truncated: 0x00, length: 1, largestReceived: nil), 0)
        XCTAssertEqual(PacketNumber.decode(truncated: 0xff, length: 1, largestReceived: nil), 255)
        // No overflow near 2^62.
        let top = PacketNumber.maxValue
        XCTAssertLessThanOrEqual(PacketNumber.decode(truncated: 0xffff_ffff, length: 4, largestReceived: top), 1 << 62)
        _ = PacketNumber.decode(truncated: .max, length: 9, largestReceived: .max)
    }

    /// Encoding with the chosen length and decoding recovers the number for in-window receivers.
    func testEncodeDecodeRoundTrip() {
        var generator = SplitMix64(seed: 3)
        for _ in 0..<10000 {
            let largestAcknowledged = UInt64.random(in: 0..<(1 << 40), using: &generator)
            let packetNumber = largestAcknowledged + UInt64.random(in: 1..<(1 << 20), using: &generator)
            let length = PacketNumber.encodedLength(packetNumber: packetNumber, largestAcknowledged: largestAcknowledged)
            let mask: UInt64 = (1 << UInt64(length * 8)) - 1
            // The receiver has seen at least the acknowledged packet and at most packetNumber - 1.
            let largestReceived = UInt64.random(in: largestAcknowledged..<packetNumber, using: &generator)
            XCTAssertEqual(
                PacketNumber.decode(truncated: packetNumber & mask, length: length, largestReceived: largestReceived),
                packetNumber)
        }
    }
}
