import Ferry

/// `plugin`: asks an external process (docs/plugins.md) before and after the handshake.
///
/// When the plugin is down, times out or answers nonsense, `onError` decides: `reject` fails closed (the
/// default), `accept` fails open. The answer is never left to the chain's deadline, so an unavailable plugin is
/// reported as such rather than as a slow hook.
public struct PluginHook: DaemonPolicyHook {
    public let context: PolicyHookContext
    /// The plugin process.
    public let client: PluginClient
    /// What to answer when the plugin cannot.
    public let onError: DaemonConfig.PluginErrorPolicy

    /// Creates the hook.
    public init(context: PolicyHookContext, client: PluginClient, onError: DaemonConfig.PluginErrorPolicy) {
        self.context = context
        self.client = client
        self.onError = onError
    }

    public var checksIncoming: Bool { true }

    public func checkIncoming(_ info: IncomingInfo) async -> PolicyVerdict {
        let request = PluginRequest(
            type: .check,
            stage: .incoming,
            remoteAddress: info.remoteAddress.host,
            remotePort: info.remoteAddress.port
        )
        return verdict(await client.ask(request))
    }

    public func check(_ subject: PolicySubject) async -> PolicyVerdict {
        verdict(await client.ask(request(for: subject)))
    }

    /// The post-handshake stage with the plugin's own close code when it gave one (else 403).
    public func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        let subject = PolicySubject(
            remoteID: connection.remoteID,
            alpn: connection.alpn,
            side: connection.side,
            remoteAddress: connection.remoteAddress
        )
        guard context.applies(toALPN: subject.alpn) else { return .accept }
        let answer = await client.ask(request(for: subject))
        var verdict = verdict(answer)
        if case .reject(let reason) = verdict, !reason.hasPrefix(context.name) {
            verdict = .reject(reason: "\(context.name): \(reason)")
        }
        context.recorder.record(hook: context, stage: .afterHandshake, verdict: verdict, peer: subject.remoteID.shortDescription)
        guard case .reject(let reason) = verdict else { return .accept }
        if case .reject(_, let code?) = answer { return .reject(code: code, reason: reason) }
        return .reject(code: policyRejectionCode, reason: reason)
    }

    private func request(for subject: PolicySubject) -> PluginRequest {
        PluginRequest(
            type: .check,
            stage: .afterHandshake,
            remoteAddress: subject.remoteAddress.host,
            remotePort: subject.remoteAddress.port,
            remoteID: subject.remoteID.hex,
            alpn: subject.alpn,
            service: subject.service,
            side: subject.side == .server ? "server" : "client"
        )
    }

    private func verdict(_ answer: PluginAnswer) -> PolicyVerdict {
        let problem: String
        switch answer {
        case .accept: return .accept
        case .reject(let reason, _): return .reject(reason: reason)
        case .unavailable(let why): problem = why
        case .timedOut: problem = "plugin timed out"
        case .malformed(let why): problem = "plugin answered \(why)"
        }
        context.recorder.recordFailure(hook: context.name, stage: .afterHandshake, reason: problem)
        switch onError {
        case .accept: return .accept
        case .reject: return .reject(reason: problem)
        }
    }
}
