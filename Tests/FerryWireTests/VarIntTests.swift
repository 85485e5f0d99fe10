import FerryWire
import XCTest

final class VarIntTests: XCTestCase {
    /// RFC 9000 Appendix A.1 sample decodings.
    func testRFC9000AppendixA1Examples() throws {
        let examples: [(String, UInt64)] = [
            ("c2197c5eff14e88c", 151_288_809_941_952_652),
            ("9d7f3e7d", 494_878_333),
            ("7bbd", 15293),
            ("25", 37),
            ("4025", 37),
        ]
        for (hex, value) in examples {
            var reader = ByteReader(hexBytes(hex))
            XCTAssertEqual(try reader.readVarInt(), value, hex)
            XCTAssertTrue(reader.isAtEnd)
        }
        // The shortest encodings round-trip to the RFC bytes.
        for (hex, value) in examples.prefix(4) {
            XCTAssertEqual(ByteWriter.encode(capacity: 8) { $0.writeVarInt(value) }, hexBytes(hex))
        }
    }

    func testBoundaries() throws {
        let cases: [(UInt64, Int)] = [
            (0, 1), (63, 1), (64, 2), (16383, 2), (16384, 4), ((1 << 30) - 1, 4), (1 << 30, 8),
            (VarInt.maxValue, 8),
        ]
        for (value, length) in cases {
            XCTAssertEqual(VarInt.encodedLength(value), length, "\(value)")
            let bytes = ByteWriter.encode(capacity: 8) { $0.writeVarInt(value) }
            XCTAssertEqual(bytes.count, length)
            var reader = ByteReader(bytes)
            XCTAssertEqual(try reader.readVarInt(), value)
            // Every strict prefix is truncated.
            for cut in 0..<length {
                var short = ByteReader(Array(bytes.prefix(cut)))
                assertThrowsWireError(.truncated) { _ = try short.readVarInt() }
            }
        }
    }

    func testFixedWidthEncoding() throws {
        for width in [1, 2, 4, 8] {
            let bytes = ByteWriter.encode(capacity: 8) { $0.writeVarInt(5, encodedLength: width) }
            XCTAssertEqual(bytes.count, width)
            var reader = ByteReader(bytes)
            XCTAssertEqual(try reader.readVarIntWithLength().length, width)
        }
    }

    func testReaderIntegersAndRanges() throws {
        let bytes: [UInt8] = [0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e]
        var reader = ByteReader(bytes, range: 1..<bytes.count)
        XCTAssertEqual(reader.remaining, 14)
        XCTAssertEqual(try reader.readUInt8(), 0x01)
        XCTAssertEqual(try reader.readUInt16(), 0x0203)
        XCTAssertEqual(try reader.readUInt32(), 0x0405_0607)
        XCTAssertEqual(Array(try reader.readBytes(2)), [0x08, 0x09])
        try reader.skip(1)
        assertThrowsWireError(.truncated) { _ = try reader.readUInt64() }
        assertThrowsWireError(.truncated) { _ = try reader.readBytes(-1) }
        assertThrowsWireError(.truncated) { try reader.skip(5) }
        XCTAssertEqual(try reader.readUInt32(), 0x0b0c_0d0e)
        XCTAssertTrue(reader.isAtEnd)
        // Out-of-range construction clamps rather than trapping.
        let clamped = ByteReader(bytes, range: 10..<100)
        XCTAssertEqual(clamped.remaining, 5)
    }

    func testWriterIntegers() {
        let bytes = ByteWriter.encode(capacity: 32) { writer in
            writer.writeUInt8(1)
            writer.writeUInt16(0x0203)
            writer.writeUInt32(0x0405_0607)
            writer.writeUInt64(0x0809_0a0b_0c0d_0e0f)
            writer.writeBytes([0x10, 0x11] as [UInt8])
            writer.writeBytes(Set<UInt8>([0x12]))
            writer.writeBigEndian(0x131415, byteCount: 3)
            writer.writeZeros(2)
            XCTAssertEqual(writer.remaining, 32 - 23)
        }
        XCTAssertEqual(bytes, Array(1...0x15) + [0, 0])
    }
}
