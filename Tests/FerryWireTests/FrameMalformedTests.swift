import FerryWire
import XCTest

final class FrameMalformedTests: XCTestCase {
    /// Every strict prefix of every non-PADDING frame encoding must throw, never trap.
    func testEveryTruncationThrows() {
        for frame in sampleFrames {
            if case .padding = frame { continue }
            let bytes = encodeFrame(frame)
            for cut in 0..<bytes.count {
                var reader = ByteReader(Array(bytes.prefix(cut)))
                do {
                    _ = try Frame.decode(from: &reader)
                    XCTFail("prefix \(cut)/\(bytes.count) of \(frame) decoded")
                } catch {
                    // A cut inside a multi-byte frame type (OBSERVED_ADDRESS) is plain truncation; past it, the frame
                    // is malformed.
                    if cut >= VarInt.encodedLength(frame.frameType) {
                        XCTAssertEqual(error.transportErrorCode, 0x07, "\(frame) cut \(cut)")
                    }
                }
            }
        }
    }

    /// Random byte mutations either decode or throw; a trap would kill the test run.
    func testMutationsNeverTrap() {
        var generator = SplitMix64(seed: 0x5eed)
        var all: [UInt8] = []
        for frame in sampleFrames { all += encodeFrame(frame) }
        for _ in 0..<20000 {
            var bytes = all
            let mutations = Int.random(in: 1...4, using: &generator)
            for _ in 0..<mutations {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let start = Int.random(in: 0..<bytes.count, using: &generator)
            let end = Int.random(in: start...bytes.count, using: &generator)
            var reader = ByteReader(bytes, range: start..<end)
            while !reader.isAtEnd {
                let before = reader.position
                guard (try? Frame.decode(from: &reader)) != nil else { break }
                XCTAssertGreaterThan(reader.position, before)
            }
        }
    }

    func testFrameTypeValidation() {
        assertThrowsWireError(.unknownFrameType(0x1f)) { _ = try decodeSingleFrame([0x1f]) }
        assertThrowsWireError(.unknownFrameType(0x40)) { _ = try decodeSingleFrame([0x40, 0x40]) }
        // PING with a two-byte type encoding is not minimal (RFC 9000 §12.4).
        assertThrowsWireError(.invalidFrame(type: 1, reason: "frame type not minimally encoded")) {
            _ = try decodeSingleFrame([0x40, 0x01])
        }
        XCTAssertEqual(WireError.unknownFrameType(0x1f).transportErrorCode, 0x07)
        XCTAssertEqual(WireError.invalidTransportParameter(id: 1, reason: "").transportErrorCode, 0x08)
        XCTAssertEqual(WireError.invalidPacket("").transportErrorCode, 0x0a)
    }

    func testAckValidation() {
        // First range larger than largest acknowledged.
        assertThrowsWireError { _ = try decodeSingleFrame([0x02, 5, 0, 0, 6]) }
        // Gap runs below zero: largest 5, first range 3 -> smallest 2; gap 1 would need 2 >= 3.
        assertThrowsWireError { _ = try decodeSingleFrame([0x02, 5, 0, 1, 3, 1, 0]) }
        // Range length runs below zero: smallest 2, gap 0 -> high 0, length 1.
        assertThrowsWireError { _ = try decodeSingleFrame([0x02, 5, 0, 1, 3, 0, 1]) }
        // Exactly reaching zero is fine.
        XCTAssertNoThrow(try decodeSingleFrame([0x02, 5, 0, 1, 3, 0, 0]))
        // A huge range count with no bytes behind it fails fast without allocating.
        assertThrowsWireError { _ = try decodeSingleFrame([0x02, 5, 0, 0xbf, 0xff, 0xff, 0xff, 0]) }
    }

    func testStreamAndCryptoOffsetLimits() {
        // Offset 2^62-1 with one byte of data exceeds the limit (RFC 9000 §19.8).
        let maxOffset: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        assertThrowsWireError { _ = try decodeSingleFrame([0x0e, 0x00] + maxOffset + [0x01, 0xaa]) }
        XCTAssertNoThrow(try decodeSingleFrame([0x0e, 0x00] + maxOffset + [0x00]))
        assertThrowsWireError { _ = try decodeSingleFrame([0x06] + maxOffset + [0x01, 0xaa]) }
        // Length longer than the input.
        assertThrowsWireError { _ = try decodeSingleFrame([0x0a, 0x00, 0x05, 0xaa]) }
    }

    func testStreamLimitValidation() {
        let over: [UInt8] = [0xd0, 0, 0, 0, 0, 0, 0, 1]  // 2^60 + 1
        for type: UInt8 in [0x12, 0x13, 0x16, 0x17] {
            assertThrowsWireError { _ = try decodeSingleFrame([type] + over) }
        }
    }

    func testNewConnectionIDValidation() {
        let token = [UInt8](repeating: 0xab, count: 16)
        XCTAssertNoThrow(try decodeSingleFrame([0x18, 2, 1, 4, 1, 2, 3, 4] + token))
        // Retire Prior To above Sequence Number.
        assertThrowsWireError { _ = try decodeSingleFrame([0x18, 1, 2, 4, 1, 2, 3, 4] + token) }
        // Zero-length and 21-byte connection IDs.
        assertThrowsWireError { _ = try decodeSingleFrame([0x18, 2, 1, 0] + token) }
        assertThrowsWireError {
            _ = try decodeSingleFrame([0x18, 2, 1, 21] + [UInt8](repeating: 1, count: 21) + token)
        }
    }

    func testOtherValidation() {
        // Empty NEW_TOKEN (RFC 9000 §19.7).
        assertThrowsWireError { _ = try decodeSingleFrame([0x07, 0x00]) }
        // Reason phrase longer than the frame.
        assertThrowsWireError { _ = try decodeSingleFrame([0x1c, 0x01, 0x00, 0x05, 0x61]) }
        assertThrowsWireError { _ = try decodeSingleFrame([0x1d, 0x01, 0x05, 0x61]) }
        // PATH_CHALLENGE with 7 bytes.
        assertThrowsWireError { _ = try decodeSingleFrame([0x1a, 1, 2, 3, 4, 5, 6, 7]) }
    }
}
