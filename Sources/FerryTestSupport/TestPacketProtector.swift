import FerryCrypto

/// A cheap, deterministic stand-in for AEAD packet protection, for transport tests.
///
/// It XORs the payload with a keystream and appends a 16-byte checksum tag over the header and ciphertext, so
/// corrupted or misrouted packets fail to open (RFC 9001 §5.5) just as with real AEAD, and header protection
/// actually masks bits (RFC 9001 §5.4), which catches transport bugs that a no-op cipher would hide.
public final class TestPacketProtector: PacketProtector {
    /// The AEAD key stand-in; changes on key update.
    public let key: UInt64
    /// The header-protection key stand-in; survives key updates (RFC 9001 §6).
    public let headerKey: UInt64

    /// Creates a protector from two secrets.
    public init(key: UInt64, headerKey: UInt64) {
        self.key = key
        self.headerKey = headerKey
    }

    public var tagLength: Int { 16 }
    public var sampleLength: Int { 16 }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// XORs `buffer[range]` with the keystream for `packetNumber` and returns a checksum of the ciphertext.
    private func crypt(
        _ buffer: UnsafeMutableRawBufferPointer,
        range: Range<Int>,
        packetNumber: UInt64,
        encrypting: Bool,
        checksum: inout (UInt64, UInt64)
    ) {
        let stream = Self.mix(key ^ packetNumber &* 0x1000_0000_01B3)
        var index = range.lowerBound
        var counter: UInt64 = 0
        var (a, b) = checksum
        while index < range.upperBound {
            let word = Self.mix(stream &+ counter)
            counter &+= 1
            var shift: UInt64 = 0
            let chunkEnd = min(index + 8, range.upperBound)
            while index < chunkEnd {
                let byte = buffer[index]
                let cipherByte = encrypting ? byte ^ UInt8(truncatingIfNeeded: word >> shift) : byte
                a = (a ^ UInt64(cipherByte)) &* 0x0000_0100_0000_01B3
                b = b &+ a
                buffer[index] = encrypting ? cipherByte : byte ^ UInt8(truncatingIfNeeded: word >> shift)
                shift += 8
                index += 1
            }
        }
        checksum = (a, b)
    }

    private func headerChecksum(
        _ buffer: UnsafeMutableRawBufferPointer,
        range: Range<Int>,
        packetNumber: UInt64
    ) -> (UInt64, UInt64) {
        var a: UInt64 = 0xCBF2_9CE4_8422_2325 ^ key
        var b: UInt64 = packetNumber
        for index in range {
            a = (a ^ UInt64(buffer[index])) &* 0x0000_0100_0000_01B3
            b = b &+ a
        }
        return (a, b)
    }

    public func seal(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        payloadEnd: Int
    ) throws(PacketProtectionError) {
        guard payloadEnd + 16 <= buffer.count, headerStart <= payloadStart, payloadStart <= payloadEnd else {
            throw .bufferTooSmall
        }
        var checksum = headerChecksum(buffer, range: headerStart..<payloadStart, packetNumber: packetNumber)
        crypt(buffer, range: payloadStart..<payloadEnd, packetNumber: packetNumber, encrypting: true, checksum: &checksum)
        let first = Self.mix(checksum.0), second = Self.mix(checksum.1 ^ key)
        for index in 0..<8 {
            buffer[payloadEnd + index] = UInt8(truncatingIfNeeded: first >> (8 * UInt64(index)))
            buffer[payloadEnd + 8 + index] = UInt8(truncatingIfNeeded: second >> (8 * UInt64(index)))
        }
    }

    public func open(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        end: Int
    ) throws(PacketProtectionError) -> Int {
        guard end <= buffer.count, headerStart <= payloadStart, payloadStart + 16 <= end else {
            throw .authenticationFailed
        }
        let payloadEnd = end - 16
        // Verify over the ciphertext before decrypting: compute the checksum without modifying first.
        var checksum = headerChecksum(buffer, range: headerStart..<payloadStart, packetNumber: packetNumber)
        var (a, b) = checksum
        for index in payloadStart..<payloadEnd {
            a = (a ^ UInt64(buffer[index])) &* 0x0000_0100_0000_01B3
            b = b &+ a
        }
        let first = Self.mix(a), second = Self.mix(b ^ key)
        for index in 0..<8 {
            guard buffer[payloadEnd + index] == UInt8(truncatingIfNeeded: first >> (8 * UInt64(index))),
                buffer[payloadEnd + 8 + index] == UInt8(truncatingIfNeeded: second >> (8 * UInt64(index)))
            else { throw .authenticationFailed }
        }
        checksum = (0, 0)
        crypt(buffer, range: payloadStart..<payloadEnd, packetNumber: packetNumber, encrypting: false, checksum: &checksum)
        return payloadEnd - payloadStart
    }

    public func headerProtectionMask(sample: UnsafeRawBufferPointer) throws(PacketProtectionError) -> HeaderProtectionMask {
        guard sample.count >= 16 else { throw .bufferTooSmall }
        var h = headerKey
        for index in 0..<16 {
            h = Self.mix(h ^ UInt64(sample[index]))
        }
        return HeaderProtectionMask(
            first: UInt8(truncatingIfNeeded: h),
            packetNumber: (
                UInt8(truncatingIfNeeded: h >> 8), UInt8(truncatingIfNeeded: h >> 16),
                UInt8(truncatingIfNeeded: h >> 24), UInt8(truncatingIfNeeded: h >> 32)
            )
        )
    }

    public func makeNextKeyPhase() throws(PacketProtectionError) -> any PacketProtector {
        TestPacketProtector(key: Self.mix(key ^ 0x6B75), headerKey: headerKey)
    }
}
