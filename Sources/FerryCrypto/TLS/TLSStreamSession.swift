import CFerryShim
import COpenSSL

/// The ex_data slot where each stream `SSL` keeps an unretained pointer to its `TLSStreamSession`.
///
/// A slot of its own, not QUIC's `openSSLSessionExDataIndex`: a callback reads back the type it expects, and the
/// two session types never share an `SSL_CTX`, but separate slots make a mix-up impossible rather than unlikely.
let tlsStreamSessionExDataIndex: Int32 = ferry_SSL_get_ex_new_index()

/// A sans-IO TLS 1.3 session over a byte stream, authenticated like a Ferry QUIC connection.
///
/// The relay's TLS-over-TCP fallback needs ordinary TLS (RFC 8446), not QUIC's handshake profile: records on a
/// reliable stream, no quic_transport_parameters extension. Authentication is exactly the QUIC path's
/// (`PeerCertificateCheck`): both sides present self-signed Ed25519 certificates, the client requires the server's
/// key to equal the id it dialed, and the server requires a client certificate and learns the client's id from it.
/// The client offers one ALPN protocol and the server accepts only that one (RFC 7301); a mismatch fails the
/// handshake with no_application_protocol (120).
///
/// The session does no I/O: OpenSSL reads from and writes to memory BIOs. The caller feeds bytes from the network
/// with `receive(_:)`, sends whatever `takeCiphertext()` returns, encrypts with `write(_:)` and collects decrypted
/// bytes with `takePlaintext()`. A client calls `start()` first to produce its ClientHello.
///
/// Memory is bounded as follows:
/// - Decrypted bytes waiting for `takePlaintext()` never exceed `plaintextBufferLimit` (four full records, 64 KiB);
///   OpenSSL itself holds at most one more decrypted record. When the buffer is full, `receive(_:)` leaves the
///   remaining records encrypted, and each `takePlaintext()` decrypts the next batch, so a caller that takes
///   plaintext until it gets an empty array has drained everything it received.
/// - Ciphertext passed to `receive(_:)` and not yet decrypted, plaintext written before the handshake completes,
///   and ciphertext not yet taken are kept whole: each is bounded by what the caller hands in before it takes the
///   output (a caller that takes after every call holds at most one partial record of ciphertext between calls).
///
/// Once a call fails, the session is dead: `failure` holds the error and every later `receive`, `write` and
/// `start` throws it again. Alerts OpenSSL sends on failure are still in `takeCiphertext()`, so the caller can
/// forward them before closing the connection.
///
/// Not thread-safe: drive it from one thread at a time. OpenSSL's callbacks run synchronously inside the calls
/// this class makes, which is what keeps the unretained pointer in ex_data valid.
public final class TLSStreamSession {
    /// Which end of the handshake this session plays.
    public enum Role: Sendable, Hashable {
        /// The dialing side; the handshake fails unless the server proves `expectedPeer`'s key.
        case client(expectedPeer: EndpointID)
        /// The accepting side; any peer with a valid self-signed Ed25519 certificate is accepted, and `peerID`
        /// says which one it was.
        case server
    }

    /// The most decrypted bytes held for `takePlaintext()`: four full TLS records (RFC 8446 §5.1: 2^14 bytes).
    public static let plaintextBufferLimit = 4 * TLSRecordFramer.maximumFragmentLength

    /// This session's role.
    public let role: Role
    /// The application protocol the client offers and the server requires (wire form).
    let alpn: [UInt8]
    /// The `SSL` object; internal so tests can alter a session's configuration before it starts.
    let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer

    /// Whether the handshake has completed: the peer's certificate was checked and its CertificateVerify and
    /// Finished verified (RFC 8446 §4.4).
    ///
    /// A client completes one flight before the server has judged the client's certificate; if the server
    /// rejects it, the client learns it from the alert, which a later `receive(_:)` throws.
    public private(set) var isHandshakeComplete = false
    /// Whether the peer sent close_notify (RFC 8446 §6.1): it will send no more data. Bytes received afterwards
    /// are ignored. Writing is still possible until `close()`.
    public private(set) var isClosedByPeer = false
    /// The error the session failed with, if it failed.
    ///
    /// `receive`, `write` and `start` throw it; this property also reports a failure found while
    /// `takePlaintext()`, which cannot throw, decrypted records left queued by an earlier `receive`.
    public private(set) var failure: HandshakeError?

