@_exported import FerryWire

/// The small protocols the sans-IO transport uses for cryptography.
///
/// FerryTransport only sees these types, so tests can substitute a null cipher or a scripted handshake, and the
/// OpenSSL implementations stay inside FerryCrypto (design.md, "crypto behind small protocols").

/// A QUIC encryption level (RFC 9001 §4.1.4). Ferry does not implement 0-RTT, so there is no early-data level.
public enum EncryptionLevel: Int, Sendable, CaseIterable, Comparable {
    case initial = 0
    case handshake = 1
    case application = 2

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The TLS 1.3 cipher suites QUIC v1 supports (RFC 9001 §5.3). `TLS_AES_128_CCM_SHA256` is not offered.
public enum CipherSuite: UInt16, Sendable, CaseIterable {
    case aes128GCMSHA256 = 0x1301
    case aes256GCMSHA384 = 0x1302
    case chacha20Poly1305SHA256 = 0x1303
}

/// The five bytes of a header-protection mask (RFC 9001 §5.4.1): one for the first byte, four for the packet
/// number. A fixed-size value, so computing it never allocates.
public struct HeaderProtectionMask: Sendable, Equatable {
    public var first: UInt8
    public var packetNumber: (UInt8, UInt8, UInt8, UInt8)

    public init(first: UInt8, packetNumber: (UInt8, UInt8, UInt8, UInt8)) {
        self.first = first
        self.packetNumber = packetNumber
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.first == rhs.first && lhs.packetNumber.0 == rhs.packetNumber.0 && lhs.packetNumber.1 == rhs.packetNumber.1
            && lhs.packetNumber.2 == rhs.packetNumber.2 && lhs.packetNumber.3 == rhs.packetNumber.3
    }
}

/// Packet protection for one direction at one encryption level: AEAD plus header protection (RFC 9001 §5).
///
/// Methods work in place on a caller-owned buffer so the send and receive paths do not allocate per packet.
/// Instances are used from one thread at a time (the connection's), so they may keep reusable OpenSSL contexts.
public protocol PacketProtector: AnyObject {
    /// The AEAD tag length in bytes (16 for every QUIC v1 suite).
    var tagLength: Int { get }

    /// How many bytes of ciphertext header protection samples (RFC 9001 §5.4.2): 16.
    var sampleLength: Int { get }

    /// Encrypts `buffer[payloadStart..<payloadEnd]` in place and writes the tag at `payloadEnd`.
    ///
    /// `buffer[headerStart..<payloadStart]` is the associated data (the unprotected header). The buffer must have at
    /// least `tagLength` bytes after `payloadEnd`.
    func seal(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        payloadEnd: Int
    ) throws(PacketProtectionError)

    /// Decrypts `buffer[payloadStart..<end]` (ciphertext followed by the tag) in place.
    ///
    /// Returns the plaintext length. Throws `.authenticationFailed` when the tag does not verify; the caller then
    /// drops the packet (RFC 9001 §5.5 and §9.5).
    func open(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        end: Int
    ) throws(PacketProtectionError) -> Int

    /// Computes the header-protection mask from a `sampleLength`-byte ciphertext sample (RFC 9001 §5.4).
    func headerProtectionMask(sample: UnsafeRawBufferPointer) throws(PacketProtectionError) -> HeaderProtectionMask

    /// Derives the next key phase's protector (RFC 9001 §6): new AEAD key and IV from "quic ku", same
    /// header-protection key.
    func makeNextKeyPhase() throws(PacketProtectionError) -> any PacketProtector
}

/// Why packet protection failed.
public enum PacketProtectionError: Error, Sendable, Equatable {
    /// The AEAD tag did not verify: drop the packet.
    case authenticationFailed
    /// The buffer was too small for the requested operation.
    case bufferTooSmall
    /// The crypto library reported an internal failure.
    case cryptoFailure(String)
}

/// Packet protection for both directions at one encryption level.
public struct PacketKeyPair {
    /// Protects packets this endpoint sends.
    public var local: any PacketProtector
    /// Removes protection from packets this endpoint receives.
    public var remote: any PacketProtector

