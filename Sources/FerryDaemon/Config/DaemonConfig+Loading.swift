import Ferry
import Foundation
import Logging

extension DaemonConfig {
    /// Reads and validates the configuration file at `path`.
    ///
    /// Relative paths inside it are resolved against the file's directory. Every error names the file, line and
    /// key (`ferryd.toml:12: key 'endpoints': 'abc' is not a 64-hex endpoint id`).
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> DaemonConfig {
        let (text, directory) = try readConfigFile(path)
        return try parse(text, file: path, directory: directory, environment: environment)
    }

    /// Validates configuration text; `file` names it in errors and `directory` anchors relative paths.
    ///
    /// Under systemd (`StateDirectory=`, `RuntimeDirectory=`), a relative `key_file` is resolved against
    /// `$STATE_DIRECTORY` and a relative control socket against `$RUNTIME_DIRECTORY` instead, because the
    /// configuration directory is read-only there (docs/daemon.md).
    public static func parse(
        _ text: String,
        file: String,
        directory: String,
        environment: [String: String] = [:]
    ) throws(ConfigError) -> DaemonConfig {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: nil, problem: .syntax(error.problem))
        }
        let reader = ConfigReader(table: root, file: file, directory: directory)
        try reader.requireOnly(["endpoint", "control", "metrics", "logging", "services", "tunnels", "hooks"])

        let stateDirectory = environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
        let runtimeDirectory = environment["RUNTIME_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
        let endpoint = try parseEndpoint(
            try reader.subtable("endpoint"),
            reader: ConfigReader(table: root, file: file, directory: stateDirectory ?? directory)
        )
        let control = try parseControl(
            try reader.subtable("control"),
            reader: ConfigReader(table: root, file: file, directory: runtimeDirectory ?? directory)
        )
        let metrics = try parseMetrics(try reader.subtable("metrics"))
        let logging = try parseLogging(try reader.subtable("logging"))
        let services = try parseServices(try reader.tableArray("services"))
        let serviceNames = Set(services.map(\.name))
        let tunnels = try parseTunnels(try reader.tableArray("tunnels"))
        var hooks: [HookSettings] = []
        for (offset, hook) in try reader.tableArray("hooks").enumerated() {
            hooks.append(try parseHook(hook, position: offset + 1, services: serviceNames, defaultTimeout: endpoint.hookTimeout))
        }
        return DaemonConfig(
            file: file,
            endpoint: endpoint,
            control: control,
            metrics: metrics,
            logging: logging,
            services: services,
            tunnels: tunnels,
            hooks: hooks
        )
    }

    // MARK: Sections

    private static func parseEndpoint(_ section: ConfigReader?, reader: ConfigReader) throws(ConfigError) -> EndpointSettings {
        guard let section else {
            return EndpointSettings(
                keyFile: reader.resolve("ferry.key"),
                listen: [HostPort(host: "0.0.0.0", port: 7777)],
                hookTimeout: .seconds(5),
                reevaluateOnReload: false,
                shutdownTimeout: .seconds(10)
            )
        }
        try section.requireOnly([
            "key_file", "listen", "hook_timeout", "reevaluate_on_reload", "shutdown_timeout", "relays", "path_mode",
            "relay_token",
        ])
        let keyFile = try section.string("key_file") ?? "ferry.key"
        guard !keyFile.isEmpty else { throw section.error("key_file", .invalidValue(keyFile, reason: "empty path")) }
        var listen: [HostPort] = []
        for (text, line) in try section.strings("listen") ?? [("0.0.0.0:7777", section.table.line)] {
            listen.append(try section.socketAddress(text, key: "listen", line: line))
        }
        guard !listen.isEmpty else {
            throw section.error("listen", .invalidValue("[]", reason: "at least one address is needed"))
        }
        let hookTimeout = try section.duration("hook_timeout") ?? .seconds(5)
        guard hookTimeout > .zero else { throw section.error("hook_timeout", .invalidValue("0", reason: "must be positive")) }
        var relays: [RelayAddress] = []
        for (text, line) in try section.strings("relays") ?? [] {
            do throws(EndpointAddressError) {
                relays.append(try RelayAddress(parsing: text))
            } catch {
                throw section.error("relays", line: line, .invalidPeer(text, reason: error.description))
            }
        }
        let pathModeText = try section.string("path_mode") ?? PathMode.auto.rawValue
        guard let pathMode = PathMode(rawValue: pathModeText) else {
            throw section.error("path_mode", .invalidChoice(pathModeText, allowed: PathMode.allCases.map(\.rawValue)))
        }
        if pathMode == .relayOnly, relays.isEmpty {
            throw section.error("path_mode", .invalidValue(pathModeText, reason: "relay-only needs at least one entry in relays"))
        }
        let relayToken = try section.string("relay_token") ?? ""
        guard relayToken.utf8.count <= 255 else {
            throw section.error("relay_token", .invalidValue("…", reason: "a relay token is at most 255 bytes"))
        }
        return EndpointSettings(
            keyFile: reader.resolve(keyFile),
            listen: listen,
            hookTimeout: hookTimeout,
            reevaluateOnReload: try section.bool("reevaluate_on_reload") ?? false,
            shutdownTimeout: try section.duration("shutdown_timeout") ?? .seconds(10),
            relays: relays,
            pathMode: pathMode,
            relayToken: relayToken
        )
    }

    package static func parseControl(
        _ section: ConfigReader?, reader: ConfigReader, defaultSocket: String = "ferryd.sock"
    ) throws(ConfigError) -> ControlSettings {
        guard let section else { return ControlSettings(socket: reader.resolve(defaultSocket)) }
        try section.requireOnly(["socket", "enabled"])
        if try section.bool("enabled") == false { return ControlSettings(socket: nil) }
        let socket = try section.string("socket") ?? defaultSocket
        let resolved = reader.resolve(socket)
        guard resolved.utf8.count < 108 else {
            throw section.error("socket", .invalidValue(resolved, reason: "a Unix socket path must be under 108 bytes"))
        }
        return ControlSettings(socket: resolved)
    }

    package static func parseMetrics(_ section: ConfigReader?) throws(ConfigError) -> MetricsSettings? {
        guard let section else { return nil }
        try section.requireOnly(["listen"])
        guard let text = try section.string("listen") else { return nil }
        return MetricsSettings(listen: try section.socketAddress(text, key: "listen"))
    }

    package static func parseLogging(_ section: ConfigReader?) throws(ConfigError) -> LoggingSettings {
        guard let section else { return LoggingSettings(format: .logfmt, level: .info) }
        try section.requireOnly(["format", "level"])
        return LoggingSettings(
            format: try section.choice("format", LogFormat.self) ?? .logfmt,
            level: try section.choice("level", Logger.Level.self) ?? .info
        )
    }

    private static func parseServices(_ tables: [ConfigReader]) throws(ConfigError) -> [ServiceSettings] {
        var services: [ServiceSettings] = []
        for section in tables {
            try section.requireOnly(["name", "type", "forward"])
            let name = try section.requiredString("name")
            try validateName(name, key: "name", section: section)
            guard !services.contains(where: { $0.name == name }) else {
                throw section.error("name", .duplicateName(name))
            }
            let type = try section.string("type") ?? "tcp"
            let kind: ServiceKind
            switch type {
            case "tcp":
                let forward = try section.requiredString("forward")
                kind = .forward(try section.hostAddress(forward, key: "forward"))
            case "echo":
                if section.table.contains("forward") {
                    throw section.error("forward", .invalidValue("forward", reason: "an echo service has no forward address"))
                }
                kind = .echo
            default:
                throw section.error("type", .invalidChoice(type, allowed: ["tcp", "echo"]))
            }
            services.append(ServiceSettings(name: name, kind: kind, line: section.table.line))
        }
        return services
    }

    private static func parseTunnels(_ tables: [ConfigReader]) throws(ConfigError) -> [TunnelSettings] {
        var tunnels: [TunnelSettings] = []
        for section in tables {
            try section.requireOnly(["listen", "peer", "service"])
            let listen = try section.socketAddress(try section.requiredString("listen"), key: "listen")
            let peerText = try section.requiredString("peer")
            let peer: EndpointAddress
            do {
                peer = try EndpointAddress(parsing: peerText)
            } catch {
                if case .invalidEndpointID(let id) = error { throw section.error("peer", .invalidEndpointID(id)) }
                throw section.error("peer", .invalidPeer(peerText, reason: error.description))
            }
            let service = try section.requiredString("service")
            try validateName(service, key: "service", section: section)
            if listen.port != 0, tunnels.contains(where: { $0.listen == listen }) {
                throw section.error("listen", .duplicateAddress("\(listen)"))
            }
            tunnels.append(TunnelSettings(listen: listen, peer: peer, service: service, line: section.table.line))
        }
        return tunnels
    }

    // MARK: Hooks

    package static func parseHook(
        _ section: ConfigReader,
        position: Int,
        services: Set<String>,
        defaultTimeout: Duration
    ) throws(ConfigError) -> HookSettings {
        let common: Set<String> = ["type", "name", "services"]
        let type = try section.requiredString("type")
        let kind: HookKind
        switch type {
        case "log":
            try section.requireOnly(common.union(["level"]))
            kind = .log(level: try section.choice("level", Logger.Level.self) ?? .info)
        case "allow-endpoints", "deny-endpoints":
            try section.requireOnly(common.union(["endpoints", "endpoints_file"]))
            let ids = try endpointIDs(section)
            kind = type == "allow-endpoints" ? .allowEndpoints(ids) : .denyEndpoints(ids)
        case "allow-ips", "deny-ips":
            try section.requireOnly(common.union(["cidrs"]))
            guard let entries = try section.strings("cidrs") else { throw section.error("cidrs", .missingKey) }
            var blocks: [CIDRBlock] = []
            for (text, line) in entries {
                guard let block = CIDRBlock(parsing: text) else { throw section.error("cidrs", line: line, .invalidCIDR(text)) }
                blocks.append(block)
            }
            kind = type == "allow-ips" ? .allowIPs(blocks) : .denyIPs(blocks)
        case "rate-limit":
            try section.requireOnly(common.union(["rate", "burst"]))
            guard let rate = try section.number("rate", range: 0.001...1_000_000) else {
                throw section.error("rate", .missingKey)
            }
            let burst = try section.integer("burst", range: 1...1_000_000) ?? max(1, Int(rate.rounded(.up)))
            kind = .rateLimit(perSecond: rate, burst: burst)
        case "max-connections":
            try section.requireOnly(common.union(["per_endpoint", "total"]))
            let perEndpoint = try section.integer("per_endpoint", range: 1...1_000_000)
            let total = try section.integer("total", range: 1...10_000_000)
            guard perEndpoint != nil || total != nil else { throw section.error("per_endpoint", .missingKey) }
            kind = .maxConnections(perEndpoint: perEndpoint, total: total)
        case "plugin":
            try section.requireOnly(common.union(["command", "timeout", "on_error"]))
            guard let command = try section.strings("command")?.map(\.0) else { throw section.error("command", .missingKey) }
            guard let program = command.first, !program.isEmpty else {
                throw section.error("command", .invalidValue("[]", reason: "the command needs a program"))
            }
            var resolved = command
            if program.contains("/") {
                resolved[0] = section.resolve(program)
                guard FileManager.default.isExecutableFile(atPath: resolved[0]) else {
                    throw section.error("command", .missingFile(resolved[0]))
                }
            }
            let onErrorText = try section.string("on_error") ?? "reject"
            guard let onError = PluginErrorPolicy(rawValue: onErrorText) else {
                throw section.error("on_error", .invalidChoice(onErrorText, allowed: ["reject", "accept"]))
            }
            kind = .plugin(PluginSettings(command: resolved, timeout: try section.duration("timeout") ?? defaultTimeout, onError: onError))
        default:
            throw section.error(
                "type",
                .invalidChoice(type, allowed: [
                    "log", "allow-endpoints", "deny-endpoints", "allow-ips", "deny-ips", "rate-limit",
                    "max-connections", "plugin",
                ])
            )
        }
        var serviceFilter: Set<String>?
        if let entries = try section.strings("services") {
            var filter: Set<String> = []
            for (name, line) in entries {
                guard services.contains(name) else { throw section.error("services", line: line, .unknownService(name)) }
                filter.insert(name)
            }
            if case .rateLimit = kind {
                throw section.error("services", .invalidValue("services", reason: "rate-limit runs before the service is known"))
            }
            serviceFilter = filter
        }
        let name = try section.string("name") ?? "\(type)-\(position)"
        return HookSettings(name: name, kind: kind, services: serviceFilter, line: section.table.line)
    }

    /// `endpoints` plus the ids in `endpoints_file` (one per line, `#` comments).
    package static func endpointIDs(_ section: ConfigReader) throws(ConfigError) -> Set<EndpointID> {
        var ids: Set<EndpointID> = []
        let inline = try section.strings("endpoints")
        for (text, line) in inline ?? [] {
            guard let id = EndpointID(hex: text) else { throw section.error("endpoints", line: line, .invalidEndpointID(text)) }
            ids.insert(id)
        }
        let filePath = try section.string("endpoints_file")
        if let filePath {
            let resolved = section.resolve(filePath)
            let contents: String
            do {
                contents = try readText(resolved)
            } catch {
                throw section.error("endpoints_file", .missingFile(resolved))
            }
            for (offset, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                var text = Substring(rawLine)
                if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
                let trimmed = String(text).trimmingSpaces()
                guard !trimmed.isEmpty else { continue }
                guard let id = EndpointID(hex: trimmed) else {
                    throw ConfigError(file: resolved, line: offset + 1, key: "endpoints_file", problem: .invalidEndpointID(trimmed))
                }
                ids.insert(id)
            }
        }
        guard inline != nil || filePath != nil else { throw section.error("endpoints", .missingKey) }
        return ids
    }

    private static func validateName(_ name: String, key: String, section: ConfigReader) throws(ConfigError) {
        let valid = !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
        guard valid else {
            throw section.error(key, .invalidValue(name, reason: "a name is 1-64 characters of A-Z a-z 0-9 . _ -"))
        }
    }
}

/// A configuration file's text and the directory its relative paths resolve against.
package func readConfigFile(_ path: String) throws(ConfigError) -> (text: String, directory: String) {
    let text: String
    do {
        text = try readText(path)
    } catch {
        throw ConfigError(file: path, line: 0, key: nil, problem: .unreadable(path: path, errno: error.errno))
    }
    let directory = (path as NSString).deletingLastPathComponent
    return (text, directory.isEmpty ? "." : directory)
}

/// A file that could not be read, with the errno.
package struct FileReadError: Error {
    package var errno: Int32
}

/// Reads a whole UTF-8 file; a file that is not valid UTF-8 is refused with EILSEQ rather than read with
/// replacement characters, so a damaged config is reported instead of half-understood.
package func readText(_ path: String) throws(FileReadError) -> String {
    guard let handle = fopen(path, "r") else { throw FileReadError(errno: Foundation.errno) }
    defer { fclose(handle) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, handle)
        if count > 0 { bytes.append(contentsOf: buffer[0..<count]) }
        if count < buffer.count {
            if ferror(handle) != 0 { throw FileReadError(errno: Foundation.errno) }
            break
        }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw FileReadError(errno: EILSEQ) }
    return text
}
