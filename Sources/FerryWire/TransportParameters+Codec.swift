extension TransportParameters {
    /// Encodes the parameters for the quic_transport_parameters TLS extension (RFC 9000 §18).
    ///
    /// Parameters equal to their default are omitted (the peer assumes the default); optional ones are written
    /// when set. Values must already be valid (e.g. `maxAckDelay` < 2^14).
    public func encoded() -> [UInt8] {
        let defaults = TransportParameters()
        return ByteWriter.encode(capacity: 512) { writer in
            func integer(_ id: UInt64, _ value: UInt64, _ defaultValue: UInt64?) {
                guard value != defaultValue else { return }
                writer.writeVarInt(id)
                writer.writeVarInt(UInt64(VarInt.encodedLength(value)))
                writer.writeVarInt(value)
            }
            func connectionID(_ id: UInt64, _ value: ConnectionID?) {
                guard let value else { return }
                writer.writeVarInt(id)
                writer.writeVarInt(UInt64(value.count))
                writer.writeConnectionID(value)
            }
            connectionID(TransportParameterID.originalDestinationConnectionID, originalDestinationConnectionID)
            integer(TransportParameterID.maxIdleTimeout, maxIdleTimeout, defaults.maxIdleTimeout)
            if let token = statelessResetToken {
                writer.writeVarInt(TransportParameterID.statelessResetToken)
                writer.writeVarInt(UInt64(StatelessResetToken.length))
                token.withUnsafeBytes { writer.writeBytes($0) }
            }
            integer(TransportParameterID.maxUDPPayloadSize, maxUDPPayloadSize, defaults.maxUDPPayloadSize)
            integer(TransportParameterID.initialMaxData, initialMaxData, defaults.initialMaxData)
            integer(
                TransportParameterID.initialMaxStreamDataBidiLocal, initialMaxStreamDataBidiLocal,
                defaults.initialMaxStreamDataBidiLocal)
            integer(
                TransportParameterID.initialMaxStreamDataBidiRemote, initialMaxStreamDataBidiRemote,
                defaults.initialMaxStreamDataBidiRemote)
            integer(
                TransportParameterID.initialMaxStreamDataUni, initialMaxStreamDataUni,
                defaults.initialMaxStreamDataUni)
            integer(TransportParameterID.initialMaxStreamsBidi, initialMaxStreamsBidi, defaults.initialMaxStreamsBidi)
            integer(TransportParameterID.initialMaxStreamsUni, initialMaxStreamsUni, defaults.initialMaxStreamsUni)
            integer(TransportParameterID.ackDelayExponent, ackDelayExponent, defaults.ackDelayExponent)
            integer(TransportParameterID.maxAckDelay, maxAckDelay, defaults.maxAckDelay)
            if disableActiveMigration {
                writer.writeVarInt(TransportParameterID.disableActiveMigration)
                writer.writeVarInt(0)
            }
            if let address = preferredAddress {
                writer.writeVarInt(TransportParameterID.preferredAddress)
                writer.writeVarInt(UInt64(address.encodedLength))
                address.encode(into: &writer)
            }
            integer(
                TransportParameterID.activeConnectionIDLimit, activeConnectionIDLimit,
                defaults.activeConnectionIDLimit)
            connectionID(TransportParameterID.initialSourceConnectionID, initialSourceConnectionID)
            connectionID(TransportParameterID.retrySourceConnectionID, retrySourceConnectionID)
            if let size = maxDatagramFrameSize {
                integer(TransportParameterID.maxDatagramFrameSize, size, nil)
            }
            if let mode = addressDiscovery {
                integer(TransportParameterID.addressDiscovery, mode.rawValue, nil)
            }
            switch natTraversal {
            case .client:
                writer.writeVarInt(TransportParameterID.natTraversal)
                writer.writeVarInt(0)
            case .server(let limit):
                integer(TransportParameterID.natTraversal, limit, nil)
            case nil:
                break
            }
        }
    }

    /// Decodes and validates the peer's parameters (RFC 9000 §7.4, §18.2; RFC 9221 §3;
    /// draft-ietf-quic-address-discovery-00 §3).
    ///
    /// Throws `WireError.invalidTransportParameter` (TRANSPORT_PARAMETER_ERROR) for malformed or out-of-range
    /// values, duplicates, and server-only parameters sent by a client. Unknown and GREASE ids (31 * N + 27) are
    /// skipped, as §18.1 requires.
    public static func decode(_ bytes: [UInt8], sentBy sender: Side) throws(WireError) -> TransportParameters {
        var parameters = TransportParameters()
        var reader = ByteReader(bytes)
        var seen: UInt64 = 0
        while !reader.isAtEnd {
            var id: UInt64 = .max
            do throws(WireError) {
                id = try reader.readVarInt()
                let value = try reader.readVarIntPrefixedBytes()
                if id < 64 {
                    let bit: UInt64 = 1 << id
                    guard seen & bit == 0 else { throw .invalidTransportParameter(id: id, reason: "duplicate") }
                    seen |= bit
                }
                if sender == .client, TransportParameterID.isServerOnly(id) {
                    throw .invalidTransportParameter(id: id, reason: "server-only parameter sent by client")
                }
                var field = ByteReader(bytes, range: value.startIndex..<value.endIndex)
                try parameters.apply(id: id, value: &field, sender: sender)
            } catch {
                switch error {
                case .invalidTransportParameter:
                    throw error
                default:
                    throw .invalidTransportParameter(id: id, reason: "malformed")
                }
            }
        }
        return parameters
    }

    private mutating func apply(id: UInt64, value: inout ByteReader, sender: Side) throws(WireError) {
        func integer() throws(WireError) -> UInt64 {
            let result = try value.readVarInt()
            guard value.isAtEnd else { throw .invalidTransportParameter(id: id, reason: "trailing bytes") }
            return result
        }
        func connectionID() throws(WireError) -> ConnectionID {
            guard value.remaining <= ConnectionID.maxLength else {
                throw .invalidTransportParameter(id: id, reason: "connection ID longer than 20 bytes")
            }
            return try value.readConnectionID(length: value.remaining)
        }
        func invalid(_ reason: String) -> WireError { .invalidTransportParameter(id: id, reason: reason) }

        switch id {
        case TransportParameterID.originalDestinationConnectionID:
            originalDestinationConnectionID = try connectionID()
        case TransportParameterID.maxIdleTimeout:
            maxIdleTimeout = try integer()
        case TransportParameterID.statelessResetToken:
            guard value.remaining == StatelessResetToken.length,
                let token = StatelessResetToken(try value.readBytes(StatelessResetToken.length))
            else { throw invalid("stateless reset token must be 16 bytes") }
            statelessResetToken = token
        case TransportParameterID.maxUDPPayloadSize:
            let size = try integer()
            guard size >= 1200 else { throw invalid("max_udp_payload_size below 1200") }
            maxUDPPayloadSize = size
        case TransportParameterID.initialMaxData:
            initialMaxData = try integer()
        case TransportParameterID.initialMaxStreamDataBidiLocal:
            initialMaxStreamDataBidiLocal = try integer()
        case TransportParameterID.initialMaxStreamDataBidiRemote:
            initialMaxStreamDataBidiRemote = try integer()
        case TransportParameterID.initialMaxStreamDataUni:
            initialMaxStreamDataUni = try integer()
        case TransportParameterID.initialMaxStreamsBidi:
            let count = try integer()
            guard count <= Frame.maxStreamCount else { throw invalid("initial_max_streams_bidi exceeds 2^60") }
            initialMaxStreamsBidi = count
        case TransportParameterID.initialMaxStreamsUni:
            let count = try integer()
            guard count <= Frame.maxStreamCount else { throw invalid("initial_max_streams_uni exceeds 2^60") }
            initialMaxStreamsUni = count
        case TransportParameterID.ackDelayExponent:
            let exponent = try integer()
            guard exponent <= 20 else { throw invalid("ack_delay_exponent exceeds 20") }
            ackDelayExponent = exponent
        case TransportParameterID.maxAckDelay:
            let delay = try integer()
            guard delay < 1 << 14 else { throw invalid("max_ack_delay must be below 2^14") }
            maxAckDelay = delay
        case TransportParameterID.disableActiveMigration:
            guard value.isAtEnd else { throw invalid("disable_active_migration must be empty") }
            disableActiveMigration = true
        case TransportParameterID.preferredAddress:
            preferredAddress = try PreferredAddress.decode(from: &value)
        case TransportParameterID.activeConnectionIDLimit:
            let limit = try integer()
            guard limit >= 2 else { throw invalid("active_connection_id_limit below 2") }
            activeConnectionIDLimit = limit
        case TransportParameterID.initialSourceConnectionID:
            initialSourceConnectionID = try connectionID()
        case TransportParameterID.retrySourceConnectionID:
            retrySourceConnectionID = try connectionID()
        case TransportParameterID.maxDatagramFrameSize:
            maxDatagramFrameSize = try integer()
        case TransportParameterID.addressDiscovery:
            // Its id is above the 64 the duplicate bitmap covers, so duplicates are caught here (RFC 9000 §7.4).
            guard addressDiscovery == nil else { throw invalid("duplicate") }
            guard let mode = AddressDiscoveryMode(rawValue: try integer()) else {
                throw invalid("address_discovery must be 0, 1 or 2")
            }
            addressDiscovery = mode
        case TransportParameterID.natTraversal:
            // Above the duplicate bitmap's 64 ids, like address_discovery.
            guard natTraversal == nil else { throw invalid("duplicate") }
            switch sender {
            case .client:
                // §4.5: "A server ... MUST treat the receipt of a non-empty value as ... TRANSPORT_PARAMETER_ERROR".
                guard value.isAtEnd else { throw invalid("nat_traversal from a client must be empty") }
                natTraversal = .client
            case .server:
                // §4.5: a varint above zero, else TRANSPORT_PARAMETER_ERROR.
                let limit = try integer()
                guard limit > 0 else { throw invalid("nat_traversal concurrency limit must be above 0") }
                natTraversal = .server(concurrencyLimit: limit)
            }
        default:
            break  // Unknown or GREASE parameter: ignored (RFC 9000 §18.1).
        }
    }
}
