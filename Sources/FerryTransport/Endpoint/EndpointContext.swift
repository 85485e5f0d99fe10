/// State shared by an endpoint and all its connections: configuration and the random source.
///
/// A class so connections can draw random connection IDs from the endpoint's (possibly seeded) generator without
/// copying it.
final class EndpointContext {
    let config: EndpointConfig
    var random: RandomSource

    init(config: EndpointConfig) {
        self.config = config
        self.random = RandomSource(seed: config.randomSeed)
    }

    /// A fresh random connection ID of the configured length (RFC 9000 §5.1).
    func makeConnectionID(length: Int? = nil) -> ConnectionID {
        ConnectionID.random(length: length ?? config.connectionIDLength, using: &random)
    }

    /// The stateless reset token for one of our connection IDs (RFC 9000 §10.3.2): a keyed hash of the ID, so
    /// the endpoint can recompute it after losing connection state.
    func resetToken(for connectionID: ConnectionID) -> StatelessResetToken {
        var state: (UInt64, UInt64) = (0x736F_6D65_7073_6575, 0x646F_7261_6E64_6F6D)
        for (index, byte) in config.statelessResetKey.enumerated() {
            state.0 = Self.mix(state.0 ^ UInt64(byte) << (8 * UInt64(index % 8)))
        }
        state.1 ^= state.0
        for byte in connectionID.bytes {
            state.0 = Self.mix(state.0 ^ UInt64(byte))
            state.1 = Self.mix(state.1 &+ state.0)
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(16)
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: state.0 >> (8 * UInt64(index)))) }
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: state.1 >> (8 * UInt64(index)))) }
        guard let token = StatelessResetToken(bytes) else { preconditionFailure("16 bytes make a reset token") }
        return token
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
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
