/// Packet "protection" that encrypts nothing: for fast, deterministic transport tests.
///
/// The payload stays plaintext and the 16-byte tag is all zeros, which `open` checks, so a simulated network
/// that corrupts a tag byte is noticed as `.authenticationFailed`. The header-protection mask is all zeros, so
/// headers stay readable in test traces. Never use it on a real network.
public final class NullPacketProtector: PacketProtector {
    /// 16, like every real QUIC v1 AEAD, so packet sizes match production.
    public var tagLength: Int { 16 }
    /// 16, like every real QUIC v1 header-protection scheme.
    public var sampleLength: Int { 16 }

    /// Creates a null protector.
    public init() {}

    /// Leaves the payload as is and writes a zero tag after it.
    public func seal(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        payloadEnd: Int
    ) throws(PacketProtectionError) {
        guard headerStart >= 0, headerStart <= payloadStart, payloadStart <= payloadEnd,
            payloadEnd <= buffer.count - tagLength
        else { throw .bufferTooSmall }
        for index in payloadEnd..<(payloadEnd + tagLength) { buffer[index] = 0 }
    }

    /// Checks the zero tag and returns the payload length.
    public func open(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        end: Int
    ) throws(PacketProtectionError) -> Int {
        guard headerStart >= 0, headerStart <= payloadStart, end <= buffer.count else { throw .bufferTooSmall }
        guard end - payloadStart >= tagLength else { throw .authenticationFailed }
        for index in (end - tagLength)..<end where buffer[index] != 0 { throw .authenticationFailed }
        return end - payloadStart - tagLength
    }

    /// An all-zero mask: header protection becomes a no-op.
    public func headerProtectionMask(sample: UnsafeRawBufferPointer) throws(PacketProtectionError)
        -> HeaderProtectionMask
    {
        guard sample.count >= sampleLength else { throw .bufferTooSmall }
        return HeaderProtectionMask(first: 0, packetNumber: (0, 0, 0, 0))
    }

    /// Another null protector (key updates change nothing observable).
    public func makeNextKeyPhase() throws(PacketProtectionError) -> any PacketProtector {
        NullPacketProtector()
    }
}
