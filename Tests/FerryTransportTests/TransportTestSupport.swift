import XCTest
import FerryTestSupport
@testable import FerryTransport

/// The perf protocol's payload pattern: byte k is k % 251.
func patternBytes(count: Int, offset: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8((offset + $0) % 251) }
}

/// Drives application behaviour on a `SimulatedNetwork`: queues writes (respecting flow control), reads
/// readable streams to completion, and records what arrived, so tests can check transfers byte for byte.
final class StreamHarness {
    struct Outgoing {
        var role: SimulatedNetwork.Role
        var handle: ConnectionHandle
        var stream: StreamID
        var data: [UInt8]
        var offset: Int
        var finish: Bool
        var finished: Bool
    }

    let network: SimulatedNetwork
    var outgoing: [Outgoing] = []
    var received: [SimulatedNetwork.Role: [StreamID: [UInt8]]] = [.client: [:], .server: [:]]
    var finishedStreams: [SimulatedNetwork.Role: Set<StreamID>] = [.client: [], .server: []]
    var openedByPeer: [SimulatedNetwork.Role: [StreamID]] = [.client: [], .server: []]
    /// Called when a stream finishes: (role, handle, stream, all bytes).
    var onStreamFinished: ((SimulatedNetwork.Role, ConnectionHandle, StreamID, [UInt8]) -> Void)?
    var closedEvents: [(SimulatedNetwork.Role, ConnectionCloseReason)] = []
    var datagrams: [SimulatedNetwork.Role: [[UInt8]]] = [.client: [], .server: []]

    init(network: SimulatedNetwork) {
        self.network = network
        network.onEvent = { [unowned self] role, handle, event in
            self.handle(role: role, handle: handle, event: event)
        }
    }

    func endpoint(_ role: SimulatedNetwork.Role) -> TransportEndpoint {
        role == .client ? network.client : network.server
    }

    func send(_ data: [UInt8], on stream: StreamID, role: SimulatedNetwork.Role, handle: ConnectionHandle, finish: Bool = true) {
        outgoing.append(Outgoing(role: role, handle: handle, stream: stream, data: data, offset: 0, finish: finish, finished: false))
        pump()
    }

    /// Writes as much queued data as flow control and buffers allow.
    func pump() {
        for index in outgoing.indices where !outgoing[index].finished {
            guard let connection = endpoint(outgoing[index].role).connection(outgoing[index].handle) else { continue }
            var item = outgoing[index]
            while item.offset < item.data.count {
                let accepted: Int
                do {
                    accepted = try item.data[item.offset...].withUnsafeBytes { try connection.write(item.stream, $0) }
                } catch {
                    break
                }
                if accepted == 0 { break }
                item.offset += accepted
            }
            if item.offset == item.data.count && item.finish {
                try? connection.finish(item.stream)
                item.finished = true
            } else if item.offset == item.data.count {
                item.finished = true
            }
            outgoing[index] = item
        }
    }

    func handle(role: SimulatedNetwork.Role, handle: ConnectionHandle, event: ConnectionEvent) {
        switch event {
        case .streamOpened(let stream):
            openedByPeer[role, default: []].append(stream)
            drain(role: role, handle: handle, stream: stream)
        case .streamReadable(let stream):
            drain(role: role, handle: handle, stream: stream)
        case .streamWritable:
            pump()
        case .closed(let reason):
            closedEvents.append((role, reason))
        case .datagramReceived:
            guard let connection = endpoint(role).connection(handle) else { return }
            while let datagram = connection.receiveDatagram() {
                datagrams[role, default: []].append(datagram)
            }
        default:
            break
        }
    }

    func drain(role: SimulatedNetwork.Role, handle: ConnectionHandle, stream: StreamID) {
        guard let connection = endpoint(role).connection(handle) else { return }
        while true {
            guard let result = try? connection.read(stream, maxLength: 1 << 20) else { return }
            switch result {
            case .data(let bytes):
                received[role, default: [:]][stream, default: []].append(contentsOf: bytes)
            case .finished:
                if !(finishedStreams[role]?.contains(stream) ?? false) {
                    finishedStreams[role, default: []].insert(stream)
                    onStreamFinished?(role, handle, stream, received[role]?[stream] ?? [])
                }
                return
            case .blocked:
                return
            }
        }
    }

    /// Runs the network, pumping writes, until `predicate` holds.
    @discardableResult
    func run(timeLimit: Duration = .seconds(60), until predicate: () -> Bool) -> Bool {
        network.run(until: {
            pump()
            return predicate()
        }, timeLimit: timeLimit)
    }

    /// Connects and runs until both sides completed the handshake; returns the client handle.
    func establish(file: StaticString = #filePath, line: UInt = #line) throws -> ConnectionHandle {
        let handle = try network.connect()
        XCTAssertTrue(run(timeLimit: .seconds(10)) {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, "handshake did not complete", file: file, line: line)
        return handle
    }
}
