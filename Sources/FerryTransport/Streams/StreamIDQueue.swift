/// A FIFO of stream IDs for round-robin scheduling: a power-of-two ring that reuses its storage, so pushing and
/// popping never allocate in steady state.
struct StreamIDQueue {
    private var items: [StreamID] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func push(_ id: StreamID) {
        if count == items.count { grow() }
        items[(head + count) & (items.count - 1)] = id
        count += 1
    }

    mutating func pop() -> StreamID? {
        guard count > 0 else { return nil }
        let id = items[head]
        head = (head + 1) & (items.count - 1)
        count -= 1
        return id
    }

    private mutating func grow() {
        let newCapacity = max(8, items.count * 2)
        var newItems = [StreamID](repeating: StreamID(rawValue: 0), count: newCapacity)
        for index in 0..<count { newItems[index] = items[(head + index) & (items.count - 1)] }
        items = newItems
        head = 0
    }

    /// Calls `body` for each queued ID, oldest first, until it returns true; returns whether it did.
    func contains(where body: (StreamID) -> Bool) -> Bool {
        for index in 0..<count where body(items[(head + index) & (items.count - 1)]) { return true }
        return false
    }

    mutating func removeAll() {
        head = 0
        count = 0
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
