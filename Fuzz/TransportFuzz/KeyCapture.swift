import FerryTestSupport
import FerryTransport

// Key capture for the transport fuzzer: wraps TestCryptoProvider so the harness learns every key an endpoint
// installs for reading.
//
// TestPacketProtector is symmetric (the key that opens a packet also seals it), so holding an endpoint's read key
// for a level is enough to forge packets that endpoint accepts at that level (RFC 9001 §5). That is what lets
// fuzzed frames get past packet protection and reach the connection's state machines.

/// The read keys one endpoint installed, by encryption level; the latest connection's keys win.
///
/// `@unchecked Sendable` because `CryptoProvider` must be `Sendable`, but a fuzz run is single-threaded: the
/// endpoints, the provider and this ring are only touched from libFuzzer's calling thread.
final class KeyRing: @unchecked Sendable {
    /// Keys for packets the endpoint receives, keyed by `EncryptionLevel.rawValue` (0 Initial ... 2 1-RTT).
    var readKeys: [(any PacketProtector)?] = [nil, nil, nil]

    func reset() { readKeys = [nil, nil, nil] }
}

/// A `CryptoProvider` that delegates to `TestCryptoProvider` and records read keys in a `KeyRing`.
struct CapturingCryptoProvider: CryptoProvider {
    let inner: TestCryptoProvider
    let ring: KeyRing

    func makeClientSession(
        expectedPeer: EndpointID, alpns: [[UInt8]], localTransportParameters: [UInt8]
    ) throws(HandshakeError) -> any HandshakeSession {
        let session = try inner.makeClientSession(
            expectedPeer: expectedPeer, alpns: alpns, localTransportParameters: localTransportParameters)
        return CapturingHandshakeSession(inner: session, ring: ring)
    }

    func makeServerSession(localTransportParameters: [UInt8]) throws(HandshakeError) -> any HandshakeSession {
        CapturingHandshakeSession(
            inner: try inner.makeServerSession(localTransportParameters: localTransportParameters), ring: ring)
    }

    func makeInitialKeys(destinationConnectionID: [UInt8], side: Side) throws(PacketProtectionError) -> PacketKeyPair {
        let pair = try inner.makeInitialKeys(destinationConnectionID: destinationConnectionID, side: side)
        ring.readKeys[EncryptionLevel.initial.rawValue] = pair.remote
        return pair
    }
}

/// Forwards to a TestHandshakeSession and copies each `.readKeys` event into the ring.
final class CapturingHandshakeSession: HandshakeSession {
    let inner: any HandshakeSession
    let ring: KeyRing

    init(inner: any HandshakeSession, ring: KeyRing) {
        self.inner = inner
        self.ring = ring
    }

    func receive(cryptoData: UnsafeRawBufferPointer, level: EncryptionLevel) throws(HandshakeError) {
        try inner.receive(cryptoData: cryptoData, level: level)
    }

    func pollEvent() throws(HandshakeError) -> HandshakeEvent? {
        let event = try inner.pollEvent()
        if case .readKeys(let protector, let level)? = event { ring.readKeys[level.rawValue] = protector }
        return event
    }

    var isComplete: Bool { inner.isComplete }
    var peerTransportParameters: [UInt8]? { inner.peerTransportParameters }
    var negotiatedALPN: [UInt8]? { inner.negotiatedALPN }
    var peerIdentity: EndpointID? { inner.peerIdentity }
    var cipherSuite: CipherSuite? { inner.cipherSuite }
}
