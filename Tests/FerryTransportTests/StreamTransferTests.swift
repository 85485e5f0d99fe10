import FerryTransport
import FerryWire
import XCTest

/// End-to-end transfers between two stream layers over a seeded lossy, reordering, duplicating "network".
final class StreamTransferTests: XCTestCase {
    /// Sends `sizes.count` streams from client to server with the given loss / duplication / reordering, and
    /// checks every byte arrives exactly once and in order, and every stream finishes on both sides.
    private func runTransfer(seed: UInt64, sizes: [Int], lossPercent: Int, window: UInt64) throws {
        var random = StreamTestRandom(seed: seed)
        let configuration = streamTestConfiguration(maxData: window * 2, maxStreamData: window, sendBufferLimit: 1 << 16)
        let pair = StreamPair(client: configuration, server: configuration)
        var ids: [StreamID] = []
        var written: [StreamID: Int] = [:]
        var received: [StreamID: [UInt8]] = [:]
        var finished: Set<StreamID> = []
        var finishedWriting: Set<StreamID> = []
        for _ in sizes {
            let id = try XCTUnwrap(pair.client.openStream(bidirectional: random.next(below: 2) == 0))
            ids.append(id)
            written[id] = 0
        }
        var inFlight: [(packet: StreamTestPacket, fromClient: Bool)] = []
        var rounds = 0
        while finished.count < ids.count {
            rounds += 1
            if rounds >= 20_000 {
                let states = ids.map { "\($0): \(String(describing: pair.client.sendState(of: $0)))/"
                    + "\(String(describing: pair.server.receiveState(of: $0))) "
                    + "\(received[$0]?.count ?? 0) credit \(String(describing: pair.client.sendCredit(of: $0)))" }
                XCTFail("transfer stalled (seed \(seed)): \(states) conn \(pair.client.connectionSendCredit) "
                    + "pending \(pair.client.hasPendingTransmit)")
                return
            }
            // Application writes as much as the send buffers take.
            for (index, id) in ids.enumerated() where !finishedWriting.contains(id) {
                let offset = written[id, default: 0]
                let chunk = streamTestBytes(offset: offset, count: min(sizes[index] - offset, 1 + random.next(below: 20_000)))
                let accepted = try pair.client.write(id, chunk)
                written[id] = offset + accepted
                if offset + accepted == sizes[index] {
                    try pair.client.finish(id)
                    finishedWriting.insert(id)
                }
            }
            // Both sides produce a few packets.
            for _ in 0..<(1 + random.next(below: 4)) {
                if let packet = streamTestPacket(from: pair.client, capacity: 200 + random.next(below: 1300)) {
                    inFlight.append((packet, true))
                }
            }
            if let packet = streamTestPacket(from: pair.server) { inFlight.append((packet, false)) }
            // Deliver a random subset in random order; lose, duplicate or delay the rest.
            var remaining: [(packet: StreamTestPacket, fromClient: Bool)] = []
            for index in inFlight.indices.reversed() { inFlight.swapAt(index, random.next(below: index + 1)) }
            for item in inFlight {
                let sender = item.fromClient ? pair.client : pair.server
                let receiver = item.fromClient ? pair.server : pair.client
                let roll = random.next(below: 100)
                if roll < lossPercent {
                    item.packet.sentFrames.forEach(sender.onLost)
                } else if roll < lossPercent + 10 {
                    remaining.append(item)  // delayed
                } else {
                    try streamTestDeliver(item.packet, to: receiver)
                    if roll < lossPercent + 15 { try streamTestDeliver(item.packet, to: receiver) }  // duplicate
                    item.packet.sentFrames.forEach(sender.onAcknowledged)
                }
            }
            inFlight = remaining
            // The server application reads.
            while let event = pair.server.pollEvent() {
                guard case .readable(let id) = event else { continue }
                _ = id
            }
            for id in ids where !finished.contains(id) {
                guard pair.server.receiveState(of: id) != nil else { continue }
                let (bytes, isFinished) = try streamTestReadAll(pair.server, id)
                received[id, default: []] += bytes
                if isFinished { finished.insert(id) }
            }
            _ = streamTestEvents(pair.client)
        }
        for (index, id) in ids.enumerated() {
            XCTAssertEqual(received[id]?.count, sizes[index], "seed \(seed) \(id)")
            XCTAssertEqual(received[id], streamTestBytes(offset: 0, count: sizes[index]), "seed \(seed) \(id)")
        }
        // Drain acknowledgements: the client's sending parts all complete.
        for _ in 0..<1000 {
            for item in inFlight {
                item.packet.sentFrames.forEach((item.fromClient ? pair.client : pair.server).onLost)
            }
            inFlight = []
            guard pair.client.hasPendingTransmit || pair.server.hasPendingTransmit else { break }
            try streamTestPump(from: pair.client, to: pair.server)
            try streamTestPump(from: pair.server, to: pair.client)
        }
        for id in ids {
            let state = pair.client.sendState(of: id)
            XCTAssertTrue(state == nil || state == .dataReceived, "seed \(seed) \(id) \(String(describing: state))")
        }
    }

    func testLossyTransfersAcrossSeeds() throws {
        for seed in UInt64(1)...8 {
            try runTransfer(seed: seed, sizes: [50_000, 1, 0, 120_000, 7_777], lossPercent: 15, window: 16_384)
        }
    }

    func testLosslessBulkTransfer() throws {
        try runTransfer(seed: 99, sizes: [400_000], lossPercent: 0, window: 65_536)
    }
}
