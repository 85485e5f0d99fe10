import FerryTransport

// Application commands the fuzzer issues between packets, so the send side of streams, datagrams, migration and
// NAT traversal runs against the fuzzer's ACKs and frames. Body: `command (1) | argument (1) | size (1) | ...`.

extension FuzzWorld {
    /// Bytes written per unit of the size argument; 255 units fill well past small and default windows.
    static let writeUnit = 257

    func applicationCommand(_ body: ArraySlice<UInt8>, on role: FuzzRole) {
        guard let handle = handles[role.rawValue], let connection = endpoint(role).connection(handle) else { return }
        let bytes = Array(body)
        let command = bytes.first ?? 0
        let argument = bytes.count > 1 ? bytes[1] : 0
        let size = bytes.count > 2 ? Int(bytes[2]) : 0
        let stream = chooseStream(argument, for: role)
        switch command % 16 {
        case 0:
            if let opened = connection.openStream(bidirectional: argument & 1 == 0) {
                remember(opened, for: role)
                _ = try? connection.write(opened, payload(size))
            }
        case 1:
            if let stream { _ = try? connection.write(stream, payload(size)) }
        case 2:
            if let stream { try? connection.finish(stream) }
        case 3:
            if let stream { try? connection.resetStream(stream, errorCode: UInt64(size)) }
        case 4:
            if let stream { try? connection.stopSending(stream, errorCode: UInt64(size)) }
        case 5:
            try? connection.sendDatagram(payload(size * 5))
        case 6:
            if let stream { try? connection.setPriority(stream, Int(Int8(bitPattern: UInt8(size)))) }
        case 7:
            connection.close(errorCode: UInt64(size), reason: "fuzz", now: now)
        case 8:
            let local = Self.makeAddress([10, 0, 1, argument], UInt16(5000 + size))
            try? connection.migrate(to: local, from: Self.clientAddress, now: now)
        case 9:
            connection.rotateLocalConnectionIDs()
        case 10:
            let candidates = (0..<Int(argument % 4)).map { Self.makeAddress([198, 51, 100, UInt8($0)], UInt16(6000 + size)) }
            connection.setLocalCandidates(candidates)
            connection.allowCandidateAdvertisement()
        case 11:
            try? connection.startPunching(now: now)
        case 12:
            try? connection.restartPunching(now: now)
        case 13:
            connection.setKeepAliveInterval(argument == 0 ? nil : .milliseconds(Int64(argument) * 10))
        case 14:
            if let stream { _ = try? connection.read(stream, maxLength: size + 1) }
        default:
            endpoint(role).close(errorCode: UInt64(argument), reason: "fuzz endpoint close", now: now)
        }
    }

    /// A stream the role knows, or with the top bit set, any stream ID the argument names (it may not exist).
    private func chooseStream(_ argument: UInt8, for role: FuzzRole) -> StreamID? {
        if argument & 0x80 != 0 { return StreamID(rawValue: UInt64(argument & 0x7F)) }
        let streams = knownStreams[role.rawValue]
        guard !streams.isEmpty else { return nil }
        return streams[Int(argument) % streams.count]
    }

    private func payload(_ units: Int) -> [UInt8] {
        [UInt8](repeating: 0x61, count: units * Self.writeUnit)
    }
}
