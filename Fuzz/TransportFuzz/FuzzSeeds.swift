import FerryTransport

// Hand-made seeds: short scripts in the record format of FuzzWorld+Records.swift, one per area the fuzzer should
// start from. Frames are built with FerryWire's encoder so they are well-formed; the fuzzer mutates from there.
// Written to disk with FERRY_TRANSPORT_FUZZ_WRITE_SEEDS (the committed Fuzz/TransportFuzz/Seeds came from there).

enum FuzzSeeds {
    // Record kinds (operation | time << 4 | 0x40 elsewhere | 0x80 coalesce).
    static let rawToServer: UInt8 = 0, rawToClient: UInt8 = 1
    static let initialToServer: UInt8 = 2, initialToClient: UInt8 = 3
    static let handshakeToServer: UInt8 = 4, handshakeToClient: UInt8 = 5
    static let oneRTTToServer: UInt8 = 6, oneRTTToClient: UInt8 = 7
    static let commandOnServer: UInt8 = 8, commandOnClient: UInt8 = 9
    static let scriptToServer: UInt8 = 10, scriptToClient: UInt8 = 11
    static let resetToClient: UInt8 = 12, retryToClient: UInt8 = 13, wait: UInt8 = 14
    static let after2ms: UInt8 = 0x10, after150ms: UInt8 = 0x20, atNextTimer: UInt8 = 0x30
    static let elsewhere: UInt8 = 0x40, coalesced: UInt8 = 0x80

    static func record(_ kind: UInt8, _ body: [UInt8] = []) -> [UInt8] {
        [kind, UInt8(truncatingIfNeeded: body.count >> 8), UInt8(truncatingIfNeeded: body.count)] + body
    }

    static func packet(_ kind: UInt8, control: UInt8 = 0, _ frames: [Frame]) -> [UInt8] {
        record(kind, [control] + encode(frames))
    }

    static func encode(_ frames: [Frame]) -> [UInt8] {
        frames.flatMap { frame in ByteWriter.encode(capacity: frame.encodedLength) { frame.encode(into: &$0) } }
    }

    static func stream(_ id: UInt64, offset: UInt64 = 0, _ text: String, fin: Bool = false) -> Frame {
        .stream(StreamFrame(streamID: id, offset: offset, data: Array(text.utf8)[...], fin: fin))
    }

    static func ack(_ ranges: [ClosedRange<UInt64>], ecn: ECNCounts? = nil) -> Frame {
        .ack(AckFrame(largestAcknowledged: ranges[0].upperBound, ackDelay: 10, ranges: ranges, ecnCounts: ecn))
    }

    static func newConnectionID(_ sequence: UInt64, retirePriorTo: UInt64 = 0) -> Frame {
        let id = ConnectionID([UInt8](repeating: UInt8(0x70 + sequence), count: 8)) ?? .empty
        let token = StatelessResetToken([UInt8](repeating: UInt8(0x90 + sequence), count: 16))
        guard let token else { return .ping }
        return .newConnectionID(NewConnectionIDFrame(
            sequenceNumber: sequence, retirePriorTo: retirePriorTo, connectionID: id, statelessResetToken: token))
    }

    /// A handshake the server completes with the fuzzer as its client.
    static let serverHandshake: [UInt8] = record(scriptToServer, [0]) + record(scriptToServer | after2ms, [1])

    /// A handshake the client completes with the fuzzer as its server, then confirmed (RFC 9001 §4.1.2).
    static let clientHandshake: [UInt8] = record(scriptToClient, [0]) + record(scriptToClient | after2ms, [1])
        + packet(oneRTTToClient, [.handshakeDone])

    static let datagrams: [(String, [UInt8])] = [
        ("server-handshake", [0] + serverHandshake
            + packet(oneRTTToServer, [ack([0...0]), stream(0, "hello", fin: true), .ping])
            + record(commandOnServer, [0, 0, 4]) + packet(oneRTTToServer | after2ms, [ack([3...6, 0...1])])
            + record(wait | atNextTimer) + record(wait | atNextTimer)),
        ("client-handshake", [0] + clientHandshake
            + packet(oneRTTToClient, [newConnectionID(1), stream(1, "hi"), .maxData(1 << 21)])
            + record(commandOnClient, [0, 0, 8]) + packet(oneRTTToClient | after2ms, [ack([2...4, 0...0])])
            + record(wait | atNextTimer)),
        ("coalesced-packets", [0x04] + clientHandshake + packet(initialToClient | coalesced, [ack([0...0])])
            + packet(handshakeToClient | coalesced, [.ping])
            + packet(oneRTTToClient, [.maxStreams(bidirectional: true, maximum: 2)])),
        ("garbage", [0]
            + record(rawToServer, [0xC3, 0, 0, 0, 1, 8] + [UInt8](repeating: 0x0D, count: 8) + [0] + [UInt8](repeating: 0, count: 1190))
            + record(rawToServer, [0xC3, 0xBA, 0xBA, 0xBA, 0xBA, 8] + [UInt8](repeating: 1, count: 8) + [0] + [UInt8](repeating: 0, count: 1190))
            + record(rawToServer, [0x41] + [UInt8](repeating: 0x33, count: 40))
            + record(rawToClient, [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0, 0x1D])
            + record(rawToClient, [0x41] + [UInt8](repeating: 0x44, count: 30))),
        ("retry-required", [0x02] + record(scriptToServer, [0]) + record(scriptToServer | after2ms, [0])
            + record(scriptToServer | after2ms, [1]) + packet(oneRTTToServer, [.ping])),
        ("client-gets-retry", [0] + record(retryToClient, Array("token".utf8)) + record(scriptToClient, [0])
            + record(scriptToClient, [1])),
        ("held-incoming", [0x01] + record(scriptToServer, [0]) + record(scriptToServer | after150ms, [0])
            + record(scriptToServer | after2ms, [1])),
        ("client-stateless-reset", [0] + clientHandshake + record(resetToClient, [0x12, 1, 2, 3, 4, 5, 6, 7, 8])),
        ("handshake-timeouts", [0] + record(scriptToServer, [4]) + record(wait | atNextTimer)
            + record(wait | atNextTimer) + record(wait | atNextTimer) + record(scriptToClient, [2])),
    ]

