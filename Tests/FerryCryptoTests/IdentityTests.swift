import Foundation
import XCTest

@testable import FerryCrypto

/// EndpointIdentity: key generation, PKCS#8 files, permissions, and interoperability with the openssl CLI.
final class IdentityTests: XCTestCase {
    private var directory = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-identity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    // MARK: Key material

    /// RFC 8032 §7.1 TEST 1: the seed gives the published public key and signature.
    func testRFC8032Vector() throws {
        let seed = bytes(hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let identity = try EndpointIdentity(secretKeySeed: seed)
        XCTAssertEqual(identity.id.hex, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = identity.sign([])
        XCTAssertEqual(hex(signature), "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        XCTAssertTrue(identity.id.isValidSignature(signature, for: []))
        XCTAssertFalse(identity.id.isValidSignature(signature, for: [0]))
        XCTAssertFalse(identity.id.isValidSignature(Array(signature.dropLast()), for: []))
    }

    func testGeneratedIdentitiesDifferAndRebuildFromSeed() throws {
        let first = EndpointIdentity.generate()
        let second = EndpointIdentity.generate()
        XCTAssertNotEqual(first.id, second.id)
        XCTAssertEqual(first.secretKeySeed.count, 32)
        XCTAssertEqual(try EndpointIdentity(secretKeySeed: first.secretKeySeed), first)
    }

    func testSeedOfWrongLengthRefused() {
        XCTAssertThrowsError(try EndpointIdentity(secretKeySeed: [UInt8](repeating: 1, count: 31))) { error in
            XCTAssertEqual(error as? IdentityError, .invalidSeedLength(31))
        }
    }

    func testDescriptionHidesTheSeed() {
        let identity = EndpointIdentity.generate()
        let seedHex = hex(identity.secretKeySeed)
        for text in [String(describing: identity), String(reflecting: identity), "\(identity)"] {
            XCTAssertFalse(text.contains(seedHex), text)
            XCTAssertTrue(text.contains(identity.id.hex), text)
        }
    }

    // MARK: Files

    func testSaveLoadRoundTrip() throws {
        let identity = EndpointIdentity.generate()
        let file = path("ferry.key")
        try identity.save(toFile: file)
        XCTAssertEqual(try EndpointIdentity.load(fromFile: file), identity)
    }

    func testSavedFileHasMode0600() throws {
        let file = path("ferry.key")
        try EndpointIdentity.generate().save(toFile: file)
        XCTAssertEqual(try mode(of: file), 0o600)
    }

    func testSaveNeverOverwrites() throws {
        let file = path("ferry.key")
        let original = EndpointIdentity.generate()
        try original.save(toFile: file)
        XCTAssertThrowsError(try EndpointIdentity.generate().save(toFile: file)) { error in
            XCTAssertEqual(error as? IdentityError, .fileExists(path: file))
        }
        XCTAssertEqual(try EndpointIdentity.load(fromFile: file), original)
    }

    func testGroupReadableKeyRefused() throws {
        let file = path("open.key")
        try EndpointIdentity.generate().save(toFile: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        XCTAssertThrowsError(try EndpointIdentity.load(fromFile: file)) { error in
            XCTAssertEqual(error as? IdentityError, .insecurePermissions(path: file, mode: 0o644))
            XCTAssertEqual(
                "\(error)",
                "key file \(file) has mode 0644; it must not be readable by group or others (run: chmod 600 \(file))"
            )
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
        XCTAssertThrowsError(try EndpointIdentity.load(fromFile: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: file)
        XCTAssertNoThrow(try EndpointIdentity.load(fromFile: file))
    }

    func testMissingFileAndDirectoryRefused() {
        let missing = path("absent.key")
        XCTAssertThrowsError(try EndpointIdentity.load(fromFile: missing)) { error in
            XCTAssertEqual(error as? IdentityError, .fileNotFound(path: missing))
            XCTAssertEqual("\(error)", "key file \(missing) does not exist")
        }
        XCTAssertThrowsError(try EndpointIdentity.load(fromFile: directory.path)) { error in
            guard case .notRegularFile = error as? IdentityError else {
                return XCTFail("unexpected \(error)")
            }
        }
    }

    // MARK: PEM and the openssl CLI

    /// Keys from `openssl genpkey -algorithm ed25519` load and give the id `openssl pkey -pubout` reports.
    func testOpenSSLGeneratedKeyLoadsWithSameID() throws {
        let file = path("openssl.key")
        try openssl(["genpkey", "-algorithm", "ed25519", "-out", file])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        let identity = try EndpointIdentity.load(fromFile: file)
        XCTAssertEqual(identity.id.hex, try opensslPublicKeyHex(keyFile: file))
        // Our encoding of the same key is byte-identical to OpenSSL's.
        XCTAssertEqual(try identity.pemEncoded(), try String(contentsOfFile: file, encoding: .utf8))
    }

    /// Our PEM is readable by `openssl pkey`, which re-emits it unchanged and derives the same public key.
    func testOurPEMIsReadableByOpenSSL() throws {
        let identity = EndpointIdentity.generate()
        let file = path("ferry.key")
        try identity.save(toFile: file)
        let reencoded = try openssl(["pkey", "-in", file])
        XCTAssertEqual(String(decoding: reencoded, as: UTF8.self), try identity.pemEncoded())
        XCTAssertEqual(try opensslPublicKeyHex(keyFile: file), identity.id.hex)
        XCTAssertTrue(try identity.pemEncoded().hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
    }

    func testPEMRoundTripInMemory() throws {
        let identity = EndpointIdentity.generate()
        XCTAssertEqual(try EndpointIdentity(pem: identity.pemEncoded()), identity)
    }

    func testRSAKeyRefused() throws {
        let file = path("rsa.key")
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", file])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        XCTAssertThrowsError(try EndpointIdentity.load(fromFile: file)) { error in
            XCTAssertEqual(error as? IdentityError, .wrongKeyType(path: file, keyType: "RSA"))
            XCTAssertEqual("\(error)", "key file \(file) holds an RSA key; Ferry needs Ed25519")
        }
    }

    func testEncryptedKeyRefusedWithoutPrompting() throws {
        let file = path("encrypted.key")
        try openssl(["genpkey", "-algorithm", "ed25519", "-aes-128-cbc", "-pass", "pass:secret", "-out", file])
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertThrowsError(try EndpointIdentity(pem: text)) { error in
            XCTAssertEqual(error as? IdentityError, .encryptedKey(path: nil))
        }
    }

    func testGarbageRefused() throws {
        XCTAssertThrowsError(try EndpointIdentity(pem: "hello, world\n")) { error in
            XCTAssertEqual(error as? IdentityError, .notPEM(path: nil))
        }
        XCTAssertThrowsError(try EndpointIdentity(pem: "")) { error in
            XCTAssertEqual(error as? IdentityError, .notPEM(path: nil))
        }
        let damaged = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI!!!\n-----END PRIVATE KEY-----\n"
        XCTAssertThrowsError(try EndpointIdentity(pem: damaged)) { error in
            XCTAssertEqual(error as? IdentityError, .notPrivateKey(path: nil))
        }
        let file = path("garbage.key")
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        let junk: [UInt8] = [0xff, 0xfe, 0x00, 0x01, 0x80]
        XCTAssertEqual(write(descriptor, junk, junk.count), junk.count)
        close(descriptor)
        XCTAssertThrowsError(try EndpointIdentity.load(fromFile: file)) { error in
            XCTAssertEqual(error as? IdentityError, .notPEM(path: file))
        }
    }

    // MARK: Certificates

    /// The certificate parses with `openssl x509 -inform DER`, is self-signed Ed25519 v3 with CN = the id,
    /// and carries the identity's public key.
    func testCertificateParsesWithOpenSSLAndCarriesTheKey() throws {
        let identity = EndpointIdentity.generate()
        let der = try identity.makeSelfSignedCertificate()
        let file = path("cert.der")
        try Data(der).write(to: URL(fileURLWithPath: file))

        let text = String(decoding: try openssl(["x509", "-inform", "DER", "-in", file, "-noout", "-text"]), as: UTF8.self)
        XCTAssertTrue(text.contains("Version: 3"), text)
        XCTAssertTrue(text.contains("Signature Algorithm: ED25519"), text)
        XCTAssertTrue(text.contains("CN = \(identity.id.hex)"), text)
        XCTAssertTrue(text.contains("CA:FALSE"), text)
        XCTAssertTrue(text.contains("Digital Signature"), text)

        let subject = String(decoding: try openssl(["x509", "-inform", "DER", "-in", file, "-noout", "-subject", "-issuer"]), as: UTF8.self)
        XCTAssertEqual(subject, "subject=CN = \(identity.id.hex)\nissuer=CN = \(identity.id.hex)\n")

        let publicKeyPEM = try openssl(["x509", "-inform", "DER", "-in", file, "-noout", "-pubkey"])
        let publicKeyDER = try openssl(["pkey", "-pubin", "-outform", "DER"], input: publicKeyPEM)
        XCTAssertEqual(hex(Array(publicKeyDER.suffix(32))), identity.id.hex)

        // The self-signature verifies under the certificate's own key.
        let pemFile = path("cert.pem")
        try openssl(["x509", "-inform", "DER", "-in", file, "-out", pemFile])
        let verified = String(
            decoding: try openssl(["verify", "-check_ss_sig", "-partial_chain", "-no-CAfile", "-no-CApath",
                                   "-x509_strict", "-trusted", pemFile, pemFile]),
            as: UTF8.self)
        XCTAssertEqual(verified, "\(pemFile): OK\n")
    }

    func testCertificatesHaveDistinctSerials() throws {
        let identity = EndpointIdentity.generate()
        let first = try identity.makeSelfSignedCertificate()
        let second = try identity.makeSelfSignedCertificate()
        XCTAssertNotEqual(first, second)
    }

    // MARK: Helpers

    private func mode(of file: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    private func opensslPublicKeyHex(keyFile: String) throws -> String {
        let der = try openssl(["pkey", "-in", keyFile, "-pubout", "-outform", "DER"])
        XCTAssertEqual(der.count, 44)
        return hex(Array(der.suffix(32)))
    }

    /// Runs the openssl CLI, returning stdout; fails the test on a non-zero exit.
    @discardableResult
    private func openssl(_ arguments: [String], input: Data? = nil) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        let errors = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            XCTFail("openssl \(arguments.joined(separator: " ")) failed: \(errorText)")
            throw CocoaError(.fileReadUnknown)
        }
        return data
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    private func bytes(hex: String) -> [UInt8] {
        var result = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return result
    }
}

/// Keys derived from the identity (EndpointIdentity+DerivedKeys.swift): the same for the same seed, so they survive
/// a restart; distinct from each other and between identities.
final class DerivedKeysTests: XCTestCase {
    func testDerivedKeysAreStablePerIdentityAndDistinct() throws {
        let identity = EndpointIdentity.generate()
        let again = try EndpointIdentity(secretKeySeed: identity.secretKeySeed)
        let keys = try identity.derivedKeys()
        XCTAssertEqual(keys.statelessReset, try again.derivedKeys().statelessReset)
        XCTAssertEqual(keys.addressToken, try again.derivedKeys().addressToken)
        XCTAssertEqual(keys.statelessReset.count, 32)
        XCTAssertEqual(keys.addressToken.count, 32)
        XCTAssertNotEqual(keys.statelessReset, keys.addressToken)
        XCTAssertNotEqual(keys.statelessReset, identity.secretKeySeed)
        XCTAssertNotEqual(keys.statelessReset, try EndpointIdentity.generate().derivedKeys().statelessReset)
    }
}
