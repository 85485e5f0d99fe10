import XCTest

@testable import FerryCrypto

/// Behaviour beyond the RFC vectors: forgery detection, key updates (RFC 9001 §6), every cipher suite, the TLS
/// record AEAD, the null protector and argument checking.
final class PacketProtectionTests: XCTestCase {
    private typealias Support = PacketProtectionTestSupport

    private func secret(_ suite: CipherSuite, seed: UInt8) -> [UInt8] {
        (0..<suite.hashAlgorithm.digestLength).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(seed)) }
    }

    /// A 1-RTT-like packet: short header with an 8-byte connection ID and a 2-byte packet number.
    private func shortHeader(packetNumber: UInt16) -> [UInt8] {
        [0x41, 1, 2, 3, 4, 5, 6, 7, 8, UInt8(packetNumber >> 8), UInt8(packetNumber & 0xff)]
    }

    private func payload(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) } }

    func testCipherSuiteParameters() {
        XCTAssertEqual(CipherSuite.aes128GCMSHA256.keyLength, 16)
        XCTAssertEqual(CipherSuite.aes256GCMSHA384.keyLength, 32)
        XCTAssertEqual(CipherSuite.chacha20Poly1305SHA256.keyLength, 32)
        XCTAssertEqual(CipherSuite.aes256GCMSHA384.hashAlgorithm, .sha384)
        XCTAssertEqual(CipherSuite.aes128GCMSHA256.hashAlgorithm, .sha256)
        XCTAssertEqual(CipherSuite.chacha20Poly1305SHA256.hashAlgorithm, .sha256)
        for suite in CipherSuite.allCases { XCTAssertEqual(suite.ivLength, 12) }
    }

    func testHKDFMatchesRFC5869TestCase1() throws {
        // RFC 5869 Appendix A.1 (SHA-256).
        let prk = try HKDF.extract(
            salt: Support.bytes("000102030405060708090a0b0c"),
            inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), hash: .sha256)
        XCTAssertEqual(Support.hex(prk), "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        let okm = try HKDF.expand(secret: prk, info: Support.bytes("f0f1f2f3f4f5f6f7f8f9"), length: 42, hash: .sha256)
        XCTAssertEqual(
            Support.hex(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        XCTAssertThrowsError(try HKDF.expand(secret: prk, info: [], length: 255 * 32 + 1, hash: .sha256))
    }

    func testRoundTripEverySuite() throws {
        for suite in CipherSuite.allCases {
            let sender = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 1))
            let receiver = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 1))
            for packetNumber: UInt16 in [0, 1, 300, 65_000] {
                let body = payload(1200 - 11 - 16)
                let protected = try Support.protect(
                    header: shortHeader(packetNumber: packetNumber), payload: body,
                    packetNumber: UInt64(packetNumber), packetNumberLength: 2, with: sender)
                XCTAssertEqual(protected.packet.count, 1200)
                XCTAssertNotEqual(Array(protected.packet[11..<(11 + body.count)]), body, "\(suite) must encrypt")
                let opened = try Support.unprotect(packet: protected.packet, packetNumberOffset: 9, with: receiver)
                XCTAssertEqual(opened.packetNumber, UInt64(packetNumber))
                XCTAssertEqual(opened.payload, body, "\(suite)")
            }
        }
    }

    func testTamperingAnyByteFailsAuthentication() throws {
        for suite in CipherSuite.allCases {
            let protector = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 9))
            let header = shortHeader(packetNumber: 7)
            var sealed = header + payload(100) + [UInt8](repeating: 0, count: 16)
            try sealed.withUnsafeMutableBytes { buffer in
                try protector.seal(packetNumber: 7, buffer: buffer, headerStart: 0, payloadStart: 11, payloadEnd: 111)
            }
            // One byte of associated data (header), ciphertext, and tag each.
            for index in [3, 11, 60, sealed.count - 1] {
                var tampered = sealed
                tampered[index] ^= 0x01
                XCTAssertThrowsError(
                    try tampered.withUnsafeMutableBytes { buffer in
                        try protector.open(
                            packetNumber: 7, buffer: buffer, headerStart: 0, payloadStart: 11, end: buffer.count)
                    }
                ) { error in
                    XCTAssertEqual(error as? PacketProtectionError, .authenticationFailed, "\(suite) byte \(index)")
                }
            }
            // The wrong packet number gives the wrong nonce.
            var copy = sealed
            XCTAssertThrowsError(
                try copy.withUnsafeMutableBytes { buffer in
                    try protector.open(packetNumber: 8, buffer: buffer, headerStart: 0, payloadStart: 11, end: buffer.count)
                }
            ) { error in XCTAssertEqual(error as? PacketProtectionError, .authenticationFailed) }
            // And the untouched packet still opens after all those failures (the contexts are reusable).
            let length = try sealed.withUnsafeMutableBytes { buffer in
                try protector.open(packetNumber: 7, buffer: buffer, headerStart: 0, payloadStart: 11, end: buffer.count)
            }
            XCTAssertEqual(length, 100)
            XCTAssertEqual(Array(sealed[11..<111]), payload(100))
        }
    }

    func testPacketShorterThanTagFailsAuthentication() throws {
        let protector = try makePacketProtector(cipherSuite: .aes128GCMSHA256, secret: secret(.aes128GCMSHA256, seed: 2))
        var packet = [UInt8](repeating: 0, count: 20)
        XCTAssertThrowsError(
            try packet.withUnsafeMutableBytes { buffer in
                try protector.open(packetNumber: 0, buffer: buffer, headerStart: 0, payloadStart: 10, end: 20)
            }
        ) { error in XCTAssertEqual(error as? PacketProtectionError, .authenticationFailed) }
    }

    func testBadRangesAreRejectedNotTrapped() throws {
        let protector = try makePacketProtector(cipherSuite: .aes128GCMSHA256, secret: secret(.aes128GCMSHA256, seed: 3))
        var packet = [UInt8](repeating: 0, count: 40)
        try packet.withUnsafeMutableBytes { buffer in
            // No room for the tag after payloadEnd.
            XCTAssertThrowsError(
                try protector.seal(packetNumber: 0, buffer: buffer, headerStart: 0, payloadStart: 5, payloadEnd: 30))
            XCTAssertThrowsError(
                try protector.seal(packetNumber: 0, buffer: buffer, headerStart: 6, payloadStart: 5, payloadEnd: 10))
            XCTAssertThrowsError(
                try protector.open(packetNumber: 0, buffer: buffer, headerStart: 0, payloadStart: 5, end: 41))
        }
        let shortSample = [UInt8](repeating: 0, count: 15)
        XCTAssertThrowsError(try shortSample.withUnsafeBytes { try protector.headerProtectionMask(sample: $0) }) {
            error in XCTAssertEqual(error as? PacketProtectionError, .bufferTooSmall)
        }
        XCTAssertThrowsError(try makePacketProtector(cipherSuite: .aes256GCMSHA384, secret: [UInt8](repeating: 1, count: 32)))
    }

    func testKeyUpdateInteroperatesAndKeepsHeaderProtection() throws {
        for suite in CipherSuite.allCases {
            let senderPhase0 = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 5))
            let receiverPhase0 = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 5))
            let senderPhase1 = try senderPhase0.makeNextKeyPhase()
            let receiverPhase1 = try receiverPhase0.makeNextKeyPhase()
            let senderPhase2 = try senderPhase1.makeNextKeyPhase()

            let body = payload(500)
            let protected = try Support.protect(
                header: shortHeader(packetNumber: 42), payload: body, packetNumber: 42, packetNumberLength: 2,
                with: senderPhase1)
            // The header-protection key does not change on a key update (RFC 9001 §6), so every phase computes the
            // same mask for the same sample.
            let masks = try [senderPhase0, senderPhase1, senderPhase2, receiverPhase1].map { protector in
                try protected.sample.withUnsafeBytes { try protector.headerProtectionMask(sample: $0) }
            }
            for mask in masks { XCTAssertEqual(mask, protected.mask) }

            let opened = try Support.unprotect(packet: protected.packet, packetNumberOffset: 9, with: receiverPhase1)
            XCTAssertEqual(opened.payload, body)
            // The old phase cannot open the new phase's packets, nor can the phase after.
            for wrongPhase in [receiverPhase0, try receiverPhase1.makeNextKeyPhase()] {
                XCTAssertThrowsError(
                    try Support.unprotect(packet: protected.packet, packetNumberOffset: 9, with: wrongPhase)
                ) { error in XCTAssertEqual(error as? PacketProtectionError, .authenticationFailed) }
            }
        }
    }

    func testKeyUpdateMatchesRFC9001A5KeyUpdateSecret() throws {
        // RFC 9001 A.5 lists "quic ku" of the ChaCha20 secret; the next phase must use exactly that secret.
        let secret = Support.bytes("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
        let nextSecret = Support.bytes("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
        let updated = try makePacketProtector(cipherSuite: .chacha20Poly1305SHA256, secret: secret).makeNextKeyPhase()
        // `direct` derives its header-protection key from the new secret, which a real key update does not do, so
        // compare only the AEAD (payload) protection.
        let direct = try makePacketProtector(cipherSuite: .chacha20Poly1305SHA256, secret: nextSecret)
        let header = shortHeader(packetNumber: 1)
        var packet = header + payload(64) + [UInt8](repeating: 0, count: 16)
        try packet.withUnsafeMutableBytes { buffer in
            try updated.seal(packetNumber: 1, buffer: buffer, headerStart: 0, payloadStart: 11, payloadEnd: 75)
        }
        let length = try packet.withUnsafeMutableBytes { buffer in
            try direct.open(packetNumber: 1, buffer: buffer, headerStart: 0, payloadStart: 11, end: buffer.count)
        }
        XCTAssertEqual(length, 64)
        XCTAssertEqual(Array(packet[11..<75]), payload(64))
    }

    func testAES256RoundTripWithInitialStyleLongHeader() throws {
        let suite = CipherSuite.aes256GCMSHA384
        let local = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 11))
        let remote = try makePacketProtector(cipherSuite: suite, secret: secret(suite, seed: 11))
        let header = Support.bytes("e3000000010401020304000044b0000000ff")
        let body = payload(300)
        let protected = try Support.protect(
            header: header, payload: body, packetNumber: 255, packetNumberLength: 4, with: local)
        XCTAssertEqual(protected.packet[0] & 0xf0, 0xe0, "long-header protection only touches the low 4 bits")
        let opened = try Support.unprotect(packet: protected.packet, packetNumberOffset: 14, with: remote)
        XCTAssertEqual(opened.packetNumber, 255)
        XCTAssertEqual(opened.payload, body)
    }

    func testAEADRoundTripAndTamper() throws {
        for suite in CipherSuite.allCases {
            let key = (0..<suite.keyLength).map { UInt8($0) }
            let aead = try AEAD(cipherSuite: suite, key: key)
            let nonce = [UInt8](repeating: 7, count: 12)
            let aad = Support.bytes("1703030040")
            let plaintext = payload(47)
            let sealed = try aead.seal(nonce: nonce, aad: aad, plaintext: plaintext)
            XCTAssertEqual(sealed.count, plaintext.count + 16)
            XCTAssertEqual(try aead.open(nonce: nonce, aad: aad, ciphertextAndTag: sealed), plaintext)
            XCTAssertEqual(try aead.open(nonce: nonce, aad: [], ciphertextAndTag: aead.seal(nonce: nonce, aad: [], plaintext: [])), [])
            var tampered = sealed
            tampered[5] ^= 0x80
            XCTAssertThrowsError(try aead.open(nonce: nonce, aad: aad, ciphertextAndTag: tampered)) { error in
                XCTAssertEqual(error as? PacketProtectionError, .authenticationFailed)
            }
            XCTAssertThrowsError(try aead.open(nonce: nonce, aad: aad + [0], ciphertextAndTag: sealed))
            XCTAssertThrowsError(try aead.open(nonce: nonce, aad: aad, ciphertextAndTag: Array(sealed.prefix(15))))
            XCTAssertThrowsError(try aead.seal(nonce: [1, 2, 3], aad: aad, plaintext: plaintext))
        }
        XCTAssertThrowsError(try AEAD(cipherSuite: .aes128GCMSHA256, key: [1, 2, 3]))
    }

    func testAEADMatchesRFC8439ChaCha20Poly1305Vector() throws {
        // RFC 8439 §2.8.2 AEAD test vector.
        let aead = try AEAD(
            cipherSuite: .chacha20Poly1305SHA256,
            key: Support.bytes("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"))
        let sealed = try aead.seal(
            nonce: Support.bytes("070000004041424344454647"),
            aad: Support.bytes("50515253c0c1c2c3c4c5c6c7"),
            plaintext: Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8))
        XCTAssertEqual(Support.hex(sealed.suffix(16)), "1ae10b594f09e26a7e902ecbd0600691")
        XCTAssertEqual(Support.hex(sealed.prefix(16)), "d31a8d34648e60db7b86afbc53ef7ec2")
    }

    func testNullProtectorPassesPlaintextAndDetectsTagCorruption() throws {
        let protector = NullPacketProtector()
        let header = shortHeader(packetNumber: 3)
        let body = payload(50)
        let protected = try Support.protect(
            header: header, payload: body, packetNumber: 3, packetNumberLength: 2, with: protector)
        XCTAssertEqual(protected.packet, header + body + [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(protected.mask, HeaderProtectionMask(first: 0, packetNumber: (0, 0, 0, 0)))
        XCTAssertEqual(try Support.unprotect(packet: protected.packet, packetNumberOffset: 9, with: protector).payload, body)
        var corrupted = protected.packet
        corrupted[corrupted.count - 3] = 0x10
        XCTAssertThrowsError(try Support.unprotect(packet: corrupted, packetNumberOffset: 9, with: protector)) { error in
            XCTAssertEqual(error as? PacketProtectionError, .authenticationFailed)
        }
        let next = try protector.makeNextKeyPhase()
        XCTAssertEqual(try Support.unprotect(packet: protected.packet, packetNumberOffset: 9, with: next).payload, body)
    }

    func testInitialKeysAreMirroredBetweenSides() throws {
        let connectionID: [UInt8] = [9, 8, 7, 6, 5]
        let client = try makeInitialKeys(destinationConnectionID: connectionID, side: .client)
        let server = try makeInitialKeys(destinationConnectionID: connectionID, side: .server)
        let header = Support.bytes("c3000000010509080706050000410000000000")
        let directions = [(client.local, server.remote, client.remote), (server.local, client.remote, server.remote)]
        for (sender, receiver, wrongReceiver) in directions {
            let protected = try Support.protect(
                header: header, payload: payload(40), packetNumber: 0, packetNumberLength: 4, with: sender)
            XCTAssertEqual(
                try Support.unprotect(packet: protected.packet, packetNumberOffset: 15, with: receiver).payload,
                payload(40))
            XCTAssertThrowsError(
                try Support.unprotect(packet: protected.packet, packetNumberOffset: 15, with: wrongReceiver))
        }
    }
}
