import COpenSSL
import XCTest

@testable import FerryCrypto

/// The verified-certificate cache skips only the self-signature check, and only for byte-identical certificates:
/// a forged signature on a cached key is still rejected.
final class VerifiedCertificateCacheTests: XCTestCase {
    let alpn = Array("ferry/1".utf8)

    func parse(_ der: [UInt8]) throws -> OpaquePointer {
        try XCTUnwrap(der.withUnsafeBufferPointer { bytes -> OpaquePointer? in
            var cursor = bytes.baseAddress
            return d2i_X509(nil, &cursor, bytes.count)
        })
    }

    func testEncodingRoundTripsTheReceivedBytes() throws {
        let der = try EndpointIdentity.generate().makeSelfSignedCertificate()
        let certificate = try parse(der)
        defer { X509_free(certificate) }
        XCTAssertEqual(VerifiedCertificateCache.encoding(of: certificate), der)
    }

    func testLookupAndBoundedEviction() throws {
        let cache = VerifiedCertificateCache(capacity: 4)
        let ids = (0..<6).map { _ in EndpointIdentity.generate().id }
        for (index, id) in ids.enumerated() { cache.insert([UInt8(index)], certifying: id) }
        XCTAssertNil(cache.certifiedKey(of: [0]), "the oldest entries are dropped when full")
        XCTAssertEqual(cache.certifiedKey(of: [5]), ids[5])
        XCTAssertNil(cache.certifiedKey(of: [9]))
    }

    func testForgedSignatureIsRejectedAfterTheGenuineCertificateWasCached() throws {
        let peer = EndpointIdentity.generate()
        let der = try peer.makeSelfSignedCertificate()
        let provider = try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [alpn])
        let genuine = try parse(der)
        defer { X509_free(genuine) }
        for _ in 0..<2 {  // the second pass is served from the cache
            let server = try XCTUnwrap(
                try provider.makeServerSession(localTransportParameters: []) as? OpenSSLHandshakeSession)
            XCTAssertNil(server.verifyPeerCertificate(genuine))
            XCTAssertEqual(server.certifiedPeer, peer.id)
        }
        var forgedDER = der
        forgedDER[forgedDER.count - 1] ^= 0x01  // the last byte belongs to the signature
        let forged = try parse(forgedDER)
        defer { X509_free(forged) }
        let server = try XCTUnwrap(
            try provider.makeServerSession(localTransportParameters: []) as? OpenSSLHandshakeSession)
        XCTAssertEqual(server.verifyPeerCertificate(forged)?.alert, HandshakeError.badCertificate)
        XCTAssertNil(server.certifiedPeer)
    }
}
