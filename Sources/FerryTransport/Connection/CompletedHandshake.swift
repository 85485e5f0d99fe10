import FerryCrypto

/// What a finished server handshake leaves behind once its TLS session is released.
///
/// After the handshake is confirmed a server has no more use for its TLS session (RFC 9001 §4.1.2): QUIC forbids
/// TLS KeyUpdate (§6), a client sends no other post-handshake message, and Ferry issues no session tickets. The
/// session (an OpenSSL `SSL` with its buffers, certificates and key schedule) is the largest part of an idle
/// connection, so the server swaps it for this record of the results and frees it. Any further CRYPTO data is an
/// unexpected message (the connection closes with CRYPTO_ERROR 0x010a). Clients keep their session: servers of
/// other stacks send NewSessionTicket after the handshake.
final class CompletedHandshake: HandshakeSession {
    let peerIdentity: EndpointID?
    let negotiatedALPN: [UInt8]?
    let cipherSuite: CipherSuite?
    var isComplete: Bool { true }
    var peerTransportParameters: [UInt8]? { nil }

    init(of session: any HandshakeSession) {
        peerIdentity = session.peerIdentity
        negotiatedALPN = session.negotiatedALPN
        cipherSuite = session.cipherSuite
    }

    func receive(cryptoData: UnsafeRawBufferPointer, level: EncryptionLevel) throws(HandshakeError) {
        throw HandshakeError(
            alert: HandshakeError.unexpectedMessage,
            reason: "TLS message after the handshake was confirmed (a QUIC client sends none, RFC 9001 §6)")
    }

    func pollEvent() throws(HandshakeError) -> HandshakeEvent? { nil }
}
