import XCTest

@testable import FerryCrypto

/// Helpers for the packet-protection tests, namespaced so they cannot collide with other test files' helpers.
enum PacketProtectionTestSupport {
    /// Bytes from hex text; whitespace is ignored. Test input only, so malformed text fails the test loudly.
    static func bytes(_ hex: String, file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        let digits = hex.filter { !$0.isWhitespace }
        var result: [UInt8] = []
        result.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2, limitedBy: digits.endIndex) ?? digits.endIndex
            guard let byte = UInt8(digits[index..<next], radix: 16), next != index else {
                XCTFail("bad hex near \(digits[index...].prefix(8))", file: file, line: line)
                return []
            }
            result.append(byte)
            index = next
        }
        return result
    }

    /// Lowercase hex of `bytes`, for readable assertion failures.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    /// The five mask bytes as an array.
    static func maskBytes(_ mask: HeaderProtectionMask) -> [UInt8] {
        [mask.first, mask.packetNumber.0, mask.packetNumber.1, mask.packetNumber.2, mask.packetNumber.3]
    }

    /// Protects one packet the way the transport does (RFC 9001 §5.3, §5.4): seal the payload with the unprotected
    /// header as associated data, sample 4 bytes after the start of the packet number, then mask the header.
    ///
    /// Returns the protected packet and the mask that was applied.
    static func protect(
        header: [UInt8],
        payload: [UInt8],
        packetNumber: UInt64,
        packetNumberLength: Int,
        with protector: any PacketProtector
    ) throws -> (packet: [UInt8], sample: [UInt8], mask: HeaderProtectionMask) {
        var packet = header + payload + [UInt8](repeating: 0xee, count: protector.tagLength)
        try packet.withUnsafeMutableBytes { buffer in
            try protector.seal(
                packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: header.count,
                payloadEnd: header.count + payload.count)
        }
        let packetNumberOffset = header.count - packetNumberLength
        let sample = Array(packet[(packetNumberOffset + 4)..<(packetNumberOffset + 4 + protector.sampleLength)])
        let mask = try sample.withUnsafeBytes { try protector.headerProtectionMask(sample: $0) }
        let isLongHeader = packet[0] & 0x80 != 0
        packet[0] ^= mask.first & (isLongHeader ? 0x0f : 0x1f)
        let maskBytes = maskBytes(mask)
        for index in 0..<packetNumberLength {
            packet[packetNumberOffset + index] ^= maskBytes[1 + index]
        }
        return (packet, sample, mask)
    }

    /// Removes header and packet protection from `packet` whose packet number starts at `packetNumberOffset`,
    /// returning the full packet number (truncated, as the tests use small numbers or pass `expand`) and the
    /// plaintext payload.
    static func unprotect(
        packet: [UInt8],
        packetNumberOffset: Int,
        with protector: any PacketProtector,
        expand: (UInt64, Int) -> UInt64 = { truncated, _ in truncated }
    ) throws -> (packetNumber: UInt64, payload: [UInt8]) {
        var packet = packet
        let sampleStart = packetNumberOffset + 4
        let mask = try packet[sampleStart..<(sampleStart + protector.sampleLength)].withUnsafeBytes {
            try protector.headerProtectionMask(sample: $0)
        }
        let isLongHeader = packet[0] & 0x80 != 0
        packet[0] ^= mask.first & (isLongHeader ? 0x0f : 0x1f)
        let packetNumberLength = Int(packet[0] & 0x03) + 1
        let maskBytes = maskBytes(mask)
        var truncated: UInt64 = 0
        for index in 0..<packetNumberLength {
            packet[packetNumberOffset + index] ^= maskBytes[1 + index]
            truncated = truncated << 8 | UInt64(packet[packetNumberOffset + index])
        }
        let packetNumber = expand(truncated, packetNumberLength)
        let payloadStart = packetNumberOffset + packetNumberLength
        let plaintextLength = try packet.withUnsafeMutableBytes { buffer in
            try protector.open(
                packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: payloadStart,
                end: buffer.count)
        }
        return (packetNumber, Array(packet[payloadStart..<(payloadStart + plaintextLength)]))
    }
}
