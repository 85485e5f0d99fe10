import Ferry
import FerryCrypto
import FerryDaemon
import Logging

/// Serves one relay connection over QUIC, from hello to close (docs/relay.md §3, §4).
///
/// The client opens the relay stream and says `clientHello`; the relay checks the version, the token (access
/// `token`) and, for a mesh peer, that its id is configured in `mesh`, registers it and answers `serverHello`.
/// Then packets arrive as DATAGRAM frames or framed on the stream, and each goes through `RelayForwarder`. Any
/// malformed or unexpected message closes this connection alone, with the reason (code 0x1).
struct RelaySession: Sendable {
    let connection: Connection
    let forwarder: RelayForwarder
    let config: RelayConfig
    let meshIDs: Set<EndpointID>
    let logger: Logger

    /// Why the session ended early.
    enum Refusal: Error {
        case refused(code: UInt64, reason: String, metric: String)
    }

    func run() async {
        let peer = connection.remoteID
        let hello: (SendStream, ReceiveStream, RelayFrameDecoder, Bool)
        do {
            hello = try await receiveHello()
        } catch {
            if case .refused(let code, let reason, let metric) = error {
                logger.info("relay client refused", metadata: ["peer": "\(peer.shortDescription)", "reason": "\(reason)"])
                forwarder.metrics.refused(metric)
                connection.close(code: code, reason: reason)
            }
            return
        }
        let (send, receive, decoder, isMeshPeer) = hello
        let outlet = QUICRelayOutlet(peerID: peer, connection: connection, queueLimit: forwarder.limits.queuePackets)
        if !isMeshPeer {
            guard forwarder.register(outlet) else {
                forwarder.metrics.refused("full")
                connection.close(code: RelayCloseCode.full, reason: "relay is full (\(forwarder.limits.maximumClients) clients)")
                return
            }
        }
        _ = outlet.offerControl(RelayMessage.serverHello(version: RelayMessage.version).encoded)
        logger.debug("relay client registered", metadata: ["peer": "\(peer.shortDescription)", "mesh": "\(isMeshPeer)"])
        let limiterBox = Locked(
            RelayRateLimiter(bytesPerSecond: forwarder.limits.bytesPerSecond, burstBytes: forwarder.limits.burstBytes))
        if !isMeshPeer {
            await connection.installDatagramSwitch(RelayFastPath(source: peer, forwarder: forwarder, limiter: limiterBox))
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await outlet.runWriter(send) }
            group.addTask {
                await readStream(receive, decoder: decoder, outlet: outlet, isMeshPeer: isMeshPeer, limiter: limiterBox)
            }
            group.addTask { await readDatagrams(outlet: outlet, isMeshPeer: isMeshPeer, limiter: limiterBox) }
            // The datagram loop and the stream reader end when the connection does; then stop the writer.
            _ = await group.next()
            _ = await connection.closed
            outlet.finish()
        }
        if isMeshPeer {
            forwarder.meshRelayGone(peer)
        } else {
            forwarder.unregister(outlet)
        }
        logger.debug("relay client gone", metadata: ["peer": "\(peer.shortDescription)"])
    }

    /// Accepts the relay stream and reads `clientHello`, within `helloTimeout`.
    private func receiveHello() async throws(Refusal) -> (SendStream, ReceiveStream, RelayFrameDecoder, Bool) {
        let connection = self.connection
        let timeout = config.limits.helloTimeout
        let result: Result<(SendStream, ReceiveStream, RelayFrameDecoder, RelayMessage), Refusal>? =
            await withTaskGroup(of: Result<(SendStream, ReceiveStream, RelayFrameDecoder, RelayMessage), Refusal>?.self) { group in
                group.addTask {
                    do {
                        let (send, receive) = try await connection.acceptBidirectionalStream()
                        var decoder = RelayFrameDecoder()
                        while true {
                            if let message = try decoder.next() { return .success((send, receive, decoder, message)) }
                            guard let bytes = try await receive.read(maxLength: 4096) else {
                                return .failure(.refused(code: RelayCloseCode.protocolViolation, reason: "relay stream ended before hello", metric: "protocol"))
                            }
                            decoder.append(bytes)
                        }
                    } catch let error as RelayProtocolError {
                        return .failure(.refused(code: RelayCloseCode.protocolViolation, reason: "\(error)", metric: "protocol"))
                    } catch {
                        return nil
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    if Task.isCancelled { return nil }
                    return .failure(.refused(code: RelayCloseCode.helloTimeout, reason: "no hello within \(timeout)", metric: "hello_timeout"))
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        guard let result else { throw .refused(code: 0, reason: "connection closed", metric: "closed") }
        let (send, receive, decoder, message) = try result.get()
        guard case .clientHello(let version, let isMeshPeer, let token) = message else {
            throw .refused(code: RelayCloseCode.protocolViolation, reason: "\(RelayProtocolError.unexpected(message.typeCode)) before hello", metric: "protocol")
        }
        guard version == RelayMessage.version else {
            throw .refused(code: RelayCloseCode.protocolViolation, reason: "unsupported relay protocol version \(version)", metric: "protocol")
        }
        if isMeshPeer {
            guard meshIDs.contains(connection.remoteID) else {
                throw .refused(code: RelayCloseCode.unauthorized, reason: "not a configured mesh relay", metric: "unauthorized")
            }
        } else if case .token(let expected) = config.access, token != Array(expected.utf8) {
            throw .refused(code: RelayCloseCode.unauthorized, reason: token.isEmpty ? "relay requires a token" : "wrong relay token", metric: "unauthorized")
        }
        return (send, receive, decoder, isMeshPeer)
    }

    private func readDatagrams(outlet: QUICRelayOutlet, isMeshPeer: Bool, limiter: Locked<RelayRateLimiter>) async {
        while true {
            let datagram: [UInt8]
            do {
                datagram = try await connection.receiveDatagram()
            } catch {
                return
            }
            guard await handle(datagram[...], outlet: outlet, isMeshPeer: isMeshPeer, limiter: limiter) else { return }
        }
    }

    private func readStream(
        _ receive: ReceiveStream, decoder: RelayFrameDecoder, outlet: QUICRelayOutlet, isMeshPeer: Bool,
        limiter: Locked<RelayRateLimiter>
    ) async {
        var decoder = decoder
        while true {
            do {
                while let message = try decoder.next() {
                    guard await handle(message, outlet: outlet, isMeshPeer: isMeshPeer, limiter: limiter) else { return }
                }
                guard let bytes = try await receive.read(maxLength: 65_536) else {
                    return violation(outlet, "relay stream ended")
                }
                decoder.append(bytes)
            } catch let error as RelayProtocolError {
                return violation(outlet, "\(error)")
            } catch {
                return
            }
        }
    }

    /// Handles one datagram-form message; false once the connection was closed for a violation.
    private func handle(_ bytes: ArraySlice<UInt8>, outlet: QUICRelayOutlet, isMeshPeer: Bool, limiter: Locked<RelayRateLimiter>) async -> Bool {
        do {
            return await handle(try RelayMessage(decoding: bytes), outlet: outlet, isMeshPeer: isMeshPeer, limiter: limiter)
        } catch {
            violation(outlet, "\(error)")
            return false
        }
    }

    private func handle(_ message: RelayMessage, outlet: QUICRelayOutlet, isMeshPeer: Bool, limiter: Locked<RelayRateLimiter>) async -> Bool {
        switch message {
        case .sendPacket(let destination, let packet) where !isMeshPeer:
            let now = RelayClock.seconds()
            guard limiter.withLock({ $0.allow(packet.count, now: now) }) else {
                forwarder.drop(.rateLimited)
                return true
            }
            await forwarder.forward(from: outlet, to: destination, packet: packet)
        case .ping(let payload):
            _ = outlet.offerControl(RelayMessage.pong(payload).encoded)
        case .pong:
            break
        case .peersPresent(let ids) where isMeshPeer:
            forwarder.meshPeers(ids, present: true, at: outlet.peerID)
        case .peersAbsent(let ids) where isMeshPeer:
            forwarder.meshPeers(ids, present: false, at: outlet.peerID)
        case .meshForward(let source, let destination, let packet) where isMeshPeer:
            await forwarder.deliverFromMesh(source: source, destination: destination, packet: packet)
        default:
            violation(outlet, "\(RelayProtocolError.unexpected(message.typeCode))")
            return false
        }
        return true
    }

    private func violation(_ outlet: QUICRelayOutlet, _ reason: String) {
        logger.info("relay client closed for a protocol violation", metadata: [
            "peer": "\(outlet.peerID.shortDescription)", "reason": "\(reason)",
        ])
        forwarder.metrics.refused("protocol")
        outlet.close(code: RelayCloseCode.protocolViolation, reason: reason)
    }
}

/// The fixed origin `durationSinceStart` counts from.
enum RelayClock {
    static let origin = ContinuousClock.now

    /// Seconds since `origin`.
    static func seconds() -> Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
