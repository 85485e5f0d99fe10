import Ferry
import Logging

/// What a policy check is deciding on after the handshake: the authenticated peer and the service it wants.
public struct PolicySubject: Sendable, Hashable {
    /// The peer's proven endpoint id.
    public var remoteID: EndpointID
    /// The negotiated ALPN.
    public var alpn: String
    /// Whether this daemon dialed (tunnels) or accepted (services).
    public var side: Side
    /// The peer's address.
    public var remoteAddress: HostPort

    /// Creates a subject.
    public init(remoteID: EndpointID, alpn: String, side: Side, remoteAddress: HostPort) {
        self.remoteID = remoteID
        self.alpn = alpn
        self.side = side
        self.remoteAddress = remoteAddress
    }

    /// The service name when the ALPN is `ferry/tcp/<name>`.
    public var service: String? {
        alpn.hasPrefix("ferry/tcp/") ? String(alpn.dropFirst("ferry/tcp/".count)) : nil
    }
}

/// A policy check's answer.
public enum PolicyVerdict: Sendable, Hashable {
    /// No objection.
    case accept
    /// Refused, with a reason for logs and the peer.
    case reject(reason: String)
}

/// The application error code ferryd sends in CONNECTION_CLOSE when policy refuses a connection (RFC 9000
/// §19.19); 403 mirrors HTTP's Forbidden so operators recognise it.
public let policyRejectionCode: UInt64 = 403

/// A configured hook: an `EndpointHooks` whose stages are expressed as two checks, so ferryd can log and count
/// every decision in one place and re-run the post-handshake check on reload (`reevaluate_on_reload`).
///
/// Conformers implement `checkIncoming` (addresses only, before the handshake) and/or `check` (after it); the
/// extension turns them into the `EndpointHooks` stages, applies the `services` filter and records decisions.
public protocol DaemonPolicyHook: EndpointHooks {
    /// Name, service filter and decision recorder.
    var context: PolicyHookContext { get }
    /// The pre-handshake decision (default: accept).
    func checkIncoming(_ info: IncomingInfo) async throws -> PolicyVerdict
    /// The post-handshake decision (default: accept).
    func check(_ subject: PolicySubject) async throws -> PolicyVerdict
    /// Whether `check` may be re-run for established connections on reload (false for counting hooks).
    var isReevaluable: Bool { get }
    /// Whether the hook decides in the incoming filter (`checkIncoming`); default false.
    var checksIncoming: Bool { get }
    /// Whether the hook decides after the handshake (`check`); default true.
    var checksAfterHandshake: Bool { get }
}

/// The parts every configured hook shares.
public struct PolicyHookContext: Sendable {
    /// The hook's name in logs and metrics.
    public var name: String
    /// The hook's type (`allow-endpoints`, …).
    public var type: String
    /// The services the hook applies to; nil = all.
    public var services: Set<String>?
    /// Where decisions go.
    public var recorder: DecisionRecorder

    /// Creates a context.
    public init(name: String, type: String, services: Set<String>?, recorder: DecisionRecorder) {
        self.name = name
        self.type = type
        self.services = services
        self.recorder = recorder
    }

    /// Whether the hook applies to a connection for `alpn`.
    public func applies(toALPN alpn: String) -> Bool {
        guard let services else { return true }
        guard alpn.hasPrefix("ferry/tcp/") else { return false }
        return services.contains(String(alpn.dropFirst("ferry/tcp/".count)))
    }
}

extension DaemonPolicyHook {
    public func checkIncoming(_ info: IncomingInfo) async throws -> PolicyVerdict { .accept }
    public func check(_ subject: PolicySubject) async throws -> PolicyVerdict { .accept }
    public var isReevaluable: Bool { true }
    public var checksIncoming: Bool { false }
    public var checksAfterHandshake: Bool { true }

    /// Runs `checkIncoming` unless a `services` filter defers the hook until the service is known.
    public func incoming(_ info: IncomingInfo) async throws -> IncomingOutcome {
        // Only hooks with an incoming check decide (and are counted) here.
        guard checksIncoming, context.services == nil else { return .accept }
        let verdict = try await checkIncoming(info)
        context.recorder.record(hook: context, stage: .incoming, verdict: verdict, peer: "\(info.remoteAddress)")
        if case .reject = verdict { return .reject }
        return .accept
    }

    /// Runs `check` when the hook applies to the negotiated service.
    public func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
        let subject = PolicySubject(
            remoteID: connection.remoteID,
            alpn: connection.alpn,
            side: connection.side,
            remoteAddress: connection.remoteAddress
        )
        switch try await evaluate(subject, stage: .afterHandshake) {
        case .accept: return .accept
        case .reject(let reason): return .reject(code: policyRejectionCode, reason: reason)
        }
    }

    /// The post-handshake decision with the service filter applied, recorded.
    public func evaluate(_ subject: PolicySubject, stage: HookStage) async throws -> PolicyVerdict {
        guard checksAfterHandshake, context.applies(toALPN: subject.alpn) else { return .accept }
        var verdict = try await check(subject)
        if case .reject(let reason) = verdict, !reason.hasPrefix(context.name) {
            verdict = .reject(reason: "\(context.name): \(reason)")
        }
        context.recorder.record(hook: context, stage: stage, verdict: verdict, peer: subject.remoteID.shortDescription)
        return verdict
    }
}

/// Logs and counts every hook decision (accepts at debug, rejections at notice).
public struct DecisionRecorder: Sendable {
    /// Where decisions are logged.
    public var logger: Logger
    /// Where decisions are counted; nil in tests that do not care.
    public var metrics: DaemonMetrics?

    /// Creates a recorder.
    public init(logger: Logger, metrics: DaemonMetrics?) {
        self.logger = logger
        self.metrics = metrics
    }

    /// Logs and counts one decision.
    public func record(hook: PolicyHookContext, stage: HookStage, verdict: PolicyVerdict, peer: String) {
        let outcome: String
        switch verdict {
        case .accept:
            outcome = "accept"
            logger.debug("hook decision", metadata: ["hook": "\(hook.name)", "stage": "\(stage.rawValue)", "peer": "\(peer)", "outcome": "accept"])
        case .reject(let reason):
            outcome = "reject"
            logger.notice(
                "hook decision",
                metadata: ["hook": "\(hook.name)", "stage": "\(stage.rawValue)", "peer": "\(peer)", "outcome": "reject", "reason": "\(reason)"]
            )
        }
        metrics?.recordHookDecision(hook: hook.name, outcome: outcome)
    }

    /// Counts a hook failure (threw or timed out) reported by the chain.
    public func recordFailure(hook: String, stage: HookStage, reason: String) {
        logger.warning("hook failed", metadata: ["hook": "\(hook)", "stage": "\(stage.rawValue)", "reason": "\(reason)"])
        metrics?.recordHookDecision(hook: hook, outcome: "error")
    }
}
