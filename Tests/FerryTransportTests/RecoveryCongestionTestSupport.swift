import FerryTransport

/// Drives a congestion controller directly: sends whole windows and acknowledges them a round trip later.
struct CongestionDriver {
    let controller: any CongestionController
    var rtt: RTTEstimator
    var now: Instant
    var nextPacketNumber: UInt64 = 0
    let roundTrip: Duration

    init(_ controller: any CongestionController, roundTrip: Duration = .milliseconds(100), start: Instant = ms(1000)) {
        self.controller = controller
        self.roundTrip = roundTrip
        now = start
        rtt = RTTEstimator()
        rtt.update(latestRTT: roundTrip, ackDelay: .zero, maxAckDelay: .zero, isHandshakeConfirmed: true)
    }

    /// Sends `count` full-size packets at the current time.
    mutating func send(_ count: Int) -> [SentPacket] {
        var packets: [SentPacket] = []
        for _ in 0..<count {
            let packet = sentPacket(nextPacketNumber, at: now, size: controller.maxDatagramSize)
            nextPacketNumber += 1
            controller.onPacketSent(size: packet.size, now: now)
            packets.append(packet)
        }
        return packets
    }

    /// Sends as many packets as the window allows.
    mutating func fillWindow() -> [SentPacket] {
        send(max(1, controller.availableWindow / controller.maxDatagramSize))
    }

    /// Advances the clock one round trip and acknowledges `packets`, `perAck` packets per ACK.
    mutating func acknowledgeAfterRoundTrip(_ packets: [SentPacket], perAck: Int = 2) {
        now = now + roundTrip
        var index = 0
        while index < packets.count {
            let batch = Array(packets[index..<min(index + perAck, packets.count)])
            controller.onPacketsAcknowledged(batch, rtt: rtt, now: now)
            index += perAck
        }
    }

    /// One round trip with a full window.
    mutating func runRound() {
        let packets = fillWindow()
        acknowledgeAfterRoundTrip(packets)
    }
}
