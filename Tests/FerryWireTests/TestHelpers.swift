import FerryWire
import XCTest

/// A deterministic generator so mutation tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Asserts that `body` throws a WireError (equal to `expected` when given).
func assertThrowsWireError(
    _ expected: WireError? = nil, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected a WireError", file: file, line: line)
    } catch {
        guard let error = error as? WireError else {
            return XCTFail("unexpected error \(error)", file: file, line: line)
        }
        if let expected {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var iterator = hex.filter { !$0.isWhitespace }.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        result.append(UInt8(String([high, low]), radix: 16) ?? 0)
    }
    return result
}

func encodeFrame(_ frame: Frame) -> [UInt8] {
    let bytes = ByteWriter.encode(capacity: frame.encodedLength) { frame.encode(into: &$0) }
    XCTAssertEqual(bytes.count, frame.encodedLength, "encodedLength mismatch for \(frame)")
    return bytes
}

func decodeSingleFrame(_ bytes: [UInt8]) throws(WireError) -> Frame {
    var reader = ByteReader(bytes)
    let frame = try Frame.decode(from: &reader)
    guard reader.isAtEnd else { throw .invalidPacket("trailing bytes after frame") }
    return frame
}

func connectionID(_ hex: String) -> ConnectionID {
    ConnectionID(hexBytes(hex)) ?? .empty
}

func resetToken(_ seed: UInt8) -> StatelessResetToken {
    StatelessResetToken((0..<16).map { UInt8(truncatingIfNeeded: Int(seed) &+ $0) })
        ?? StatelessResetToken([UInt8](repeating: 0, count: 16))!
}
