import ArgumentParser
import Ferry
import Foundation
import Logging

/// Options every subcommand shares, named as quinn-perf names them so scripts can drive either tool.
struct CommonOptions: ParsableArguments {
    @Option(help: "PKCS#8 PEM Ed25519 key file (an ephemeral identity when absent).")
    var key: String?

    @Option(help: "Accepted for quinn-perf compatibility and ignored: the certificate is derived from the key.")
    var cert: String?

    @Option(help: "Cipher suites: aes128gcm, aes256gcm, chacha20 (offers AES-128-GCM too, like quinn-perf), chacha20-only or any (client default aes128gcm, like quinn-perf; server default any).")
    var cipher: String?

    @Option(name: .customLong("key-update-after"), help: "Start a 1-RTT key update after this many packets under one key phase, and again every as many (RFC 9001 §6; default: near the AEAD limit).")
    var keyUpdateAfter: UInt64?

    @Option(help: "PEM file of extra certificates sent after this endpoint's own (a large handshake flight, for the anti-amplification test).")
    var chain: String?

    @Flag(help: "Report the negotiated cipher suite and key updates (client: in the JSON line; server: a `connection` line per request).")
    var details = false

    @Option(help: "UDP payload size once the handshake is done.")
    var mtu: Int = 1452

    @Option(help: "UDP socket send and receive buffer size (K/M/G suffixes).")
    var sockbuf: ByteCount = ByteCount(4 << 20)

    @Option(name: .customLong("stream-window"), help: "Per-stream receive window.")
    var streamWindow: ByteCount = ByteCount(16 << 20)

    @Option(name: .customLong("conn-window"), help: "Connection receive window.")
    var connectionWindow: ByteCount = ByteCount(64 << 20)

    @Option(name: .customLong("max-streams"), help: "Concurrent bidirectional streams the peer may open.")
    var maxStreams: UInt64 = 1024

    @Option(name: .customLong("server-name"), help: "Accepted for quinn-perf compatibility and ignored.")
    var serverName: String?

    @Option(help: "Where request code runs: loop (the endpoint's event loop, Endpoint.taskExecutor) or global (the shared concurrency pool).")
    var executor: BenchExecutor = .loop

    @Flag(name: [.short, .long], help: "Debug logging on stderr.")
    var verbose = false

    @Option(help: "A relay, ID@IP:PORT: the server links to it and waits until it is reachable by id; the client reaches a server given as ID alone through it (docs/relay.md).")
    var relay: String?

    @Option(name: .customLong("path-mode"), help: "auto (relayed connections may punch to direct paths), relay-only or direct-only.")
    var pathMode: String = "auto"

    /// `--path-mode` parsed.
    func parsedPathMode() throws -> PathMode {
        guard let mode = PathMode(rawValue: pathMode) else {
            throw ValidationError("--path-mode must be auto, relay-only or direct-only")
        }
        return mode
    }

    /// `--relay` parsed.
    func relayAddress() throws -> RelayAddress? {
        try relay.map { try RelayAddress(parsing: $0) }
    }

    /// Runs `body` with `--executor`'s task executor preference (child tasks inherit it).
    func onExecutor<T: Sendable>(of endpoint: Endpoint, _ body: () async -> T) async -> T {
        if executor == .loop, #available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *) {
            return await withTaskExecutorPreference(endpoint.taskExecutor, operation: body)
        }
        return await body()
    }

    /// The identity from `--key`, or a fresh one.
    func loadIdentity() throws -> EndpointIdentity {
        guard let key else { return EndpointIdentity.generate() }
        return try EndpointIdentity.load(fromFile: key)
    }

    /// Endpoint settings matching quinn-perf's transport choices (windows, stream limit, socket buffers).
    func makeConfiguration(defaultCipher: String) throws -> EndpointConfiguration {
        var transport = TransportConfig()
        transport.initialMaxStreamData = streamWindow.value
        transport.maxStreamWindow = max(transport.maxStreamWindow, streamWindow.value)
        transport.initialMaxData = connectionWindow.value
        transport.maxConnectionWindow = max(transport.maxConnectionWindow, connectionWindow.value)
        transport.maxConcurrentBidirectionalStreams = maxStreams
        transport.maxUDPPayloadSize = mtu
        transport.maxIdleTimeout = .seconds(30)
        if let keyUpdateAfter {
            guard keyUpdateAfter > 0 else { throw ValidationError("--key-update-after must be at least 1") }
            transport.keyUpdateInterval = keyUpdateAfter
        }
        var logger = Logger(label: "ferry-bench")
        logger.logLevel = verbose ? .debug : .warning
        if verbose, let level = ProcessInfo.processInfo.environment["FERRY_LOG"].flatMap(Logger.Level.init(rawValue:)) {
            logger.logLevel = level
        }
        var configuration = EndpointConfiguration(
            transport: transport,
            cipherSuites: try cipherSuites(cipher ?? defaultCipher),
            socketBufferSize: Int(clamping: sockbuf.value),
            logger: logger,
            relays: try relayAddress().map { [$0] } ?? [],
            pathMode: try parsedPathMode()
        )
        if let chain { configuration.certificateChain = try Self.loadCertificates(pemFile: chain) }
        return configuration
    }

    /// The DER certificates of a PEM file, in order; a file with none is an error, not an empty chain.
    static func loadCertificates(pemFile path: String) throws -> [[UInt8]] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("--chain \(path): \(error.localizedDescription)")
        }
        let begin = "-----BEGIN CERTIFICATE-----"
        let end = "-----END CERTIFICATE-----"
        var certificates: [[UInt8]] = []
        for block in text.components(separatedBy: begin).dropFirst() {
            guard let body = block.components(separatedBy: end).first,
                let der = Data(base64Encoded: body, options: .ignoreUnknownCharacters), !der.isEmpty
            else { throw ValidationError("--chain \(path): a certificate block is not valid base64") }
            certificates.append(Array(der))
        }
        guard !certificates.isEmpty else { throw ValidationError("--chain \(path): no PEM certificate found") }
        return certificates
    }

    private func cipherSuites(_ cipher: String) throws -> [CipherSuite] {
        switch cipher {
        case "aes128gcm": return [.aes128GCMSHA256]
        case "aes256gcm": return [.aes256GCMSHA384, .aes128GCMSHA256]
        case "chacha20": return [.chacha20Poly1305SHA256, .aes128GCMSHA256]
        // The quic-interop-runner's "chacha20" case: ChaCha20-Poly1305 and nothing else (RFC 9001 §5.3).
        case "chacha20-only": return [.chacha20Poly1305SHA256]
        case "any": return CipherSuite.allCases
        default: throw ValidationError("unknown --cipher \(cipher) (aes128gcm|aes256gcm|chacha20|chacha20-only|any)")
        }
    }
}

/// `--executor`: whether request code prefers the endpoint's event loop (`Endpoint.taskExecutor`) or runs on
/// the global concurrency pool; the A/B switch for the cost of a thread handoff per stream call.
enum BenchExecutor: String, ExpressibleByArgument, Sendable {
    case loop
    case global
}
