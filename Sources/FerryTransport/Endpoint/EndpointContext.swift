/// State shared by an endpoint and all its connections: configuration and the random source.
///
/// A class so connections can draw random connection IDs from the endpoint's (possibly seeded) generator without
/// copying it.
final class EndpointContext {
    let config: EndpointConfig
    @exclusivity(unchecked) var random: RandomSource
    /// Derives stateless reset tokens from the static reset key (RFC 9000 §10.3.2).
    let resetMAC: KeyedMAC
    /// Seals and checks Retry and NEW_TOKEN tokens (RFC 9000 §8.1).
    let tokens: AddressTokenIssuer

    init(config: EndpointConfig) {
        self.config = config
        self.random = RandomSource(seed: config.randomSeed)
        self.resetMAC = KeyedMAC(key: config.statelessResetKey)
        self.tokens = AddressTokenIssuer(config: config.addressValidation)
    }

    /// A fresh random connection ID of the configured length (RFC 9000 §5.1).
    func makeConnectionID(length: Int? = nil) -> ConnectionID {
        ConnectionID.random(length: length ?? config.connectionIDLength, using: &random)
    }

    /// The stateless reset token for one of our connection IDs (RFC 9000 §10.3.2): HMAC-SHA256 of the ID under
    /// the static reset key, so the endpoint can recompute it after losing connection state and nobody without
    /// the key can predict it.
    func resetToken(for connectionID: ConnectionID) -> StatelessResetToken {
        let bytes = resetMAC.statelessResetToken(for: connectionID.bytes)
        guard let token = StatelessResetToken(bytes) else { preconditionFailure("16 bytes make a reset token") }
        return token
    }
}

/// Either the system RNG or a seeded SplitMix64/xoshiro generator for deterministic tests.
struct RandomSource: RandomNumberGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)?

    init(seed: UInt64?) {
        guard var seed else {
            state = nil
            return
        }
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(&seed), splitMix(&seed), splitMix(&seed), splitMix(&seed))
    }

    mutating func next() -> UInt64 {
        guard var s = state else {
            var system = SystemRandomNumberGenerator()
            return system.next()
        }
        // xoshiro256**
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        state = s
        return result
    }

    mutating func fill(_ bytes: inout [UInt8]) {
        var index = 0
        while index < bytes.count {
            var word = next()
            for _ in 0..<8 where index < bytes.count {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
}
