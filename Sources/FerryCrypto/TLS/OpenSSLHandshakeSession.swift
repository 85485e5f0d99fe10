import CFerryShim
import COpenSSL

/// The ex_data slot where each `SSL` keeps an unretained pointer to its `OpenSSLHandshakeSession`.
///
/// OpenSSL's callbacks are plain C function pointers that cannot capture context; they find their session here.
let openSSLSessionExDataIndex: Int32 = ferry_SSL_get_ex_new_index()

/// One TLS 1.3 handshake over stock OpenSSL 3.0, translated to QUIC's CRYPTO streams (RFC 9001 §4).
///
/// OpenSSL runs an ordinary TLS handshake over a memory read BIO and a discarding write BIO:
/// - Outgoing handshake messages are taken from the message callback (before record protection) and emitted as
///   `.cryptoData` at the current write level; the records OpenSSL writes are thrown away.
/// - Traffic secrets come from the key-log callback and become packet protectors (RFC 9001 §5.1).
/// - Incoming CRYPTO bytes are re-framed as TLS records; above the Initial level they are encrypted with the
///   peer's traffic secret (`TLSRecordSealer`) so OpenSSL's record layer accepts them.
/// - Outgoing alerts become `HandshakeError`s, i.e. QUIC CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8).
/// This is the approach of nginx's and HAProxy's OpenSSL compatibility layers.
///
/// Not thread-safe: the owning connection drives it from one thread at a time. All callbacks run synchronously
/// inside `SSL_do_handshake`, called only from this class's methods, so the unretained pointer in ex_data is
/// always valid when used.
final class OpenSSLHandshakeSession: HandshakeSession {
    /// The quic_transport_parameters TLS extension code point (RFC 9001 §8.2).
    static let transportParametersExtension: UInt32 = 0x39

    let side: Side
    let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    /// The id the server must prove (client sessions only).
    let expectedPeer: EndpointID?
    /// Server sessions: the protocols this endpoint accepts, in preference order.
    let acceptedALPNs: [[UInt8]]
    /// Our transport parameters, kept at a stable address for the custom-extension add callback.
    let localTransportParameters: UnsafeMutableBufferPointer<UInt8>
    /// The allocation behind `localTransportParameters` (at least one byte, so it exists even when empty).
    private let parametersAllocation: UnsafeMutableBufferPointer<UInt8>

    /// Whether the quic_transport_parameters extension is sent; tests turn it off to check the peer's reaction.
    var sendsTransportParameters = true

    private var events: [HandshakeEvent] = []
    private var eventHead = 0
    private var hasStarted = false
    /// A sticky failure: once the handshake failed every later call reports it again.
    private var failure: HandshakeError?
    /// A failure decided inside a callback; it explains the outcome better than OpenSSL's generic error.
    var callbackFailure: HandshakeError?
    /// The alert OpenSSL sent, seen in the message callback.
    private(set) var sentAlert: UInt8?
    /// The level OpenSSL currently writes at: the level of its newest write secret.
    private var writeLevel: EncryptionLevel = .initial
    /// The level whose peer secret OpenSSL currently reads with.
    private var readLevel: EncryptionLevel = .initial
    /// Record protection for incoming bytes, per level (index = level raw value); nil at Initial.
    private var readSealers: [TLSRecordSealer?] = [nil, nil, nil]
    /// Peer secrets whose sealer is made on the first bytes at that level: the 1-RTT one is needed only for
    /// post-handshake messages (a NewSessionTicket from some peers; a Ferry peer sends none, and QUIC forbids
    /// KeyUpdate), so most handshakes skip its key derivation and cipher setup.
    private var pendingReadSecrets: [[UInt8]?] = [nil, nil, nil]
    /// Reused scratch space for framed records.
    private var recordBuffer: [UInt8] = []

