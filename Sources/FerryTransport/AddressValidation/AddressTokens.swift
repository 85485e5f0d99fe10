/// The two kinds of address-validation token a server issues (RFC 9000 §8.1.3, §8.1.4).
///
/// The kind is the token's first byte, in the clear and also authenticated, so the server tells a Retry token
/// (valid once, for this connection attempt) from a NEW_TOKEN token (for a later connection) before opening it.
public enum AddressTokenKind: UInt8, Sendable {
    /// Issued in a Retry packet (RFC 9000 §8.1.2); binds address and port, original and retry connection IDs.
    case retry = 0x52
    /// Issued in a NEW_TOKEN frame (RFC 9000 §8.1.3); binds the client's IP only, since ports change.
    case newToken = 0x4E
}

/// What a token in a client's Initial proved (RFC 9000 §8.1).
public enum AddressTokenValidation: Sendable, Equatable {
    /// The Initial carried no token.
    case absent
    /// A valid Retry token: the address is validated and the transport parameters must carry both IDs (§7.3).
    case retry(originalDestinationConnectionID: ConnectionID, retrySourceConnectionID: ConnectionID)
    /// A valid NEW_TOKEN token: the address is validated.
    case newToken
    /// A Retry token that did not verify; the client will not accept another Retry, so the server closes with
    /// INVALID_TOKEN (RFC 9000 §8.1.2).
    case invalidRetry
    /// Any other token that did not verify; the server proceeds as if there were none (RFC 9000 §8.1.3).
    case invalid

    /// Whether the token validated the client's address.
    public var isValidated: Bool {
        switch self {
        case .retry, .newToken: true
        case .absent, .invalidRetry, .invalid: false
        }
    }
}

/// Issues and checks address-validation tokens with the endpoint's static key (RFC 9000 §8.1.4).
///
/// A token is `kind ‖ nonce ‖ AEAD(expiry ‖ IDs)`; the associated data is the kind and the client's address,
/// so a token replayed from another address, or of the other kind, does not open. Expiry is in the endpoint's
/// `Instant` time base.
final class AddressTokenIssuer {
    private let cipher: AddressTokenCipher?
    let config: AddressValidationConfig

    init(config: AddressValidationConfig) {
        self.config = config
        self.cipher = try? AddressTokenCipher(key: config.tokenKey)
    }

    /// A Retry token for an attempt from `remote` whose first Initial went to `originalDestination`, answered by a
    /// Retry with Source Connection ID `retrySource` (RFC 9000 §8.1.2, §17.2.5).
    func makeRetryToken(
        remote: NetworkAddress, originalDestination: ConnectionID, retrySource: ConnectionID, now: Instant,
        random: inout RandomSource
    ) -> [UInt8]? {
        var plaintext = Self.encode(expiry: now + config.retryTokenLifetime)
        plaintext.append(UInt8(originalDestination.count))
        plaintext += originalDestination.bytes
        plaintext.append(UInt8(retrySource.count))
        plaintext += retrySource.bytes
        return seal(kind: .retry, remote: remote, plaintext: plaintext, random: &random)
    }

    /// A NEW_TOKEN token for the client at `remote` (RFC 9000 §8.1.3).
    func makeNewToken(remote: NetworkAddress, now: Instant, random: inout RandomSource) -> [UInt8]? {
        seal(kind: .newToken, remote: remote, plaintext: Self.encode(expiry: now + config.newTokenLifetime),
            random: &random)
    }

    /// Checks the token of an Initial from `remote` sent to `destination`.
    func validate(
        _ token: ArraySlice<UInt8>, remote: NetworkAddress, destination: ConnectionID, now: Instant
    ) -> AddressTokenValidation {
        guard let first = token.first else { return .absent }
        guard let kind = AddressTokenKind(rawValue: first), let cipher else { return .invalid }
        let failure: AddressTokenValidation = kind == .retry ? .invalidRetry : .invalid
        guard let plaintext = cipher.open(token.dropFirst(), associatedData: Self.associatedData(kind, remote)),
            plaintext.count >= 8
        else { return failure }
        var reader = ByteReader(plaintext)
        guard let expiryNanoseconds = try? reader.readUInt64() else { return failure }
        let lifetime = kind == .retry ? config.retryTokenLifetime : config.newTokenLifetime
        // Expired, or from another clock epoch (a restarted process) claiming to outlive its lifetime.
        guard now.nanoseconds < expiryNanoseconds,
            expiryNanoseconds <= (now + lifetime).nanoseconds
        else { return failure }
        guard kind == .retry else { return .newToken }
        guard let originalLength = try? reader.readUInt8(),
            let original = try? reader.readConnectionID(length: Int(originalLength)),
            let retryLength = try? reader.readUInt8(),
            let retrySource = try? reader.readConnectionID(length: Int(retryLength)),
            reader.isAtEnd,
            retrySource == destination
        else { return failure }
        return .retry(originalDestinationConnectionID: original, retrySourceConnectionID: retrySource)
    }

    private func seal(
        kind: AddressTokenKind, remote: NetworkAddress, plaintext: [UInt8], random: inout RandomSource
    ) -> [UInt8]? {
        guard let cipher else { return nil }
        var nonce = [UInt8](repeating: 0, count: AddressTokenCipher.nonceLength)
        random.fill(&nonce)
        guard let sealed = cipher.seal(
            nonce: nonce, associatedData: Self.associatedData(kind, remote), plaintext: plaintext)
        else { return nil }
        return [kind.rawValue] + sealed
    }

    /// The kind, the client's IP, and for Retry tokens its port (NEW_TOKEN tokens outlive NAT port mappings).
    private static func associatedData(_ kind: AddressTokenKind, _ remote: NetworkAddress) -> [UInt8] {
        var data = [kind.rawValue]
        data += remote.ipBytes
        if kind == .retry {
            data.append(UInt8(truncatingIfNeeded: remote.port >> 8))
            data.append(UInt8(truncatingIfNeeded: remote.port))
        }
        return data
    }

    private static func encode(expiry: Instant) -> [UInt8] {
        let value = expiry.nanoseconds
        return (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}
