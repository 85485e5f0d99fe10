/// What is wrong with one setting of a ferryd configuration file.
public enum ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file is not valid TOML.
    case syntax(TOMLSyntaxProblem)
    /// The file could not be read.
    case unreadable(path: String, errno: Int32)
    /// The key is not part of the configuration schema (usually a typo).
    case unknownKey
    /// A required key is absent.
    case missingKey
    /// The value has the wrong TOML type.
    case wrongType(expected: String, found: String)
    /// Not a 64-hex-character endpoint id.
    case invalidEndpointID(String)
    /// Not a CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or IP address.
    case invalidCIDR(String)
    /// Not a duration (`500ms`, `5s`, `1m`, `1h`).
    case invalidDuration(String)
    /// Not `host:port`, or not an IP literal where one is required.
    case invalidAddress(String, reason: String)
    /// Not `<endpoint-id>@host:port`.
    case invalidPeer(String, reason: String)
    /// A file named by the key does not exist or cannot be read.
    case missingFile(String)
    /// A string value that is not one of the allowed choices.
    case invalidChoice(String, allowed: [String])
    /// A number outside its allowed range.
    case outOfRange(String, range: String)
    /// Two entries share a name that must be unique.
    case duplicateName(String)
    /// Two entries listen on the same address.
    case duplicateAddress(String)
    /// A name that must refer to a configured service does not.
    case unknownService(String)
    /// A value that is well formed but not usable here.
    case invalidValue(String, reason: String)

    public var description: String {
        switch self {
        case .syntax(let problem): "\(problem)"
        case .unreadable(let path, let errno): "cannot read '\(path)' (errno \(errno))"
        case .unknownKey: "unknown key"
        case .missingKey: "required key is missing"
        case .wrongType(let expected, let found): "expected \(expected), found \(found)"
        case .invalidEndpointID(let text): "'\(text)' is not a 64-hex endpoint id"
        case .invalidCIDR(let text): "'\(text)' is not a CIDR block or IP address"
        case .invalidDuration(let text): "'\(text)' is not a duration (like 500ms, 5s, 1m, 1h)"
        case .invalidAddress(let text, let reason): "'\(text)' is not a valid address: \(reason)"
        case .invalidPeer(let text, let reason): "'\(text)' is not <endpoint-id>@host:port: \(reason)"
        case .missingFile(let path): "file '\(path)' does not exist or cannot be read"
        case .invalidChoice(let text, let allowed):
            "'\(text)' is not one of \(allowed.map { "'\($0)'" }.joined(separator: ", "))"
        case .outOfRange(let text, let range): "\(text) is out of range (\(range))"
        case .duplicateName(let name): "name '\(name)' is used twice"
        case .duplicateAddress(let address): "address \(address) is used twice"
        case .unknownService(let name): "no service named '\(name)' is configured"
        case .invalidValue(let text, let reason): "'\(text)': \(reason)"
        }
    }
}

/// A configuration error: the file, the line and the key it concerns, and what is wrong.
///
/// Rendered as `ferryd.toml:12: key 'endpoints': 'abc' is not a 64-hex endpoint id`, the form compilers use,
/// so editors and operators can jump straight to the line.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration file as it was named to ferryd.
    public var file: String
    /// The 1-based line (0 when the file itself is the problem).
    public var line: Int
    /// The dotted key the error concerns (`endpoint.listen`, `hooks[2].endpoints` are shown as the last
    /// component), or nil for syntax errors.
    public var key: String?
    /// What is wrong.
    public var problem: ConfigProblem

    /// Creates an error.
    public init(file: String, line: Int, key: String?, problem: ConfigProblem) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
    }

    public var description: String {
        let location = line > 0 ? "\(file):\(line)" : file
        if let key { return "\(location): key '\(key)': \(problem)" }
        return "\(location): \(problem)"
    }
}
