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
    func makeConnectionID(length: Int? = nil) -> ConnectionIDBytes {
        var bytes = [UInt8](repeating: 0, count: length ?? config.connectionIDLength)
        random.fill(&bytes)
        return bytes
    }
}

/// Raw connection-ID bytes before they become a `ConnectionID`.
typealias ConnectionIDBytes = [UInt8]

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