    /// A failure decided inside a callback; it explains the outcome better than OpenSSL's generic error.
    var callbackFailure: HandshakeError?
    /// The key from the peer's certificate once the certificate check passed; published as `peerID` only when
    /// the handshake completes, i.e. after CertificateVerify proved possession of the key (RFC 8446 §4.4.3).
    var certifiedPeer: EndpointID?
    /// The first alert OpenSSL sent, and the first the peer sent (close_notify excluded), from the message callback.
    private var sentAlert: UInt8?
    private var receivedAlert: UInt8?
    private var hasStarted = false
    private var isCloseRequested = false
    /// Application data written before the handshake completed; encrypted when it does.
    private var pendingWrites: [UInt8] = []
    /// Decrypted application data not yet taken.
    private var plaintext: [UInt8] = []

    /// The id the server must prove (client sessions only).
    var expectedPeer: EndpointID? {
        if case .client(let expectedPeer) = role { return expectedPeer }
        return nil
    }

    /// The authenticated peer, once the handshake is complete.
    public var peerID: EndpointID? { isHandshakeComplete ? certifiedPeer : nil }

    /// Creates a session presenting `identity`'s certificate in `role`, offering (client) or requiring (server)
    /// the application protocol `alpn`.
    ///
    /// Throws internal_error (80) if `alpn` is empty or longer than 255 bytes (RFC 7301 §3.1) or OpenSSL rejects
    /// the configuration.
    public init(identity: EndpointIdentity, role: Role, alpn: String) throws(HandshakeError) {
        let alpnBytes = Array(alpn.utf8)
        do {
            try AcceptedALPNs.validate(alpnBytes)
        } catch {
            throw HandshakeError(alert: HandshakeError.internalError, reason: error.description)
        }
        let side: Side
        if case .client = role { side = .client } else { side = .server }
        ERR_clear_error()
        let context = try Self.makeContext(side: side, identity: identity)
        // The SSL takes its own reference to the context; this one is released when the initialiser returns.
        defer { SSL_CTX_free(context) }
        guard let ssl = SSL_new(context) else { throw .openSSL("SSL_new") }
        guard let readBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw .openSSL("BIO_new")
        }
        guard let writeBIO = BIO_new(BIO_s_mem()) else {
            BIO_free(readBIO)
            SSL_free(ssl)
            throw .openSSL("BIO_new")
        }
        // The SSL owns both BIOs from here on; SSL_free releases them.
        SSL_set_bio(ssl, readBIO, writeBIO)
        if side == .client {
            let wire = [UInt8(alpnBytes.count)] + alpnBytes
            // SSL_set_alpn_protos returns 0 on success, unlike nearly every other OpenSSL call.
            guard SSL_set_alpn_protos(ssl, wire, UInt32(wire.count)) == 0 else {
                SSL_free(ssl)
                throw .openSSL("SSL_set_alpn_protos")
            }
            SSL_set_connect_state(ssl)
        } else {
            SSL_set_accept_state(ssl)
        }
        self.role = role
        self.alpn = alpnBytes
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        // Unretained: the session owns the SSL, so a retained pointer would be a cycle.
        guard SSL_set_ex_data(ssl, tlsStreamSessionExDataIndex, Unmanaged.passUnretained(self).toOpaque()) == 1 else {
            throw .openSSL("SSL_set_ex_data")
        }
    }

    deinit {
        SSL_set_ex_data(ssl, tlsStreamSessionExDataIndex, nil)
        SSL_free(ssl)
    }

    /// The session that owns `ssl`, found through ex_data.
    static func session(of ssl: OpaquePointer?) -> TLSStreamSession? {
        guard let ssl, let pointer = SSL_get_ex_data(ssl, tlsStreamSessionExDataIndex) else { return nil }
        return Unmanaged<TLSStreamSession>.fromOpaque(pointer).takeUnretainedValue()
    }

    // MARK: Driving the session

    /// Starts the handshake: a client queues its ClientHello (take it with `takeCiphertext()`); a server does
    /// nothing until the ClientHello arrives. Calling it again has no effect.
    public func start() throws(HandshakeError) {
        if let failure { throw failure }
        guard case .client = role, !hasStarted else { return }
        try advance()
    }

    /// Feeds ciphertext from the network: drives the handshake, then decrypts application data into the
    /// plaintext buffer (up to `plaintextBufferLimit`; the rest waits for `takePlaintext()`).
    ///
    /// Throws the session's failure: a malformed or undecryptable record, a certificate that is not a valid
    /// self-signed Ed25519 one or (client) not the dialed id, an ALPN mismatch, or a fatal alert from the peer.
    /// The alert this side sent, if any, is in `takeCiphertext()`.
    public func receive(_ bytes: [UInt8]) throws(HandshakeError) {
        if let failure { throw failure }
        // Nothing may follow close_notify (RFC 8446 §6.1); holding it would only cost memory.
        guard !isClosedByPeer else { return }
        if !bytes.isEmpty {
            var written = 0
            let result = bytes.withUnsafeBytes { buffer in
                BIO_write_ex(readBIO, buffer.baseAddress, buffer.count, &written)
            }
            guard result == 1, written == bytes.count else { throw fail(.openSSL("BIO_write_ex")) }
        }
        try advance()
    }

    /// Takes the application data decrypted so far, emptying the buffer.
    ///
    /// When `receive(_:)` stopped at `plaintextBufferLimit`, this decrypts the next batch first, so call it until
    /// it returns an empty array. A failure found while doing so is kept in `failure` (and thrown by the next
    /// `receive`, `write` or `start`); the bytes authenticated before it are still returned.
    public func takePlaintext() -> [UInt8] {
        if plaintext.isEmpty, failure == nil, isHandshakeComplete {
            do {
                try readApplicationData()
            } catch {
                // Recorded in `failure` by `fail(_:)`.
            }
        }
        let taken = plaintext
        plaintext = []
        return taken
    }

    /// Encrypts application data; before the handshake completes it is queued and encrypted on completion.
    ///
    /// Data is never sent before the peer is authenticated, so a server does not use TLS 1.3's 0.5-RTT data.
    /// Throws the session's failure, or internal_error (80) after `close()`.
    public func write(_ bytes: [UInt8]) throws(HandshakeError) {
        if let failure { throw failure }
        guard !isCloseRequested else {
            throw HandshakeError(alert: HandshakeError.internalError, reason: "write after close()")
        }
        guard !bytes.isEmpty else { return }
        guard isHandshakeComplete else {
            pendingWrites += bytes
            return
        }
        try encrypt(bytes)
    }

    /// Takes the bytes to send on the network: handshake flights, records, alerts and close_notify.
    public func takeCiphertext() -> [UInt8] {
        let pending = BIO_ctrl_pending(writeBIO)
        guard pending > 0 else { return [] }
        var output = [UInt8](repeating: 0, count: pending)
        var read = 0
        let result = output.withUnsafeMutableBytes { buffer in
            BIO_read_ex(writeBIO, buffer.baseAddress, buffer.count, &read)
        }
        guard result == 1 else {
            ERR_clear_error()
            return []
        }
        if read < output.count { output.removeLast(output.count - read) }
        return output
    }

    /// Ends the sending direction with close_notify (RFC 8446 §6.1); later writes throw.
    ///
    /// Before the handshake completes, close_notify waits for it and follows any queued writes: a caller that
    /// writes then closes expects its data to arrive, and OpenSSL refuses `SSL_shutdown` mid-handshake anyway.
    /// If the handshake never completes nothing is sent; the caller just drops the connection. Receiving
    /// continues until the peer closes too (`isClosedByPeer`).
    public func close() {
        guard !isCloseRequested else { return }
        isCloseRequested = true
        if isHandshakeComplete, failure == nil { sendCloseNotify() }
    }

    // MARK: OpenSSL

    /// Runs the handshake while it is incomplete, then decrypts what is queued.
    private func advance() throws(HandshakeError) {
        if !isHandshakeComplete {
            hasStarted = true
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if let callbackFailure { throw fail(callbackFailure) }
            guard result == 1 else {
                let code = SSL_get_error(ssl, result)
                guard code == SSL_ERROR_WANT_READ else {
                    throw fail(failureFromOpenSSL("SSL_do_handshake", code: code))
                }
                ERR_clear_error()
                return
            }
            try finishHandshake()
        }
        try readApplicationData()
    }

    /// Checks what Ferry requires beyond TLS, then sends what waited for the handshake.
    private func finishHandshake() throws(HandshakeError) {
        var selected: UnsafePointer<UInt8>?
        var selectedLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &selected, &selectedLength)
        guard let selected, UnsafeBufferPointer(start: selected, count: Int(selectedLength)).elementsEqual(alpn) else {
            let name = String(decoding: alpn, as: UTF8.self)
            throw fail(HandshakeError(
                alert: HandshakeError.noApplicationProtocol,
                reason: "the handshake ended without the application protocol \(name)"))
        }
        guard certifiedPeer != nil else {
            throw fail(HandshakeError(
                alert: HandshakeError.badCertificate, reason: "the peer presented no verified Ed25519 certificate"))
        }
        isHandshakeComplete = true
        if !pendingWrites.isEmpty {
            let queued = pendingWrites
            pendingWrites = []
            try encrypt(queued)
        }
        if isCloseRequested { sendCloseNotify() }
    }

    /// Decrypts records into `plaintext` until OpenSSL needs more input, the peer closed, or the buffer holds
    /// `plaintextBufferLimit` bytes (OpenSSL then keeps the rest of the current record for the next call).
    private func readApplicationData() throws(HandshakeError) {
        while !isClosedByPeer, plaintext.count < Self.plaintextBufferLimit {
            // One record at most per call (SSL_read returns one record's data anyway), read into scratch space
            // so the plaintext buffer only grows by what was decrypted.
            let room = min(Self.plaintextBufferLimit - plaintext.count, TLSRecordFramer.maximumFragmentLength)
            ERR_clear_error()
            let result = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: room) { scratch -> Int32 in
                var read = 0
                let result = SSL_read_ex(ssl, scratch.baseAddress, room, &read)
                if result == 1 { plaintext.append(contentsOf: scratch[0..<min(read, room)]) }
                return result
            }
            if let callbackFailure { throw fail(callbackFailure) }
            if result == 1 { continue }
            let code = SSL_get_error(ssl, result)
            switch code {
            case SSL_ERROR_WANT_READ:
                ERR_clear_error()
                return
            case SSL_ERROR_ZERO_RETURN:
                ERR_clear_error()
                isClosedByPeer = true
                return
            default:
                throw fail(failureFromOpenSSL("SSL_read", code: code))
            }
        }
    }

    /// Encrypts `bytes` into the write BIO (which grows as needed, so OpenSSL never asks to retry).
    private func encrypt(_ bytes: [UInt8]) throws(HandshakeError) {
        ERR_clear_error()
        var written = 0
        let result = bytes.withUnsafeBytes { buffer in
            SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &written)
        }
        guard result == 1, written == bytes.count else {
            throw fail(failureFromOpenSSL("SSL_write", code: SSL_get_error(ssl, result)))
        }
    }

    /// Queues close_notify. `SSL_shutdown` returns 0 when ours is sent but the peer's is still to come, which is
    /// all a half-close needs.
    private func sendCloseNotify() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// The error to report after an OpenSSL call failed: a callback's verdict, else the peer's alert, else the
    /// alert OpenSSL sent, else OpenSSL's reason.
    private func failureFromOpenSSL(_ operation: String, code: Int32) -> HandshakeError {
        if let callbackFailure {
            ERR_clear_error()
            return callbackFailure
        }
        let detail = HandshakeError.openSSLErrorQueueText()
        if let receivedAlert {
            return HandshakeError(
                alert: receivedAlert, reason: "the peer sent alert \(HandshakeError.alertName(receivedAlert))" + detail)
        }
        if let sentAlert {
            return HandshakeError(
                alert: sentAlert, reason: "TLS alert \(HandshakeError.alertName(sentAlert)) sent" + detail)
        }
        if code == SSL_ERROR_ZERO_RETURN {
            return HandshakeError(
                alert: HandshakeError.handshakeFailure, reason: "the peer sent close_notify during the handshake")
        }
        return HandshakeError(alert: HandshakeError.internalError, reason: operation + " failed" + detail)
    }

    /// Records `error` as the session's final outcome and returns it for throwing.
    private func fail(_ error: HandshakeError) -> HandshakeError {
        if failure == nil { failure = error }
        return failure ?? error
    }

    /// Notes an alert seen in the message callback; only the first of each direction explains a failure.
    func noteAlert(_ description: UInt8, isSent: Bool) {
        if isSent {
            if sentAlert == nil { sentAlert = description }
        } else if receivedAlert == nil {
            receivedAlert = description
        }
    }
}
