import Ferry
import Foundation

/// A one-shot client for a ferryd service: dials `ID@host:port` on ALPN `ferry/tcp/<service>`, opens one stream,
/// copies standard input to it and the stream to standard output (what `ferry connect` runs).
///
/// It makes a service reachable without a tunnel, e.g. as an ssh `ProxyCommand`, and is the smoke test the
/// README shows against the default configuration's `echo` service. End of input finishes the stream (FIN, RFC
/// 9000 §3.1), so the peer sees a half-close; the call returns once the peer has finished its side too.
public enum ServiceClient {
    /// Why a service could not be reached.
    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// The peer is not `ID@host:port`.
        case invalidPeer(String, reason: String)
        /// The key file could not be read.
        case unreadableKey(path: String, reason: String)
        /// The endpoint could not be bound.
        case bindFailed(String)
        /// Dialing failed (unreachable, wrong id, or refused by the peer's policy).
        case connectFailed(String)
        /// The stream ended abnormally (a reset, the connection closed with a code).
        case streamFailed(String)

        public var description: String {
            switch self {
            case .invalidPeer(let peer, let reason): "invalid peer '\(peer)': \(reason) (expected ID@host:port)"
            case .unreadableKey(let path, let reason): "cannot read key \(path): \(reason)"
            case .bindFailed(let reason): "cannot bind a local endpoint: \(reason)"
            case .connectFailed(let reason): "connect failed: \(reason)"
            case .streamFailed(let reason): "stream failed: \(reason)"
            }
        }
    }

    /// Dials `peer`'s `service` with `keyFile`'s identity (a fresh one when nil), relays `input` to the stream
    /// and the stream to `output` until both directions have ended; returns the bytes received.
    @discardableResult
    public static func run(
        peer: String,
        service: String,
        keyFile: String?,
        relays: [RelayAddress] = [],
        input: FileHandle = .standardInput,
        output: FileHandle = .standardOutput
    ) async throws(Failure) -> Int {
        let address: EndpointAddress
        do {
            address = try EndpointAddress(parsing: peer)
        } catch {
            throw .invalidPeer(peer, reason: error.description)
        }
        let identity: EndpointIdentity
        if let keyFile {
            do {
                identity = try EndpointIdentity.load(fromFile: keyFile)
            } catch {
                throw .unreadableKey(path: keyFile, reason: "\(error)")
            }
        } else {
            identity = EndpointIdentity.generate()
        }
        let bindHost = address.directAddresses.first.map { $0.host.contains(":") ? "::" : "0.0.0.0" } ?? "0.0.0.0"
        let endpoint: Endpoint
        do {
            endpoint = try await Endpoint.bind(
                host: bindHost, port: 0, identity: identity, alpns: [],
                configuration: EndpointConfiguration(relays: relays))
        } catch {
            throw .bindFailed("\(error)")
        }
        let result = await relay(endpoint: endpoint, address: address, service: service, input: input, output: output)
        await endpoint.close()
        return try result.get()
    }

    private static func relay(
        endpoint: Endpoint,
        address: EndpointAddress,
        service: String,
        input: FileHandle,
        output: FileHandle
    ) async -> Result<Int, Failure> {
        let connection: Connection
        do {
            connection = try await endpoint.connect(to: address, alpn: DaemonConfig.ServiceSettings.alpn(for: service))
        } catch {
            return .failure(.connectFailed(error.description))
        }
        defer { connection.close(code: 0, reason: "done") }
        let send: SendStream
        let receive: ReceiveStream
        do {
            (send, receive) = try await connection.openBidirectionalStream()
        } catch {
            return .failure(.connectFailed(error.description))
        }
        let chunks = readChunks(input)
        return await withTaskGroup(of: Result<Int, Failure>.self) { group in
            group.addTask {
                do {
                    for await chunk in chunks { try await send.write(chunk) }
                    try await send.finish()
                    return .success(0)
                } catch {
                    return .failure(.streamFailed("\(error)"))
                }
            }
            group.addTask {
                var total = 0
                do {
                    while let chunk = try await receive.read(maxLength: 64 << 10) {
                        output.write(Data(chunk))
                        total += chunk.count
                    }
                    return .success(total)
                } catch {
                    return .failure(.streamFailed("\(error)"))
                }
            }
            var received = 0
            var failure: Failure?
            for await result in group {
                switch result {
                case .success(let count): received += count
                case .failure(let error): failure = failure ?? error
                }
            }
            if let failure { return .failure(failure) }
            return .success(received)
        }
    }

    /// Reads `input` on a thread of its own (file handles block) into an async sequence of chunks.
    private static func readChunks(_ input: FileHandle) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .unbounded)
        let thread = Thread {
            while true {
                let data = input.availableData
                if data.isEmpty { break }
                continuation.yield(Array(data))
            }
            continuation.finish()
        }
        thread.name = "ferry-connect-stdin"
        thread.start()
        return stream
    }
}
