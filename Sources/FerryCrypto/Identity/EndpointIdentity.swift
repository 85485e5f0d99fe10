import CSodium

/// An endpoint's long-term Ed25519 key pair: the secret seed and the public `EndpointID` derived from it.
///
/// The identity is what a peer dials: the TLS handshake proves possession of the seed, and the peer checks that
/// the certificate's raw public key equals the id it dialed. The seed is the 32-byte private key of RFC 8032
/// §5.1.5; the key pair is derived from it with libsodium. `description` never reveals the seed.
public struct EndpointIdentity: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The public half: the raw Ed25519 public key, as the 64-hex-character endpoint id.
    public let id: EndpointID
    /// The 32-byte Ed25519 private key seed (RFC 8032 §5.1.5). Keep it secret.
    public let secretKeySeed: [UInt8]

    /// The length of an Ed25519 seed and of a raw public key.
    static let seedLength = 32

    /// Creates a fresh identity from libsodium's CSPRNG.
    public static func generate() -> EndpointIdentity {
        Sodium.ensureInitialized()
        var seed = [UInt8](repeating: 0, count: seedLength)
        randombytes_buf(&seed, seed.count)
        // A 32-byte seed always yields a key pair, so the throwing initialiser cannot fail here.
        let identity = EndpointIdentity(validSeed: seed)
        sodium_memzero(&seed, seed.count)
        return identity
    }

    /// Rebuilds an identity from its 32-byte seed, deriving the public key (RFC 8032 §5.1.5).
    public init(secretKeySeed: [UInt8]) throws(IdentityError) {
        guard secretKeySeed.count == Self.seedLength else {
            throw .invalidSeedLength(secretKeySeed.count)
        }
        self.init(validSeed: secretKeySeed)
    }

    /// Derives the public key from a seed already known to be 32 bytes.
    private init(validSeed seed: [UInt8]) {
        Sodium.ensureInitialized()
        var publicKey = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var secretKey = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        _ = crypto_sign_seed_keypair(&publicKey, &secretKey, seed)
        sodium_memzero(&secretKey, secretKey.count)
        guard let id = EndpointID(rawValue: publicKey) else {
            preconditionFailure("libsodium's crypto_sign_PUBLICKEYBYTES is 32")
        }
        self.id = id
        self.secretKeySeed = seed
    }

    /// Signs `message` with Ed25519 (RFC 8032 §5.1.6), returning the 64-byte signature.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var publicKey = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var secretKey = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        _ = crypto_sign_seed_keypair(&publicKey, &secretKey, secretKeySeed)
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count), secretKey)
        sodium_memzero(&secretKey, secretKey.count)
        return signature
    }

    /// Only the id: the seed must never reach logs.
    public var description: String { "EndpointIdentity(\(id.hex))" }

    public var debugDescription: String { description }
}

extension EndpointID {
    /// Checks an Ed25519 signature (RFC 8032 §5.1.7) made by the holder of this id's private key.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == Int(crypto_sign_BYTES) else { return false }
        Sodium.ensureInitialized()
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), rawValue) == 0
    }
}

/// One-time libsodium initialisation; `sodium_init` must run before any other libsodium call.
enum Sodium {
    /// Swift runs a global's initialiser exactly once, thread-safely.
    private static let initialized: Bool = sodium_init() >= 0

    /// Runs `sodium_init` on first use.
    static func ensureInitialized() {
        _ = initialized
    }
}
