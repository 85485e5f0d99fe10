import Ferry

/// `rate-limit`: a token bucket per source IP for new connection attempts, checked before the handshake.
///
/// Each IP gets `burst` tokens refilled at `perSecond`; an attempt takes one token or is refused with
/// CONNECTION_REFUSED. The table of buckets is bounded: when it is full, buckets that have refilled completely
/// (idle sources) are dropped first, so a scan from many addresses cannot grow memory without bound.
public struct RateLimitHook: DaemonPolicyHook {
    public let context: PolicyHookContext
    /// Tokens added per second.
    public let perSecond: Double
    /// Bucket capacity.
    public let burst: Int
    /// The most source IPs tracked at once.
    public let capacity: Int

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Locked([String: Bucket]())
    private let clock: @Sendable () -> ContinuousClock.Instant

    /// Creates the hook; `clock` is injectable for tests.
    public init(
        context: PolicyHookContext,
        perSecond: Double,
        burst: Int,
        capacity: Int = 65536,
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.context = context
        self.perSecond = perSecond
        self.burst = burst
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    public var isReevaluable: Bool { false }
    public var checksIncoming: Bool { true }
    public var checksAfterHandshake: Bool { false }

    public func checkIncoming(_ info: IncomingInfo) async -> PolicyVerdict {
        take(from: info.remoteAddress.host) ? .accept : .reject(reason: "rate limit exceeded for \(info.remoteAddress.host)")
    }

    /// Takes one token for `source`; false when its bucket is empty.
    public func take(from source: String) -> Bool {
        let now = clock()
        let perSecond = perSecond
        let burst = Double(burst)
        let capacity = capacity
        return buckets.withLock { buckets in
            var bucket = buckets[source] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * perSecond)
            bucket.updated = now
            guard bucket.tokens >= 1 else {
                buckets[source] = bucket
                return false
            }
            bucket.tokens -= 1
            if buckets[source] == nil, buckets.count >= capacity {
                Self.evict(&buckets, now: now, perSecond: perSecond, burst: burst)
            }
            buckets[source] = bucket
            return true
        }
    }

    /// How many sources are tracked.
    public var trackedSources: Int { buckets.withLock { $0.count } }

    private static func evict(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, perSecond: Double, burst: Double) {
        let refillTime = Duration.seconds(burst / perSecond)
        let idle = buckets.filter { now - $0.value.updated >= refillTime }.map(\.key)
        if idle.isEmpty {
            // Every source is active: drop the oldest half rather than refuse to track new ones.
            let sorted = buckets.sorted { $0.value.updated < $1.value.updated }
            for (key, _) in sorted.prefix(max(1, buckets.count / 2)) { buckets.removeValue(forKey: key) }
        } else {
            for key in idle { buckets.removeValue(forKey: key) }
        }
    }
}

/// `max-connections`: refuses a connection when its remote id, or the daemon in total, has too many.
///
/// Counts come from the daemon's `ConnectionRegistry` (established connections that passed the chain), so the
/// limits hold across reloads. Counting hooks are not re-run on reload: every existing connection would count
/// itself.
public struct MaxConnectionsHook: DaemonPolicyHook {
    public let context: PolicyHookContext
    /// The most connections one remote id may hold.
    public let perEndpoint: Int?
    /// The most connections in total.
    public let total: Int?
    /// Where live connections are counted.
    public let registry: ConnectionRegistry

    /// Creates the hook.
    public init(context: PolicyHookContext, perEndpoint: Int?, total: Int?, registry: ConnectionRegistry) {
        self.context = context
        self.perEndpoint = perEndpoint
        self.total = total
        self.registry = registry
    }

    public var isReevaluable: Bool { false }

    public func check(_ subject: PolicySubject) async -> PolicyVerdict {
        let counts = registry.counts(for: subject.remoteID)
        if let perEndpoint, counts.remote >= perEndpoint {
            return .reject(reason: "endpoint \(subject.remoteID.shortDescription) has \(counts.remote) connections (limit \(perEndpoint))")
        }
        if let total, counts.total >= total {
            return .reject(reason: "\(counts.total) connections open (limit \(total))")
        }
        return .accept
    }
}