    static let frames: [(String, [UInt8])] = [
        ("stream-data", [0] + packet(oneRTTToServer, [stream(0, "hello"), stream(0, offset: 5, " world", fin: true)])
            + packet(oneRTTToServer, [stream(4, offset: 100, "gap"), stream(4, "x")])
            + packet(oneRTTToClient, [stream(1, "from server", fin: true), stream(3, "uni")])),
        ("ack-ranges", [0] + record(commandOnServer, [0, 0, 40]) + record(commandOnServer | after2ms, [1, 0, 40])
            + packet(oneRTTToServer | after2ms, [ack([6...9, 2...4])])
            + packet(oneRTTToServer | atNextTimer, [ack([0...12], ecn: ECNCounts(ect0: 5, ect1: 0, ce: 2))])),
        ("flow-control", [0x04] + packet(oneRTTToServer, [.maxData(1 << 30), .maxStreamData(streamID: 0, maximum: 99_999),
            .maxStreams(bidirectional: true, maximum: 100), .dataBlocked(limit: 10),
            .streamDataBlocked(streamID: 0, limit: 10), .streamsBlocked(bidirectional: false, limit: 3)])
            + packet(oneRTTToServer, [stream(0, String(repeating: "z", count: 1100))])
            + record(commandOnClient, [0, 0, 30]) + packet(oneRTTToClient, [.maxStreamData(streamID: 0, maximum: 9000)])),
        ("new-connection-id", [0] + packet(oneRTTToServer, [newConnectionID(10, retirePriorTo: 8), newConnectionID(11, retirePriorTo: 8),
            .retireConnectionID(sequenceNumber: 0)])
            + packet(oneRTTToClient, [newConnectionID(10, retirePriorTo: 9), newConnectionID(11, retirePriorTo: 10)])
            + record(commandOnServer, [9])),
        ("path-challenge", [0] + packet(oneRTTToServer | elsewhere, [.pathChallenge(data: 0x1234), .ping])
            + packet(oneRTTToServer | after2ms, [.pathResponse(data: 0x1234)])
            + packet(oneRTTToClient, [newConnectionID(10, retirePriorTo: 1)]) + record(commandOnClient, [8, 3, 1])
            + packet(oneRTTToClient | after2ms, [.pathChallenge(data: 7)])),
        ("reset-stream", [0] + packet(oneRTTToServer, [stream(0, "abc"),
            .resetStream(streamID: 0, applicationErrorCode: 7, finalSize: 3), .stopSending(streamID: 4, applicationErrorCode: 9)])
            + record(commandOnClient, [0, 0, 2]) + packet(oneRTTToClient, [.stopSending(streamID: 0, applicationErrorCode: 1)])),
        ("datagram", [0] + packet(oneRTTToServer, [.datagram(data: Array("ping".utf8)[...]), .datagram(data: ArraySlice<UInt8>())])
            + record(commandOnServer, [5, 0, 3]) + packet(oneRTTToClient, [.datagram(data: [1, 2, 3][...])])),
        ("key-update", [0] + packet(oneRTTToServer, control: 0x04, [.ping])
            + packet(oneRTTToServer | after2ms, control: 0x04, [stream(0, "after update")])
            + packet(oneRTTToClient, control: 0x04, [.ping])),
        ("connection-close", [0] + packet(oneRTTToServer, [.connectionClose(ConnectionCloseFrame(
            isApplicationError: false, errorCode: 0x0A, frameType: 0x08, reasonPhrase: Array("bye".utf8)[...]))])
            + record(wait | atNextTimer) + record(wait | atNextTimer)),
        ("nat-traversal", [0] + observedAndCandidates + record(commandOnServer, [10, 2, 1])
            + record(commandOnClient, [11]) + record(wait | atNextTimer)),
        ("post-handshake-crypto", [0] + packet(oneRTTToClient, [.newToken(token: Array("tok".utf8)[...]),
            .handshakeDone, .crypto(offset: 0, data: [1, 2, 3][...])])
            + packet(oneRTTToServer, [.handshakeDone])),
    ]

    private static let observedAndCandidates: [UInt8] = {
        var frames: [Frame] = []
        if let observed = ObservedAddressFrame(sequenceNumber: 1, ipAddress: [203, 0, 113, 5], port: 4433) {
            frames.append(.observedAddress(observed))
        }
        if let candidate = AddAddressFrame(sequenceNumber: 1, ipAddress: [198, 51, 100, 1], port: 443) {
            frames.append(.addAddress(candidate))
        }
        var toServer: [Frame] = []
        if let punch = PunchMeNowFrame(round: 1, pairedWithSequenceNumber: 1, ipAddress: [198, 51, 100, 9], port: 9) {
            toServer.append(.punchMeNow(punch))
        }
        return packet(oneRTTToClient, frames + [.removeAddress(sequenceNumber: 4)]) + packet(oneRTTToServer, toServer)
    }()
}