    private(set) var isComplete = false
    var peerTransportParameters: [UInt8]?
    private(set) var negotiatedALPN: [UInt8]?
    /// The key from the peer's certificate once the certificate check passed; published as `peerIdentity` only
    /// when the handshake completes, i.e. after CertificateVerify proved possession of the key (RFC 8446 §4.4.3).
    var certifiedPeer: EndpointID?
    var peerIdentity: EndpointID? { isComplete ? certifiedPeer : nil }
    private(set) var cipherSuite: CipherSuite?

    /// Creates a session on `context` in the given role.
    ///
    /// For a client, `alpns` is the offered list in preference order; for a server, the accepted list.
    init(
        context: OpaquePointer,
        side: Side,
        expectedPeer: EndpointID?,
        alpns: [[UInt8]],
        localTransportParameters: [UInt8]
    ) throws(HandshakeError) {
        for alpn in alpns where alpn.isEmpty || alpn.count > 255 {
            throw HandshakeError(
                alert: HandshakeError.internalError, reason: "ALPN protocol ids must be 1...255 bytes (RFC 7301 §3.1)")
        }
        guard side == .server || !alpns.isEmpty else {
            throw HandshakeError(
                alert: HandshakeError.noApplicationProtocol, reason: "a QUIC client must offer ALPN (RFC 9001 §8.1)")
        }
        ERR_clear_error()
        guard let ssl = SSL_new(context) else { throw .openSSL("SSL_new") }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_null()) else {
            SSL_free(ssl)
            throw .openSSL("BIO_new")
        }
        // The SSL owns both BIOs from here on; SSL_free releases them.
        SSL_set_bio(ssl, readBIO, writeBIO)
        if side == .client {
            var wire: [UInt8] = []
            for alpn in alpns {
                wire.append(UInt8(alpn.count))
                wire += alpn
            }
            // SSL_set_alpn_protos returns 0 on success, unlike nearly every other OpenSSL call.
            guard SSL_set_alpn_protos(ssl, wire, UInt32(wire.count)) == 0 else {
                SSL_free(ssl)
                throw .openSSL("SSL_set_alpn_protos")
            }
            SSL_set_connect_state(ssl)
        } else {
            SSL_set_accept_state(ssl)
        }
        let parameters = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(localTransportParameters.count, 1))
        _ = parameters.initialize(from: localTransportParameters)
        self.side = side
        self.ssl = ssl
        self.readBIO = readBIO
        self.expectedPeer = expectedPeer
        self.acceptedALPNs = side == .server ? alpns : []
        self.parametersAllocation = parameters
        self.localTransportParameters = UnsafeMutableBufferPointer(
            rebasing: parameters[0..<localTransportParameters.count])
        // Unretained: the session owns the SSL, so a retained pointer would be a cycle.
        guard SSL_set_ex_data(ssl, openSSLSessionExDataIndex, Unmanaged.passUnretained(self).toOpaque()) == 1 else {
            throw .openSSL("SSL_set_ex_data")
        }
    }

    deinit {
        for index in pendingReadSecrets.indices { Self.erase(&pendingReadSecrets[index]) }
        SSL_set_ex_data(ssl, openSSLSessionExDataIndex, nil)
        SSL_free(ssl)
        parametersAllocation.deallocate()
    }

    /// The session that owns `ssl`, found through ex_data.
    static func session(of ssl: OpaquePointer?) -> OpenSSLHandshakeSession? {
        guard let ssl, let pointer = SSL_get_ex_data(ssl, openSSLSessionExDataIndex) else { return nil }
        return Unmanaged<OpenSSLHandshakeSession>.fromOpaque(pointer).takeUnretainedValue()
    }

    // MARK: HandshakeSession

    func receive(cryptoData: UnsafeRawBufferPointer, level: EncryptionLevel) throws(HandshakeError) {
        if let failure { throw failure }
        guard !cryptoData.isEmpty else { return }
        hasStarted = true
        guard level == readLevel else {
            throw fail(HandshakeError(
                alert: HandshakeError.unexpectedMessage,
                reason: "CRYPTO data at the \(level) level while TLS reads at the \(readLevel) level"))
        }
        recordBuffer.removeAll(keepingCapacity: true)
        if let sealer = try readSealer(for: level) {
            do {
                try sealer.appendProtectedRecords(of: cryptoData, to: &recordBuffer)
            } catch {
                throw fail(HandshakeError(alert: HandshakeError.internalError, reason: "record protection: \(error)"))
            }
        } else {
            TLSRecordFramer.appendPlaintextRecords(of: cryptoData, to: &recordBuffer)
        }
        let written = recordBuffer.withUnsafeBytes { bytes in
            BIO_write(readBIO, bytes.baseAddress, Int32(bytes.count))
        }
        guard written == Int32(recordBuffer.count) else { throw fail(.openSSL("BIO_write")) }
        if isComplete {
            try processPostHandshakeMessages()
        } else {
            try advanceHandshake()
        }
    }

    func pollEvent() throws(HandshakeError) -> HandshakeEvent? {
        if let failure { throw failure }
        if !hasStarted && side == .client {
            hasStarted = true
            try advanceHandshake()
        }
        guard eventHead < events.count else { return nil }
        let event = events[eventHead]
        eventHead += 1
        if eventHead == events.count {
            events.removeAll(keepingCapacity: true)
            eventHead = 0
        }
        return event
    }

    /// The record protection for incoming bytes at `level`, made from the pending secret on first use; nil at
    /// Initial.
    private func readSealer(for level: EncryptionLevel) throws(HandshakeError) -> TLSRecordSealer? {
        if let sealer = readSealers[level.rawValue] { return sealer }
        guard let secret = pendingReadSecrets[level.rawValue], let suite = cipherSuite else { return nil }
        defer { Self.erase(&pendingReadSecrets[level.rawValue]) }
        do {
            let sealer = try TLSRecordSealer(cipherSuite: suite, secret: secret)
            readSealers[level.rawValue] = sealer
            return sealer
        } catch {
            throw fail(HandshakeError(alert: HandshakeError.internalError, reason: "record protection: \(error)"))
        }
    }

    /// Overwrites a kept secret before dropping it.
    private static func erase(_ secret: inout [UInt8]?) {
        guard var bytes = secret else { return }
        secret = nil
        for index in bytes.indices { bytes[index] = 0 }
    }

    // MARK: Driving OpenSSL

    /// Runs `SSL_do_handshake` until it needs more input, collecting events from the callbacks.
    private func advanceHandshake() throws(HandshakeError) {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if let callbackFailure { throw fail(callbackFailure) }
        if result == 1 {
            try finishHandshake()
            return
        }
        let code = SSL_get_error(ssl, result)
        guard code == SSL_ERROR_WANT_READ else { throw fail(failureFromOpenSSL("SSL_do_handshake")) }
        ERR_clear_error()
    }

    /// Checks what QUIC requires beyond TLS, then reports completion.
    private func finishHandshake() throws(HandshakeError) {
        if let cipher = SSL_get_current_cipher(ssl) {
            cipherSuite = CipherSuite(rawValue: SSL_CIPHER_get_protocol_id(cipher))
        }
        var alpnPointer: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnPointer, &alpnLength)
        guard let alpnPointer, alpnLength > 0 else {
            throw fail(HandshakeError(
                alert: HandshakeError.noApplicationProtocol,
                reason: "the handshake ended without an application protocol (RFC 9001 §8.1)"))
        }
        negotiatedALPN = Array(UnsafeBufferPointer(start: alpnPointer, count: Int(alpnLength)))
        guard peerTransportParameters != nil else {
            throw fail(HandshakeError(
                alert: HandshakeError.missingExtension,
                reason: "the peer sent no quic_transport_parameters extension (RFC 9001 §8.2)"))
        }
        guard certifiedPeer != nil else {
            throw fail(HandshakeError(
                alert: HandshakeError.badCertificate, reason: "the peer presented no verified Ed25519 certificate"))
        }
        isComplete = true
        events.append(.complete)
    }

    /// Lets OpenSSL read post-handshake messages (none are expected: tickets are off and QUIC forbids KeyUpdate).
    private func processPostHandshakeMessages() throws(HandshakeError) {
        ERR_clear_error()
        var scratch: UInt8 = 0
        let result = SSL_read(ssl, &scratch, 1)
        if let callbackFailure { throw fail(callbackFailure) }
        if result > 0 {
            throw fail(HandshakeError(
                alert: HandshakeError.unexpectedMessage, reason: "TLS application data in a CRYPTO stream"))
        }
        let code = SSL_get_error(ssl, result)
        guard code == SSL_ERROR_WANT_READ else { throw fail(failureFromOpenSSL("SSL_read")) }
        ERR_clear_error()
    }

    /// The error to report after an OpenSSL call failed: a callback's verdict, else the alert OpenSSL sent.
    private func failureFromOpenSSL(_ operation: String) -> HandshakeError {
        if let callbackFailure {
            ERR_clear_error()
            return callbackFailure
        }
        let detail = HandshakeError.openSSLErrorQueueText()
        if let sentAlert {
            return HandshakeError(
                alert: sentAlert, reason: "TLS alert \(HandshakeError.alertName(sentAlert)) sent" + detail)
        }
        return HandshakeError(alert: HandshakeError.internalError, reason: operation + " failed" + detail)
    }

    /// Records `error` as the session's final outcome and returns it for throwing.
    private func fail(_ error: HandshakeError) -> HandshakeError {
        if failure == nil { failure = error }
        return failure ?? error
    }

    // MARK: Callback results

    /// Queues an outgoing handshake message at the current write level, merged with the previous one if possible.
    func emitHandshakeMessage(_ bytes: UnsafeRawBufferPointer) {
        if eventHead < events.count, case .cryptoData(var pending, let level) = events[events.count - 1],
            level == writeLevel
        {
            events[events.count - 1] = .complete  // drop the array reference so the append does not copy
            pending.append(contentsOf: bytes)
            events[events.count - 1] = .cryptoData(pending, level: level)
        } else {
            events.append(.cryptoData(Array(bytes), level: writeLevel))
        }
    }

    /// Notes an alert OpenSSL sent; the failing call turns it into the session's error.
    func noteSentAlert(_ description: UInt8) {
        if sentAlert == nil { sentAlert = description }
    }

    /// Installs a traffic secret reported by the key-log callback.
    func installSecret(_ secret: [UInt8], level: EncryptionLevel, isClientSecret: Bool) {
        guard callbackFailure == nil else { return }
        guard let suite = negotiatedCipherSuite() else {
            callbackFailure = HandshakeError(
                alert: HandshakeError.internalError, reason: "TLS derived a secret for an unsupported cipher suite")
            return
        }
        cipherSuite = suite
        let isWrite = (side == .client) == isClientSecret
        do {
            let protector = try makePacketProtector(cipherSuite: suite, secret: secret)
            if isWrite {
                writeLevel = level
                events.append(.writeKeys(protector, level: level))
            } else {
                Self.erase(&pendingReadSecrets[level.rawValue])
                pendingReadSecrets[level.rawValue] = secret
                readLevel = level
                events.append(.readKeys(protector, level: level))
            }
        } catch {
            callbackFailure = HandshakeError(
                alert: HandshakeError.internalError, reason: "deriving \(level) keys failed: \(error)")
        }
    }

    /// The suite OpenSSL negotiated: pending while the handshake runs, current afterwards.
    private func negotiatedCipherSuite() -> CipherSuite? {
        guard let cipher = SSL_get_pending_cipher(ssl) ?? SSL_get_current_cipher(ssl) else { return nil }
        return CipherSuite(rawValue: SSL_CIPHER_get_protocol_id(cipher))
    }
}
