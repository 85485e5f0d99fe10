import FerryTransport
import Foundation
import Logging

/// The daemon's log level, shared by every handler so a reload can change it at once.
public final class LogLevelControl: Sendable {
    private let box: Locked<Logger.Level>

    /// Creates a control starting at `level`.
    public init(_ level: Logger.Level) {
        box = Locked(level)
    }

    /// The level in force.
    public var level: Logger.Level {
        get { box.current }
        set { box.withLock { $0 = newValue } }
    }
}

/// A swift-log handler writing one line per event to stderr, as logfmt or JSON.
///
/// journald captures stderr line by line, so one event per line (with `level`, `msg` and metadata as fields)
/// keeps `journalctl -o cat` readable and machine-parsable.
public struct DaemonLogHandler: LogHandler {
    /// The line format.
    public let format: LogFormat
    /// The logger's label, written as `logger`.
    public let label: String
    /// The shared level, when the daemon can change it on reload.
    public let levelControl: LogLevelControl?
    private var fixedLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    public var logLevel: Logger.Level {
        get { levelControl?.level ?? fixedLevel }
        set {
            if let levelControl { levelControl.level = newValue } else { fixedLevel = newValue }
        }
    }
    private let output: @Sendable (String) -> Void

    /// Creates a handler; `output` defaults to stderr.
    public init(
        label: String,
        format: LogFormat,
        level: Logger.Level,
        levelControl: LogLevelControl? = nil,
        output: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.label = label
        self.format = format
        self.fixedLevel = level
        self.levelControl = levelControl
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("time", Self.timestamp()), ("level", "\(event.level)"), ("logger", label), ("msg", "\(event.message)"),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() {
            if let value = merged[key] { fields.append((key, "\(value)")) }
        }
        output(Self.render(fields, format: format) + "\n")
    }

    /// One line in `format`.
    static func render(_ fields: [(String, String)], format: LogFormat) -> String {
        switch format {
        case .logfmt:
            return fields.map { key, value in "\(logfmtKey(key))=\(logfmtQuote(value))" }.joined(separator: " ")
        case .json:
            return "{" + fields.map { key, value in "\(jsonQuote(key)):\(jsonQuote(value))" }.joined(separator: ",") + "}"
        }
    }

    /// Whether logfmt must quote (or, in a key, replace) this character: space, `=`, quotes, backslashes and
    /// control characters would otherwise split a field or forge another one.
    private static func isLogfmtSpecial(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7f
    }

    /// A key as logfmt writes it: keys are never quoted, so each special character becomes `_` (metadata keys
    /// come from code and plugins; a key must not be able to end its field early or add a line).
    static func logfmtKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        guard key.unicodeScalars.contains(where: isLogfmtSpecial) else { return key }
        var sanitized = String.UnicodeScalarView()
        for scalar in key.unicodeScalars { sanitized.append(isLogfmtSpecial(scalar) ? "_" : scalar) }
        return String(sanitized)
    }

    /// A value as logfmt writes it: bare when it has no special character, else quoted with its quotes,
    /// backslashes and control characters escaped (`String.quotedForText`), so every record stays on one line.
    static func logfmtQuote(_ value: String) -> String {
        guard value.isEmpty || value.unicodeScalars.contains(where: isLogfmtSpecial) else { return value }
        return value.quotedForText
    }

    /// A value as a JSON string (`String.quotedForJSON`).
    static func jsonQuote(_ value: String) -> String {
        value.quotedForJSON
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
            Int(parts.tm_sec), Int(now.tv_nsec / 1_000_000)
        )
    }
}
