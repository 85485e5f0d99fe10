import ArgumentParser

/// A byte count on the command line, with optional binary K/M/G suffixes like quinn-perf (`64M`, `1GiB`).
struct ByteCount: ExpressibleByArgument, Sendable {
    let value: UInt64

    init(_ value: UInt64) {
        self.value = value
    }

    var defaultValueDescription: String { "\(value)" }

    init?(argument: String) {
        var text = argument.trimmingCharacters(in: " ").uppercased()
        for suffix in ["IB", "B"] where text.hasSuffix(suffix) {
            text.removeLast(suffix.count)
            break
        }
        var multiplier: UInt64 = 1
        switch text.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        default: break
        }
        if multiplier != 1 { text.removeLast() }
        guard let number = UInt64(text) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        value = product
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
