import CFerryShim
import COpenSSL

/// The C callbacks OpenSSL calls during `SSL_do_handshake`, each finding its session through ex_data.
extension OpenSSLHandshakeSession {
    // MARK: Secrets

    /// Key-log callback: "LABEL <client random hex> <secret hex>" lines carry the traffic secrets (RFC 9001 §5.1).
    static func keyLogCallback(ssl: OpaquePointer?, line: UnsafePointer<CChar>?) {
        guard let line, let session = session(of: ssl) else { return }
        let text = UnsafeBufferPointer(start: line, count: strlen(line))
        let fields = text.split(separator: CChar(UInt8(ascii: " ")), omittingEmptySubsequences: true)
        guard fields.count == 3 else { return }
        let label = String(decoding: fields[0].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let level: EncryptionLevel
        let isClientSecret: Bool
        switch label {
        case "CLIENT_HANDSHAKE_TRAFFIC_SECRET": (level, isClientSecret) = (.handshake, true)
        case "SERVER_HANDSHAKE_TRAFFIC_SECRET": (level, isClientSecret) = (.handshake, false)
        case "CLIENT_TRAFFIC_SECRET_0": (level, isClientSecret) = (.application, true)
        case "SERVER_TRAFFIC_SECRET_0": (level, isClientSecret) = (.application, false)
        default: return
        }
        guard var secret = decodeHex(fields[2]) else {
            session.callbackFailure = HandshakeError(
                alert: HandshakeError.internalError, reason: "malformed key-log line for \(label)")
            return
        }
        session.installSecret(secret, level: level, isClientSecret: isClientSecret)
        for index in secret.indices { secret[index] = 0 }
    }

    private static func decodeHex(_ text: Slice<UnsafeBufferPointer<CChar>>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: CChar) -> UInt8? {
            let value = UInt8(bitPattern: c)
            switch value {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return value - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return value - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return value - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    // MARK: Messages

    /// Handshake message types QUIC forbids (RFC 8446 §4).
    static let keyUpdateMessageType: UInt8 = 24
    static let endOfEarlyDataMessageType: UInt8 = 5

    /// Message callback: outgoing handshake messages become CRYPTO data; outgoing alerts become errors;
    /// incoming messages QUIC forbids fail the handshake.
    static func messageCallback(
        isWrite: Bool,
        contentType: Int32,
        buffer: UnsafeRawPointer?,
        length: Int,
        ssl: OpaquePointer?
    ) {
        guard let buffer, let session = session(of: ssl) else { return }
        guard isWrite else {
            // QUIC forbids TLS KeyUpdate and EndOfEarlyData (RFC 9001 §6, §8.3): reject them before OpenSSL acts.
            if contentType == SSL3_RT_HANDSHAKE, length >= 1 {
                let messageType = buffer.load(as: UInt8.self)
                if messageType == keyUpdateMessageType || messageType == endOfEarlyDataMessageType {
                    session.callbackFailure = HandshakeError(
                        alert: HandshakeError.unexpectedMessage,
                        reason: "TLS handshake message type \(messageType) is forbidden in QUIC (RFC 9001 §6, §8.3)")
                }
            }
            return
        }
        switch contentType {
        case SSL3_RT_HANDSHAKE:
            session.emitHandshakeMessage(UnsafeRawBufferPointer(start: buffer, count: length))
        case SSL3_RT_ALERT where length >= 2:
            session.noteSentAlert(buffer.load(fromByteOffset: 1, as: UInt8.self))
        default:
            break
        }
    }

    // MARK: Transport parameters (RFC 9001 §8.2)

    /// Supplies our transport parameters for the ClientHello or EncryptedExtensions.
    static func addTransportParametersCallback(
        ssl: OpaquePointer?,
        out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
        outLength: UnsafeMutablePointer<Int>?,
        alert: UnsafeMutablePointer<Int32>?
    ) -> Int32 {
        guard let out, let outLength, let session = session(of: ssl) else {
            alert?.pointee = SSL_AD_INTERNAL_ERROR
            return -1
        }
        guard session.sendsTransportParameters else { return 0 }
        out.pointee = UnsafePointer(session.localTransportParameters.baseAddress)
        outLength.pointee = session.localTransportParameters.count
        return 1
    }

    /// Stores the peer's transport parameters; decoding them is the transport's job.
    static func parseTransportParametersCallback(
        ssl: OpaquePointer?,
        input: UnsafePointer<UInt8>?,
        inputLength: Int,
        alert: UnsafeMutablePointer<Int32>?
    ) -> Int32 {
        guard let session = session(of: ssl) else {
            alert?.pointee = SSL_AD_INTERNAL_ERROR
            return 0
        }
        session.peerTransportParameters = Array(UnsafeBufferPointer(start: input, count: inputLength))
        return 1
    }

    // MARK: Server: ClientHello checks and ALPN

    /// Rejects a ClientHello without quic_transport_parameters (missing_extension, RFC 9001 §8.2) or without
    /// ALPN (no_application_protocol, RFC 9001 §8.1) before any work is done for it.
    static func clientHelloCallback(ssl: OpaquePointer?, alert: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let ssl, let session = session(of: ssl) else {
            alert?.pointee = SSL_AD_INTERNAL_ERROR
            return SSL_CLIENT_HELLO_ERROR
        }
        var data: UnsafePointer<UInt8>?
        var length = 0
        guard SSL_client_hello_get0_ext(ssl, transportParametersExtension, &data, &length) == 1 else {
            session.callbackFailure = HandshakeError(
                alert: HandshakeError.missingExtension,
                reason: "the ClientHello has no quic_transport_parameters extension (RFC 9001 §8.2)")
            alert?.pointee = Int32(HandshakeError.missingExtension)
            return SSL_CLIENT_HELLO_ERROR
        }
        guard ALPNSelection.clientHelloOffersALPN(ssl) else {
            session.callbackFailure = ALPNSelection.missingALPN(rule: "RFC 9001 §8.1")
            alert?.pointee = Int32(HandshakeError.noApplicationProtocol)
            return SSL_CLIENT_HELLO_ERROR
        }
        return SSL_CLIENT_HELLO_SUCCESS
    }

    /// Picks the first protocol in the client's list that this server accepts (RFC 7301 §3.2).
    static func selectALPNCallback(
        ssl: OpaquePointer?,
        out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
        outLength: UnsafeMutablePointer<UInt8>?,
        input: UnsafePointer<UInt8>?,
        inputLength: UInt32
    ) -> Int32 {
        guard let out, let outLength, let input, let session = session(of: ssl) else {
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        let (result, failure) = ALPNSelection.select(
            out: out, outLength: outLength, input: input, inputLength: inputLength, accepted: session.acceptedALPNs)
        if let failure { session.callbackFailure = failure }
        return result
    }

    // MARK: Certificates

    /// Replaces X.509 path validation with `PeerCertificateCheck` (plus QUIC's transport-parameter check).
    static func verifyCertificateCallback(storeContext: OpaquePointer?) -> Int32 {
        PeerCertificateCheck.finishVerifyCallback(storeContext: storeContext) { ssl, certificate in
            guard let session = session(of: ssl) else { return .noSession }
            if let error = session.verifyPeerCertificate(certificate) {
                session.callbackFailure = error
                return .rejected
            }
            return .accepted
        }
    }

    /// Checks the peer's leaf certificate; returns the failure, or nil after recording `certifiedPeer`.
    func verifyPeerCertificate(_ certificate: OpaquePointer?) -> HandshakeError? {
        if side == .client, peerTransportParameters == nil {
            // EncryptedExtensions precede the Certificate, so the server's parameters must be here by now.
            return HandshakeError(
                alert: HandshakeError.missingExtension,
                reason: "the server sent no quic_transport_parameters extension (RFC 9001 §8.2)")
        }
        do {
            certifiedPeer = try PeerCertificateCheck.certifiedKey(of: certificate, expectedPeer: expectedPeer)
            return nil
        } catch {
            return error
        }
    }
}
