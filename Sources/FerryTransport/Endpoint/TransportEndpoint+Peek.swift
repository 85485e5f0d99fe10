/// Reading a held client Initial without creating a connection, for the incoming filter's `alpns`.
///
/// Initial keys derive from the client's Destination Connection ID (RFC 9001 §5.2), so the server can decrypt a
/// copy of the first datagram, collect its CRYPTO frames and read the ClientHello's ALPN list. Best effort:
/// anything unexpected yields an empty list, and the original datagram is left untouched for the handshake.
extension TransportEndpoint {
    /// The ALPNs the ClientHello in `datagram` offers, or empty.
    func offeredALPNs(in datagram: [UInt8], header: PacketHeader) -> [[UInt8]] {
        guard let keys = try? context.config.crypto.makeInitialKeys(
            destinationConnectionID: header.destinationConnectionID.bytes, side: .server)
        else { return [] }
        var copy = datagram
        var chunks: [(offset: UInt64, data: ArraySlice<UInt8>)] = []
        var start = 0
        while start < copy.count {
            guard let packet = try? PacketHeader.parse(
                copy, at: start, shortHeaderConnectionIDLength: context.config.connectionIDLength),
                packet.type == .initial, packet.packetEnd > start
            else { break }
            if let range = Self.openInitial(packet, start: start, datagram: &copy, keys: keys.remote) {
                var reader = ByteReader(copy, range: range)
                while !reader.isAtEnd, let frame = try? Frame.decode(from: &reader) {
                    if case .crypto(let offset, let data) = frame { chunks.append((offset, data)) }
                }
            }
            start = packet.packetEnd
        }
        // Assemble the contiguous prefix of the CRYPTO stream.
        chunks.sort { $0.offset < $1.offset }
        var stream: [UInt8] = []
        for chunk in chunks {
            let end = chunk.offset + UInt64(chunk.data.count)
            guard chunk.offset <= UInt64(stream.count) else { break }
            if end > UInt64(stream.count) {
                stream += chunk.data.dropFirst(stream.count - Int(chunk.offset))
            }
        }
        return ClientHelloALPN.offeredProtocols(in: stream)
    }

    /// Removes header protection from and decrypts one Initial packet in place; returns the plaintext range.
    private static func openInitial(
        _ header: PacketHeader, start: Int, datagram: inout [UInt8], keys: any PacketProtector
    ) -> Range<Int>? {
        let packetNumberOffset = header.packetNumberOffset
        let sampleStart = packetNumberOffset + 4
        guard sampleStart + keys.sampleLength <= header.packetEnd, header.packetEnd <= datagram.count else {
            return nil
        }
        return datagram.withUnsafeMutableBytes { buffer -> Range<Int>? in
            guard let mask = try? keys.headerProtectionMask(
                sample: UnsafeRawBufferPointer(rebasing: buffer[sampleStart..<(sampleStart + keys.sampleLength)]))
            else { return nil }
            let firstByte = header.firstByte ^ (mask.first & 0x0f)
            let packetNumberLength = Int(firstByte & 0x03) + 1
            let maskBytes = [mask.packetNumber.0, mask.packetNumber.1, mask.packetNumber.2, mask.packetNumber.3]
            var packetNumber: UInt64 = 0
            for index in 0..<packetNumberLength {
                let byte = buffer[packetNumberOffset + index] ^ maskBytes[index]
                buffer[packetNumberOffset + index] = byte
                packetNumber = packetNumber << 8 | UInt64(byte)
            }
            buffer[start] = firstByte
            let payloadStart = packetNumberOffset + packetNumberLength
            guard let length = try? keys.open(
                packetNumber: packetNumber, buffer: buffer, headerStart: start, payloadStart: payloadStart,
                end: header.packetEnd)
            else { return nil }
            return payloadStart..<(payloadStart + length)
        }
    }
}
