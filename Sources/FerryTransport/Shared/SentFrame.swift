/// What a sent packet carried that matters after it is acknowledged or declared lost.
///
/// The recovery layer stores one list per in-flight packet. On loss, the connection hands each entry back to its
/// owner (streams, crypto streams, flow control, connection IDs) to schedule a retransmission of the *current*
/// state rather than resending stale bytes (RFC 9000 §13.3). On acknowledgement the owner can release buffers.
public enum SentFrame: Sendable, Equatable {
    /// STREAM data `offset ..< offset + length`, with FIN if `fin`.
    case stream(StreamID, offset: UInt64, length: Int, fin: Bool)
    /// CRYPTO data at an encryption level.
    case crypto(EncryptionLevelIndex, offset: UInt64, length: Int)
    case resetStream(StreamID)
    case stopSending(StreamID)
    case maxData
    case maxStreamData(StreamID)
    case maxStreams(bidirectional: Bool)
    case dataBlocked
    case streamDataBlocked(StreamID)
    case streamsBlocked(bidirectional: Bool)
    case newConnectionID(sequenceNumber: UInt64)
    case retireConnectionID(sequenceNumber: UInt64)
    case newToken
    case handshakeDone
    case ping
    /// An ACK frame; on acknowledgement the receiver may stop acknowledging packets below `largestAcknowledged`
    /// (RFC 9000 §13.2.4).
    case ack(largestAcknowledged: UInt64)
    case pathChallenge(UInt64)
    case pathResponse(UInt64)
    case datagram
    /// An OBSERVED_ADDRESS frame reporting the peer's address on path `pathID`; repeated on that path if lost
    /// while still current (draft-ietf-quic-address-discovery-00 §4.1).
    case observedAddress(pathID: UInt64, sequenceNumber: UInt64)
    /// An ADD_ADDRESS for a local candidate; repeated if lost while the candidate is current
    /// (draft-seemann-quic-nat-traversal-02 §4.6.1).
    case addAddress(sequenceNumber: UInt64)
    /// A REMOVE_ADDRESS; repeated if lost (§4.6.3).
    case removeAddress(sequenceNumber: UInt64)
    /// A PUNCH_ME_NOW offering local candidate `localSequence` paired with the peer's `pairedWith`; repeated if
    /// lost while its round runs (§4.6.2).
    case punchMeNow(round: UInt64, localSequence: UInt64, pairedWith: UInt64)
}

/// Encryption level as a raw index (0 Initial, 1 Handshake, 2 Application), so `SentFrame` stays independent of
/// FerryCrypto's enum in signatures that only need an array index.
public typealias EncryptionLevelIndex = Int