    public init(local: any PacketProtector, remote: any PacketProtector) {
        self.local = local
        self.remote = remote
    }
}

/// Something a `HandshakeSession` asks the transport to do.
public enum HandshakeEvent {
    /// Send these bytes in CRYPTO frames at `level`, after any bytes emitted earlier at that level.
    case cryptoData([UInt8], level: EncryptionLevel)
    /// Keys for `level` are available. Either direction may arrive first; the other follows in a later event.
    /// Per RFC 9001 §4.1.4 the server's application write key can appear before its handshake completes.
    case writeKeys(any PacketProtector, level: EncryptionLevel)
    case readKeys(any PacketProtector, level: EncryptionLevel)
    /// The TLS handshake completed. Peer transport parameters, ALPN and peer identity are now available.
    case complete
}

/// A TLS failure, carrying the TLS alert that maps to QUIC `CRYPTO_ERROR` 0x0100 + alert (RFC 9001 §4.8).
public struct HandshakeError: Error, Sendable, Equatable {
    /// The TLS alert description code (RFC 8446 §6), e.g. 40 handshake_failure, 42 bad_certificate,
    /// 120 no_application_protocol.
    public var alert: UInt8
    /// Human-readable detail for logs and the CONNECTION_CLOSE reason phrase.
    public var reason: String

    public init(alert: UInt8, reason: String) {
        self.alert = alert
        self.reason = reason
    }

    /// The QUIC transport error code for this alert (RFC 9001 §4.8).
    public var quicErrorCode: UInt64 { 0x0100 + UInt64(alert) }

    public static let handshakeFailure: UInt8 = 40
    public static let badCertificate: UInt8 = 42
    public static let internalError: UInt8 = 80
    public static let noApplicationProtocol: UInt8 = 120
    public static let unexpectedMessage: UInt8 = 10
    public static let decodeError: UInt8 = 50
    public static let missingExtension: UInt8 = 109
}

/// One TLS 1.3 handshake as QUIC drives it (RFC 9001 §4): CRYPTO bytes in, CRYPTO bytes and keys out.
///
/// The transport feeds each level's CRYPTO stream in order, then drains `pollEvent()` until it returns nil.
/// A client session produces its ClientHello on the first `pollEvent()` call.
public protocol HandshakeSession: AnyObject {
    /// Feeds contiguous, in-order CRYPTO stream bytes received at `level`.
    func receive(cryptoData: UnsafeRawBufferPointer, level: EncryptionLevel) throws(HandshakeError)

    /// The next thing the transport must do, or nil when there is nothing more until more input arrives.
    func pollEvent() throws(HandshakeError) -> HandshakeEvent?

    /// Whether the TLS handshake has completed on this side.
    var isComplete: Bool { get }

    /// The peer's encoded transport parameters (extension 0x39), once received.
    var peerTransportParameters: [UInt8]? { get }

    /// The negotiated ALPN protocol, once the handshake is complete.
    var negotiatedALPN: [UInt8]? { get }

    /// The peer's endpoint identity from its certificate, once verified.
    var peerIdentity: EndpointID? { get }

    /// The negotiated cipher suite, once known.
    var cipherSuite: CipherSuite? { get }
}

/// Creates handshake sessions and Initial keys. The transport holds one per endpoint.
public protocol CryptoProvider: Sendable {
    /// Starts a client handshake to a peer that must prove `expectedPeer`'s key, offering `alpns` in preference
    /// order and sending `localTransportParameters` in extension 0x39.
    func makeClientSession(
        expectedPeer: EndpointID,
        alpns: [[UInt8]],
        localTransportParameters: [UInt8]
    ) throws(HandshakeError) -> any HandshakeSession

    /// Starts a server handshake that accepts the ALPNs it was configured with.
    func makeServerSession(localTransportParameters: [UInt8]) throws(HandshakeError) -> any HandshakeSession

    /// Derives Initial packet protection from the client's first destination connection ID (RFC 9001 §5.2).
    func makeInitialKeys(destinationConnectionID: [UInt8], side: Side) throws(PacketProtectionError) -> PacketKeyPair
}
