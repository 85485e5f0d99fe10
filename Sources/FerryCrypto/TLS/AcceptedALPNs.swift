#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The application protocols (ALPN, RFC 7301) a server accepts, changeable while the endpoint runs.
///
/// `OpenSSLCryptoProvider` takes a snapshot of this list for every new server session, so changing it never
/// rebuilds the shared `SSL_CTX` and never disturbs a handshake in flight: each handshake selects from the list
/// as it was when the session was created (its first Initial), and the next handshake sees the change. A client
/// whose offered protocols are all absent is refused in TLS with no_application_protocol, which QUIC carries as
/// CONNECTION_CLOSE 0x0178 (RFC 9001 §8.1, §4.8). An empty list therefore refuses every incoming handshake.
///
/// Order is preference order: the server picks the first protocol of the client's list that appears here
/// (RFC 7301 §3.2), so the order only matters for clients that offer several. New protocols go last.
/// Thread-safe: sessions are created on several event-loop threads while a control task edits the list.
public final class AcceptedALPNs: @unchecked Sendable {
    // @unchecked Sendable: `protocols` is read and written only with `mutex` held.

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var list: [[UInt8]]

    /// Accepts `protocols` (wire form), in preference order; duplicates are dropped.
    ///
    /// Throws `ALPNError` for an empty or over-long id (RFC 7301 §3.1: each ProtocolName is 1...255 bytes).
    public init(_ protocols: [[UInt8]]) throws(ALPNError) {
        var list: [[UInt8]] = []
        for id in protocols {
            try Self.validate(id)
            if !list.contains(id) { list.append(id) }
        }
        self.list = list
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    /// Accepts the UTF-8 encodings of `names`, in preference order.
    public convenience init(names: [String]) throws(ALPNError) {
        try self.init(names.map { Array($0.utf8) })
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// The accepted protocols now, in preference order: the snapshot a new server session selects from.
    public var protocols: [[UInt8]] {
        locked { $0 }
    }

    /// Whether `id` is accepted now.
    public func contains(_ id: [UInt8]) -> Bool {
        locked { $0.contains(id) }
    }

    /// Accepts `id` from the next handshake on, after every protocol already accepted; returns false when it
    /// already was (its preference is then unchanged).
    @discardableResult
    public func insert(_ id: [UInt8]) throws(ALPNError) -> Bool {
        try Self.validate(id)
        return locked { list in
            guard !list.contains(id) else { return false }
            list.append(id)
            return true
        }
    }

    /// Stops accepting `id` from the next handshake on; returns false when it was not accepted. Handshakes that
    /// already started may still select it, and established connections are not affected.
    @discardableResult
    public func remove(_ id: [UInt8]) -> Bool {
        locked { list in
            guard let index = list.firstIndex(of: id) else { return false }
            list.remove(at: index)
            return true
        }
    }

    /// Replaces the whole list in one step (validating every id first, so a bad one changes nothing).
    public func replace(with protocols: [[UInt8]]) throws(ALPNError) {
        let replacement = try AcceptedALPNs(protocols).protocols
        locked { $0 = replacement }
    }

    /// RFC 7301 §3.1: "Empty strings MUST NOT be included"; a ProtocolName is at most 2^8-1 bytes.
    static func validate(_ id: [UInt8]) throws(ALPNError) {
        if id.isEmpty { throw .emptyProtocolID }
        if id.count > 255 { throw .protocolIDTooLong(length: id.count) }
    }

    private func locked<Result>(_ body: (inout [[UInt8]]) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&list)
    }
}

/// Why an application protocol id cannot be accepted or offered (RFC 7301 §3.1).
public enum ALPNError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An empty protocol id; RFC 7301 forbids them.
    case emptyProtocolID
    /// A protocol id longer than 255 bytes, which the one-byte length prefix cannot carry.
    case protocolIDTooLong(length: Int)
    /// The endpoint was bound to dial only, so it accepts no connections and no ALPN can be added.
    case endpointDoesNotAccept

    /// A one-line explanation for logs and command-line tools.
    public var description: String {
        switch self {
        case .emptyProtocolID: "ALPN protocol ids must not be empty (RFC 7301 §3.1)"
        case .protocolIDTooLong(let length): "ALPN protocol id of \(length) bytes; at most 255 (RFC 7301 §3.1)"
        case .endpointDoesNotAccept: "the endpoint was bound to dial only; it accepts no ALPN"
        }
    }
}
