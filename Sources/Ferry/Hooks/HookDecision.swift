/// Names one hook in a chain, for close reasons and logs: "hook 2 (MyHook)".
public struct HookIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The hook's position in installation order, starting at 1.
    public var position: Int
    /// The hook's dynamic type name.
    public var typeName: String

    /// Creates an identity from a 1-based position and a type name.
    public init(position: Int, typeName: String) {
        self.position = position
        self.typeName = typeName
    }

    /// "hook 2 (MyHook)".
    public var description: String { "hook \(position) (\(typeName))" }
}

/// Why a hook produced no answer and was counted as a rejection (the chain fails closed).
public enum HookFailure: Sendable, Hashable, CustomStringConvertible {
    /// The hook did not answer within the chain's per-call deadline.
    case timedOut(after: Duration)
    /// The hook threw; the error's type and description are kept for the close reason.
    case threw(errorType: String, description: String)
    /// The task running the chain was cancelled (for example because the connection closed meanwhile).
    case cancelled

    public var description: String {
        switch self {
        case .timedOut(let deadline): "timed out after \(HookFailure.format(deadline))"
        case .threw(_, let description): "threw \(description)"
        case .cancelled: "was cancelled"
        }
    }

    /// "5s", "250ms", "1.5s": short enough for a CONNECTION_CLOSE reason phrase.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "\(seconds)s" }
        if seconds == 0 { return "\(milliseconds)ms" }
        var fraction = String(milliseconds)
        while fraction.count < 3 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(seconds).\(fraction)s"
    }
}

/// The chain stage a decision was made in.
public enum HookStage: String, Sendable, Hashable {
    /// `EndpointHooks.beforeConnect`.
    case beforeConnect
    /// `EndpointHooks.incoming`.
    case incoming
    /// `EndpointHooks.afterHandshake`.
    case afterHandshake
}

/// The result of running one stage of a `HookChain`: the outcome and which hook decided it.
///
/// `decidedBy` is nil when no hook objected (every hook accepted, or none is installed); otherwise it names the
/// hook whose answer (or failure) ended the chain, so logs and close reasons can say exactly who refused.
public struct HookDecision<Outcome: Sendable & Hashable>: Sendable, Hashable {
    /// What the chain decided.
    public var outcome: Outcome
    /// The hook that decided, or nil when the chain accepted.
    public var decidedBy: HookIdentity?
    /// Set when the deciding hook threw, timed out or was cancelled rather than answering.
    public var failure: HookFailure?

    /// Creates a decision.
    public init(outcome: Outcome, decidedBy: HookIdentity? = nil, failure: HookFailure? = nil) {
        self.outcome = outcome
        self.decidedBy = decidedBy
        self.failure = failure
    }

    /// A human-readable account: "hook 2 (MyHook) timed out after 5s", "hook 1 (DenyList) rejected".
    public var reason: String {
        guard let decidedBy else { return "accepted" }
        if let failure { return "\(decidedBy) \(failure)" }
        return "\(decidedBy) rejected"
    }
}

/// A connection that a hook refused, as reported to the caller of `Endpoint.connect` or in logs.
///
/// Carries the stage, the deciding hook and, when the hook failed instead of answering, why; so callers can tell
/// a policy refusal from a broken or slow hook without parsing strings.
public struct HookRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stage that refused.
    public var stage: HookStage
    /// The hook that refused.
    public var hook: HookIdentity
    /// Set when the hook threw or timed out rather than answering `.reject`.
    public var failure: HookFailure?

    /// Creates a rejection report.
    public init(stage: HookStage, hook: HookIdentity, failure: HookFailure? = nil) {
        self.stage = stage
        self.hook = hook
        self.failure = failure
    }

    /// "beforeConnect: hook 1 (DenyList) rejected".
    public var description: String {
        "\(stage.rawValue): \(hook) \(failure.map(\.description) ?? "rejected")"
    }
}
