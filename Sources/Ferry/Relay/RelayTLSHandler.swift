import FerryCrypto
import NIOCore

/// Relay messages over TLS 1.3 on a TCP connection: the fallback for networks that block UDP (docs/relay.md §3.1).
///
/// TLS runs in FerryCrypto's sans-IO `TLSStreamSession` (OpenSSL 3.0, the same mutual Ed25519 certificate
/// authentication as QUIC: the client pins the relay's key to its id, the relay learns the client's id). This
/// handler moves bytes between it and the channel, splits the plaintext into length-prefixed relay messages and
/// hands each to `onMessage` on the channel's event loop. Sending checks the channel's writability, so a peer that
/// does not read cannot make the relay or the client buffer without bound: a message that finds the channel
/// unwritable is dropped and the caller counts it.
package final class RelayTLSHandler: ChannelInboundHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    private let session: TLSStreamSession
    private var decoder = RelayFrameDecoder()
    private var context: ChannelHandlerContext?
    private var isEstablished = false
    /// Called once the handshake authenticated the peer.
    package var onEstablished: ((EndpointID) -> Void)?
    /// Called for every relay message after the handshake.
    package var onMessage: ((RelayMessage) -> Void)?
    /// Called once when the connection ends, with the reason.
    package var onClosed: ((String) -> Void)?
    private var closeReason: String?

    package init(session: TLSStreamSession) {
        self.session = session
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    package func channelActive(context: ChannelHandlerContext) {
        do {
            try session.start()
        } catch {
            return fail("TLS: \(error.reason)")
        }
        flushCiphertext()
        context.fireChannelActive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try session.receive(Array(buffer.readableBytesView))
        } catch {
            flushCiphertext()
            return fail("TLS: \(error.reason)")
        }
        flushCiphertext()
        if !isEstablished, session.isHandshakeComplete, let peer = session.peerID {
            isEstablished = true
            onEstablished?(peer)
        }
        // The session hands out at most 64 KiB of plaintext at a time and decrypts the next records on each
        // take, so drain it until it is empty.
        while true {
            let plaintext = session.takePlaintext()
            if plaintext.isEmpty { break }
            decoder.append(plaintext)
            do {
                while let message = try decoder.next() { onMessage?(message) }
            } catch {
                return fail("\(error)")
            }
        }
        if let failure = session.failure { return fail("TLS: \(failure.reason)") }
        if session.isClosedByPeer { fail("peer closed the TLS session") }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        reportClosed(closeReason ?? "TCP connection closed")
        context.fireChannelInactive()
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("TCP error: \(error)")
    }

    /// Encrypts and writes framed relay bytes; false (nothing written) when the channel is not writable or the
    /// session failed.
    package func send(framed bytes: [UInt8]) -> Bool {
        guard let context, context.channel.isWritable, closeReason == nil else { return false }
        do {
            try session.write(bytes)
        } catch {
            fail("TLS: \(error.reason)")
            return false
        }
        flushCiphertext()
        return true
    }

    /// Sends a `close` message with the reason, then closes.
    package func close(code: UInt8, reason: String) {
        var framed: [UInt8] = []
        RelayFrameDecoder.frame(.close(code: code, reason: reason), into: &framed)
        _ = send(framed: framed)
        fail(reason)
    }

    private func flushCiphertext() {
        guard let context else { return }
        let ciphertext = session.takeCiphertext()
        guard !ciphertext.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: ciphertext)), promise: nil)
    }

    private func fail(_ reason: String) {
        guard closeReason == nil else { return }
        closeReason = reason
        session.close()
        flushCiphertext()
        context?.close(promise: nil)
    }

    private func reportClosed(_ reason: String) {
        let callback = onClosed
        onClosed = nil
        callback?(reason)
    }
}
