/// Where to reach an endpoint: its id, plus UDP addresses to try and a relay it can be reached through.
///
/// The text forms are:
/// - `ID`: the id alone; the endpoint dials it through its relays (docs/relay.md);
/// - `ID@host:port` or `ID@host1:port1,host2:port2`: direct addresses;
/// - either of those followed by `;relay=RELAYID@host:port`: a relay the peer is homed on.
///
/// `ID` is the 64-hex-character endpoint id and IPv6 literals are written in brackets (`ID@[::1]:4433`). Dialing
/// by id means TLS must prove the peer holds the matching Ed25519 key, so addresses and relays are only hints on
/// where to find it; the id is the authentication (RFC 9001 §4.4 with the certificate key pinned to the id).
public struct EndpointAddress: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// The identity the peer must prove in the handshake.
    public var id: EndpointID
    /// Candidate addresses, tried in order; empty when the peer is reached through relays only.
    public var directAddresses: [HostPort]
    /// A relay the peer is homed on, tried first when dialing through relays.
    public var relay: RelayAddress?

    /// Creates an address from an id, candidate addresses (possibly none) and an optional relay.
    public init(id: EndpointID, directAddresses: [HostPort] = [], relay: RelayAddress? = nil) {
        self.id = id
        self.directAddresses = directAddresses
        self.relay = relay
    }

    /// Parses `ID@host:port[,host:port…]`; returns nil on malformed input (use `init(parsing:)` for the reason).
    public init?(_ description: String) {
        guard let parsed = try? EndpointAddress(parsing: description) else { return nil }
        self = parsed
    }

    /// Parses `ID`, `ID@host:port[,host:port…]` and either with `;relay=RELAYID@host:port`, reporting precisely
    /// what is wrong with malformed input.
    public init(parsing text: String) throws(EndpointAddressError) {
        var head = Substring(text)
        var relay: RelayAddress?
        if let semicolon = text.firstIndex(of: ";") {
            head = text[text.startIndex..<semicolon]
            let option = text[text.index(after: semicolon)...]
            guard option.hasPrefix("relay=") else { throw .unknownOption(String(option)) }
            relay = try RelayAddress(parsing: option.dropFirst("relay=".count))
        }
        guard let at = head.firstIndex(of: "@") else {
            guard let id = EndpointID(hex: head) else {
                throw head.contains(":") ? .missingSeparator : .invalidEndpointID(String(head))
            }
            self.init(id: id, relay: relay)
            return
        }
        let idText = head[head.startIndex..<at]
        guard let id = EndpointID(hex: idText) else { throw .invalidEndpointID(String(idText)) }
        let rest = head[head.index(after: at)...]
        guard !rest.isEmpty else { throw .missingAddress }
        var addresses: [HostPort] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            addresses.append(try HostPort(parsing: part))
        }
        self.init(id: id, directAddresses: addresses, relay: relay)
    }

    /// The form `init(parsing:)` accepts: `ID`, `ID@host:port[,host:port…]`, then `;relay=…` when there is one.
    public var description: String {
        var text = id.hex
        if !directAddresses.isEmpty { text += "@" + directAddresses.map(\.description).joined(separator: ",") }
        if let relay { text += ";relay=\(relay)" }
        return text
    }
}

/// A relay: its endpoint id and where to reach it, written `ID@host:port` like any endpoint.
public struct RelayAddress: Sendable, Hashable, CustomStringConvertible {
    /// The relay's endpoint id, which its TLS handshake must prove.
    public var id: EndpointID
    /// The relay's host and port (UDP for QUIC; the same port number on TCP unless configured otherwise).
    public var address: HostPort

    /// Creates a relay address.
    public init(id: EndpointID, address: HostPort) {
        self.id = id
        self.address = address
    }

    /// Parses `ID@host:port`.
    public init(parsing text: some StringProtocol) throws(EndpointAddressError) {
        let text = Substring(text)
        guard let at = text.firstIndex(of: "@") else { throw .missingSeparator }
        let idText = text[text.startIndex..<at]
        guard let id = EndpointID(hex: idText) else { throw .invalidEndpointID(String(idText)) }
        self.init(id: id, address: try HostPort(parsing: text[text.index(after: at)...]))
    }

    /// The relay as an endpoint address (`ID@host:port`).
    public var endpointAddress: EndpointAddress { EndpointAddress(id: id, directAddresses: [address]) }

    /// `ID@host:port`.
    public var description: String { "\(id.hex)@\(address)" }
}

/// A host (IP literal or DNS name) and a UDP port.
///
/// Kept as text until dialing so a name can be resolved at connect time; IP literals are validated while parsing.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 literal, an IPv6 literal without brackets, or a DNS name.
    public var host: String
    /// The UDP port.
    public var port: UInt16

    /// Creates a host and port without validation.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[ipv6]:port`.
    public init(parsing text: some StringProtocol) throws(EndpointAddressError) {
        let text = Substring(text)
        guard !text.isEmpty else { throw .missingAddress }
        let hostText: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidHost(String(text)) }
            hostText = text[text.index(after: text.startIndex)..<close]
            let afterClose = text[text.index(after: close)...]
            guard afterClose.hasPrefix(":") else { throw .missingPort(String(text)) }
            portText = afterClose.dropFirst()
            guard IPAddressParser.parseIPv6(hostText) != nil else { throw .invalidHost(String(hostText)) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(String(text)) }
            hostText = text[text.startIndex..<colon]
            portText = text[text.index(after: colon)...]
            guard !hostText.contains(":") else {
                // An unbracketed IPv6 literal is ambiguous with the port separator.
                throw .invalidHost(String(hostText))
            }
            guard Self.isValidHostName(hostText) else { throw .invalidHost(String(hostText)) }
            if hostText.allSatisfy({ $0.isNumber || $0 == "." }), IPAddressParser.parseIPv4(hostText) == nil {
                throw .invalidHost(String(hostText))
            }
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText)
        else { throw .invalidPort(String(portText)) }
        self.init(host: String(hostText), port: port)
    }

    /// The IP address, when `host` is a literal.
    public var ipAddress: [UInt8]? {
        IPAddressParser.parseIPv4(host) ?? IPAddressParser.parseIPv6(host)
    }

    /// `host:port`, with IPv6 literals in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func isValidHostName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }
    }
}

/// Why an endpoint address string was rejected.
public enum EndpointAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// There is no `@` between the id and the addresses.
    case missingSeparator
    /// The id is not 64 hex characters.
    case invalidEndpointID(String)
    /// Nothing follows `@`, or a comma-separated entry is empty.
    case missingAddress
    /// The host is neither a valid IP literal nor a valid DNS name.
    case invalidHost(String)
    /// The entry has no `:port`.
    case missingPort(String)
    /// The port is not a number in 0…65535.
    case invalidPort(String)
    /// Something other than `relay=` follows `;`.
    case unknownOption(String)

    /// A one-line explanation for logs and command-line tools.
    public var description: String {
        switch self {
        case .missingSeparator: "expected ID@host:port"
        case .invalidEndpointID(let text): "endpoint id must be 64 hex characters, got \"\(text)\""
        case .missingAddress: "missing host:port after the endpoint id"
        case .invalidHost(let text): "invalid host \"\(text)\""
        case .missingPort(let text): "missing :port in \"\(text)\""
        case .invalidPort(let text): "invalid port \"\(text)\""
        case .unknownOption(let text): "unknown address option \"\(text)\" (expected relay=ID@host:port)"
        }
    }
}
