/// A FIFO of stream IDs for round-robin scheduling, reusing its storage (no allocation in steady state).
struct StreamIDQueue {
    private var items: [StreamID] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    mutating func push(_ id: StreamID) {
        items.append(id)
    }

    mutating func pop() -> StreamID? {
        guard head < items.count else { return nil }
        let id = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32 && head * 2 >= items.count {
            items.removeSubrange(0..<head)
            head = 0
        }
        return id
    }

    /// The queued IDs, oldest first.
    var queued: ArraySlice<StreamID> { items[head...] }

    mutating func removeAll() {
        items.removeAll(keepingCapacity: true)
        head = 0
    }
}

/// A value kept separately for bidirectional and unidirectional streams (RFC 9000 §2.1, §4.6).
struct PerDirection<Value> {
    var bidirectional: Value
    var unidirectional: Value

    init(_ both: Value) {
        bidirectional = both
        unidirectional = both
    }

    init(bidirectional: Value, unidirectional: Value) {
        self.bidirectional = bidirectional
        self.unidirectional = unidirectional
    }

    subscript(isBidirectional: Bool) -> Value {
        get { isBidirectional ? bidirectional : unidirectional }
        set {
            if isBidirectional { bidirectional = newValue } else { unidirectional = newValue }
        }
    }
}
