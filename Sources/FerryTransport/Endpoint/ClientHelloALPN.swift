/// Reads the ALPN protocol list offered in a TLS 1.3 ClientHello (RFC 8446 §4.1.2, RFC 7301 §3.1).
///
/// The incoming filter wants the ALPNs before any TLS state exists, so this parses the raw handshake message
/// from a client's first CRYPTO bytes. It is total: malformed, truncated or hostile input yields an empty list,
/// never a trap, and it reads only what the length fields it has checked allow.
public enum ClientHelloALPN {
    /// The handshake message type of a ClientHello (RFC 8446 §4).
    static let clientHelloType: UInt8 = 0x01
    /// The application_layer_protocol_negotiation extension (RFC 7301 §3.1).
    static let alpnExtensionType: UInt16 = 0x0010

    /// The protocols of the ALPN extension in `handshakeBytes` (the start of the CRYPTO stream at Initial level),
    /// in the client's order; empty if there is none or it cannot be read. The message may be truncated after the
    /// extension.
    public static func offeredProtocols(in handshakeBytes: [UInt8]) -> [[UInt8]] {
        var reader = Reader(handshakeBytes)
        guard reader.readUInt8() == clientHelloType, let length = reader.readLength(3) else { return [] }
        // The message may continue in a later datagram: parse what arrived.
        reader.limit(to: length)
        // legacy_version (2), random (32), legacy_session_id <0..32>, cipher_suites <2..2^16-2>,
        // legacy_compression_methods <1..2^8-1>, extensions <8..2^16-1>.
        guard reader.skip(2 + 32), let sessionIDLength = reader.readLength(1), reader.skip(sessionIDLength),
            let suitesLength = reader.readLength(2), reader.skip(suitesLength),
            let compressionLength = reader.readLength(1), reader.skip(compressionLength),
            let extensionsLength = reader.readLength(2)
        else { return [] }
        reader.limit(to: extensionsLength)
        while let type = reader.readLength(2), let length = reader.readLength(2) {
            guard UInt16(type) == alpnExtensionType else {
                guard reader.skip(length) else { return [] }
                continue
            }
            guard let body = reader.readBytes(length) else { return [] }
            return protocols(inExtension: body)
        }
        return []
    }

    /// The ProtocolNameList of an ALPN extension body: a 2-byte length, then 1-byte-length-prefixed names.
    static func protocols(inExtension body: ArraySlice<UInt8>) -> [[UInt8]] {
        var reader = Reader(Array(body))
        guard let listLength = reader.readLength(2), listLength == reader.remaining else { return [] }
        var result: [[UInt8]] = []
        while reader.remaining > 0 {
            guard let nameLength = reader.readLength(1), nameLength > 0, let name = reader.readBytes(nameLength)
            else { return [] }
            result.append(Array(name))
        }
        return result
    }

    /// A bounds-checked cursor whose reads return nil instead of trapping.
    struct Reader {
        private let bytes: [UInt8]
        private var position = 0
        private var end: Int

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            self.end = bytes.count
        }

        var remaining: Int { end - position }

        /// Restricts reading to the next `length` bytes (or fewer, if fewer are there).
        mutating func limit(to length: Int) {
            end = min(end, position + max(0, length))
        }

        mutating func readUInt8() -> UInt8? {
            guard position < end else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        /// A big-endian length field of `byteCount` bytes (1...3).
        mutating func readLength(_ byteCount: Int) -> Int? {
            guard byteCount <= remaining else { return nil }
            var value = 0
            for _ in 0..<byteCount {
                value = value << 8 | Int(bytes[position])
                position += 1
            }
            return value
        }

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, count <= remaining else { return false }
            position += count
            return true
        }

        mutating func readBytes(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, count <= remaining else { return nil }
            defer { position += count }
            return bytes[position..<(position + count)]
        }
    }
}
