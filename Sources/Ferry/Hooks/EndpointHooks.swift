/// Policy callbacks an endpoint consults at each stage of a connection's life (design.md, "Hook model").
///
/// Usable as `any EndpointHooks`, so hooks of different types can be stored in one array and installed together
/// (iroh's `EndpointHooks` trait is not object-safe, which forces users into generics). Every method has a
/// default that accepts, so a hook implements only the stages it cares about.
///
/// The requirements are declared `async throws`; an implementation may drop `throws` (a non-throwing method
/// satisfies a throwing requirement). A hook that throws, or does not answer within the chain's deadline,
/// counts as a rejection: the chain fails closed.
///
/// Hooks never receive a `Connection`: `afterHandshake` gets a read-only `HookConnection`, so the compiler
/// guarantees a policy hook cannot open, accept, read or write streams or datagrams.
public protocol EndpointHooks: Sendable {
    /// Decides whether an outgoing connection may start; runs before any packet is sent.
    ///
    /// A rejection surfaces to the caller of `Endpoint.connect` as `ConnectionError.locallyRejected`, and the
    /// peer never hears of the attempt.
    func beforeConnect(remote: EndpointAddress, alpn: String) async throws -> BeforeConnectOutcome

    /// Decides what to do with a new incoming connection attempt, before handshake work is spent on it.
    ///
    /// Sees addresses only (RFC 9000 §8 address validation state, the ClientHello's ALPNs when known); the
    /// peer's identity is not known yet.
    func incoming(_ info: IncomingInfo) async throws -> IncomingOutcome

    /// Decides whether an authenticated connection may reach the application; runs on both sides after TLS
    /// completes (RFC 9001 §4.1.1) and before any stream data is delivered.
    ///
    /// A rejection closes the connection with the hook's application error code and reason
    /// (CONNECTION_CLOSE 0x1d, RFC 9000 §19.19), so the peer sees them.
    func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome
}

extension EndpointHooks {
    /// Accepts every outgoing connection.
    public func beforeConnect(remote: EndpointAddress, alpn: String) async throws -> BeforeConnectOutcome {
        .accept
    }

    /// Accepts every incoming attempt.
    public func incoming(_ info: IncomingInfo) async throws -> IncomingOutcome {
        .accept
    }

    /// Accepts every authenticated connection.
    public func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
        .accept
    }
}

/// What `beforeConnect` decided for an outgoing connection.
public enum BeforeConnectOutcome: Sendable, Hashable {
    /// Let the connection start (and let later hooks decide).
    case accept
    /// Refuse it locally; nothing is sent.
    case reject
}

/// What the incoming filter decided for a new connection attempt (the choices quinn's `Incoming` offers).
public enum IncomingOutcome: Sendable, Hashable {
    /// Go on with the handshake (and let later hooks decide).
    case accept
    /// Refuse the attempt with CONNECTION_REFUSED (RFC 9000 §20.1).
    case reject
    /// Ask the client to prove its address with a Retry packet first (RFC 9000 §8.1.2).
    case retry
    /// Drop the attempt silently, as if the datagram never arrived.
    case ignore
}

/// What `afterHandshake` decided for an authenticated connection.
public enum AfterHandshakeOutcome: Sendable, Hashable {
    /// Hand the connection to the application (and let later hooks decide).
    case accept
    /// Close it with this application error code and reason; the peer sees both (RFC 9000 §10.2).
    case reject(code: UInt64, reason: String)
}

/// What the incoming filter can see about a connection attempt: addresses, nothing cryptographic.
public struct IncomingInfo: Sendable, Hashable {
    /// Where the attempt came from.
    public var remoteAddress: HostPort
    /// The local socket address it arrived on.
    public var localAddress: HostPort
    /// Whether the client has proven it can receive at `remoteAddress` (a valid Retry or NEW_TOKEN token, or a
    /// completed handshake; RFC 9000 §8.1).
    public var isAddressValidated: Bool
    /// The application protocols the ClientHello offers, best effort: empty when they are not known at this stage.
    public var alpns: [String]

    /// Creates a description of an incoming attempt.
    public init(remoteAddress: HostPort, localAddress: HostPort, isAddressValidated: Bool, alpns: [String]) {
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.isAddressValidated = isAddressValidated
        self.alpns = alpns
    }
}
