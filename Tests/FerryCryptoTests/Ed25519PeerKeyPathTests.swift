import COpenSSL
import XCTest

@testable import FerryCrypto

/// Peer Ed25519 keys take the engine path (built-in decoder, libsodium verification), and that path is still a
/// real signature check: a corrupted CertificateVerify fails the handshake in either direction (RFC 8446 §4.4.3).
final class Ed25519PeerKeyPathTests: XCTestCase {
    let alpn = Array("ferry/1".utf8)

    /// Runs `body` with a fresh identity, its certificate parsed as a peer's certificate is, and that
    /// certificate's key (owned by the certificate, which is freed afterwards).
    func withPeerCertificate(
        _ body: (_ identity: EndpointIdentity, _ certificate: OpaquePointer, _ key: OpaquePointer) throws -> Void
    ) throws {
        XCTAssertTrue(Ed25519PeerKeyPath.isActive)
        let identity = EndpointIdentity.generate()
        let der = try identity.makeSelfSignedCertificate()
        let certificate = try XCTUnwrap(der.withUnsafeBufferPointer { bytes -> OpaquePointer? in
            var cursor = bytes.baseAddress
            return d2i_X509(nil, &cursor, bytes.count)
        })
        defer { X509_free(certificate) }
        try body(identity, certificate, try XCTUnwrap(X509_get0_pubkey(certificate)))
    }

    /// EVP_DigestVerify with `key`, as OpenSSL checks a CertificateVerify.
    func digestVerify(key: OpaquePointer, signature: [UInt8], message: [UInt8]) throws -> Int32 {
        let context = try XCTUnwrap(EVP_MD_CTX_new())
        defer { EVP_MD_CTX_free(context) }
        XCTAssertEqual(EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, key, nil), 1)
        let result = EVP_DigestVerify(context, signature, signature.count, message, message.count)
        ERR_clear_error()
        return result
    }

    func testCertificateKeysAreDecodedWithoutTheProviderLookup() throws {
        try withPeerCertificate { identity, certificate, key in
            XCTAssertNil(EVP_PKEY_get0_provider(key), "an engine-claimed key is a legacy (non-provider) key")
            XCTAssertEqual(EVP_PKEY_get_base_id(key), EVP_PKEY_ED25519)
            var raw = [UInt8](repeating: 0, count: 32)
            var rawLength = raw.count
            XCTAssertEqual(EVP_PKEY_get_raw_public_key(key, &raw, &rawLength), 1)
            XCTAssertEqual(raw, identity.id.rawValue)
            XCTAssertEqual(X509_verify(certificate, key), 1, "the self-signature verifies on the engine path")
        }
    }

    func testEngineVerificationAcceptsOnlyTheGenuineSignature() throws {
        try withPeerCertificate { identity, _, key in
            let message = Array(repeating: UInt8(0x20), count: 64) + Array("TLS 1.3, client CertificateVerify".utf8)
                + [0] + Array(repeating: UInt8(7), count: 32)
            let signature = identity.sign(message)
            XCTAssertEqual(try digestVerify(key: key, signature: signature, message: message), 1)

            var flipped = signature
            flipped[10] ^= 0x01
            XCTAssertNotEqual(try digestVerify(key: key, signature: flipped, message: message), 1)
            var otherMessage = message
            otherMessage[message.count - 1] ^= 0x01
            XCTAssertNotEqual(try digestVerify(key: key, signature: signature, message: otherMessage), 1)
            let foreign = EndpointIdentity.generate().sign(message)
            XCTAssertNotEqual(try digestVerify(key: key, signature: foreign, message: message), 1)
            XCTAssertNotEqual(try digestVerify(key: key, signature: Array(signature.dropLast()), message: message), 1)
            XCTAssertNotEqual(try digestVerify(key: key, signature: signature + [0], message: message), 1)
        }
    }

    /// Flips one bit in the signature of the CertificateVerify message (type 15) in `flight`.
    func corruptCertificateVerify(in flight: [UInt8]) throws -> [UInt8] {
        var bytes = flight
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            if bytes[offset] == 15 {
                // body: signature scheme (2), signature length (2), signature
                let signatureStart = offset + 4 + 4
                XCTAssertLessThan(signatureStart + 8, offset + 4 + length)
                bytes[signatureStart + 8] ^= 0x01
                return bytes
            }
            offset += 4 + length
        }
        XCTFail("no CertificateVerify in the flight")
        return bytes
    }

    /// Runs a handshake up to the point where one side checks the other's corrupted CertificateVerify, and returns
    /// the error it failed with.
    func certificateVerifyFailure(corruptingClientSignature: Bool) throws -> HandshakeError? {
        let providers = try TLSProviders(alpn: alpn)
        let client = try providers.makeClientSession()
        let server = try providers.makeServerSession()
        let clientHello = try drainCryptoData(client)
        try deliver(clientHello[.initial] ?? [], at: .initial, to: server)
        let serverFlight = try drainCryptoData(server)
        try deliver(serverFlight[.initial] ?? [], at: .initial, to: client)
        _ = try drainCryptoData(client)  // the keys; the client writes nothing at Initial after the ClientHello
        let serverHandshake = try XCTUnwrap(serverFlight[.handshake])
        guard corruptingClientSignature else {
            return handshakeError(
                receiving: try corruptCertificateVerify(in: serverHandshake), at: .handshake, in: client)
        }
        try deliver(serverHandshake, at: .handshake, to: client)
        let clientFlight = try XCTUnwrap(try drainCryptoData(client)[.handshake])
        return handshakeError(
            receiving: try corruptCertificateVerify(in: clientFlight), at: .handshake, in: server)
    }

    func deliver(_ bytes: [UInt8], at level: EncryptionLevel, to session: any HandshakeSession) throws {
        try bytes.withUnsafeBytes { try session.receive(cryptoData: $0, level: level) }
    }

    func testCorruptedServerCertificateVerifyFailsTheClient() throws {
        let error = try XCTUnwrap(try certificateVerifyFailure(corruptingClientSignature: false))
        XCTAssertEqual(error.alert, 51, "decrypt_error (RFC 8446 §4.4.3): \(error.reason)")
        XCTAssertTrue(error.reason.contains("bad signature"), error.reason)
    }

    func testCorruptedClientCertificateVerifyFailsTheServer() throws {
        let error = try XCTUnwrap(try certificateVerifyFailure(corruptingClientSignature: true))
        XCTAssertEqual(error.alert, 51, "decrypt_error (RFC 8446 §4.4.3): \(error.reason)")
        XCTAssertTrue(error.reason.contains("bad signature"), error.reason)
    }
}
