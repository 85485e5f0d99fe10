import Ferry
import Logging

/// `allow-endpoints` / `deny-endpoints`: decides on the peer's proven endpoint id after the handshake.
public struct EndpointListHook: DaemonPolicyHook {
    /// Whether listed ids are the only ones allowed, or the ones refused.
    public enum Mode: Sendable {
        /// Reject unless listed.
        case allow
        /// Reject if listed.
        case deny
    }

    public let context: PolicyHookContext
    /// Allow or deny.
    public let mode: Mode
    /// The listed ids.
    public let endpoints: Set<EndpointID>

    /// Creates the hook.
    public init(context: PolicyHookContext, mode: Mode, endpoints: Set<EndpointID>) {
        self.context = context
        self.mode = mode
        self.endpoints = endpoints
    }

    public func check(_ subject: PolicySubject) async -> PolicyVerdict {
        let listed = endpoints.contains(subject.remoteID)
        switch mode {
        case .allow: return listed ? .accept : .reject(reason: "endpoint \(subject.remoteID.shortDescription) is not allowed")
        case .deny: return listed ? .reject(reason: "endpoint \(subject.remoteID.shortDescription) is denied") : .accept
        }
    }
}

/// `allow-ips` / `deny-ips`: decides on the source address, before the handshake when possible.
///
/// Without a `services` filter the check runs in the incoming filter, before any handshake work (RFC 9000 §8
/// has not validated the address yet, so a spoofed source can only cause a refusal). With a filter it runs after
/// the handshake, when the ALPN says which service is wanted.
public struct IPFilterHook: DaemonPolicyHook {
    public let context: PolicyHookContext
    /// Allow or deny.
    public let mode: EndpointListHook.Mode
    /// The address blocks.
    public let blocks: [CIDRBlock]

    /// Creates the hook.
    public init(context: PolicyHookContext, mode: EndpointListHook.Mode, blocks: [CIDRBlock]) {
        self.context = context
        self.mode = mode
        self.blocks = blocks
    }

    /// The decision for one address.
    public func verdict(for address: HostPort) -> PolicyVerdict {
        let listed = blocks.contains { $0.contains(address) }
        switch mode {
        case .allow: return listed ? .accept : .reject(reason: "address \(address.host) is not allowed")
        case .deny: return listed ? .reject(reason: "address \(address.host) is denied") : .accept
        }
    }

    public var checksIncoming: Bool { true }

    public func checkIncoming(_ info: IncomingInfo) async -> PolicyVerdict {
        verdict(for: info.remoteAddress)
    }

    public func check(_ subject: PolicySubject) async -> PolicyVerdict {
        // Unfiltered hooks already ran before the handshake; re-checking is cheap and covers reloads.
        verdict(for: subject.remoteAddress)
    }
}

/// `log`: logs every decision point and accepts everything.
public struct LogHook: DaemonPolicyHook {
    public let context: PolicyHookContext
    /// The level decisions are logged at.
    public let level: Logger.Level

    /// Creates the hook.
    public init(context: PolicyHookContext, level: Logger.Level = .info) {
        self.context = context
        self.level = level
    }

    public var checksIncoming: Bool { true }

    public func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        context.recorder.logger.log(level: level, "dialing", metadata: ["hook": "\(context.name)", "peer": "\(remote)", "alpn": "\(alpn)"])
        return .accept
    }

    public func checkIncoming(_ info: IncomingInfo) async -> PolicyVerdict {
        context.recorder.logger.log(
            level: level,
            "incoming connection attempt",
            metadata: ["hook": "\(context.name)", "remote": "\(info.remoteAddress)", "validated": "\(info.isAddressValidated)"]
        )
        return .accept
    }

    public func check(_ subject: PolicySubject) async -> PolicyVerdict {
        context.recorder.logger.log(
            level: level,
            "connection authenticated",
            metadata: [
                "hook": "\(context.name)", "remote_id": "\(subject.remoteID)", "remote": "\(subject.remoteAddress)",
                "alpn": "\(subject.alpn)", "side": "\(subject.side)",
            ]
        )
        return .accept
    }
}
