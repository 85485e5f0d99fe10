import FerryDaemon
import Foundation

/// What the `ferry-relay` executable calls: each entry point returns the process exit status.
public enum RelayCommandLine {
    /// Validates the configuration at `path`: prints `<path>: OK …` and returns 0, or prints the error with its
    /// file, line and key to stderr and returns 1.
    public static func checkConfig(path: String) -> Int32 {
        do {
            let config = try RelayConfig.load(path: path)
            print("\(path): OK (\(config.listen.count) listen addresses, \(config.mesh.count) mesh relays, access \(config.access.name), \(config.hooks.count) hooks)")
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
    }

    /// Loads the configuration and relays until SIGTERM/SIGINT; 0 after a clean shutdown.
    public static func run(configPath: String) async -> Int32 {
        let config: RelayConfig
        do {
            config = try RelayConfig.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("ferry-relay: \(error)\n".utf8))
            return 1
        }
        let logger = Daemon.makeLogger(config.logging, label: "ferry-relay")
        let server: RelayServer
        do {
            server = try await RelayServer.start(config: config, logger: logger)
        } catch {
            logger.critical("ferry-relay failed to start", metadata: ["error": "\(error)"])
            return 1
        }
        // One line on stdout names the relay, so scripts and tests can pick it up (like ferry-bench's).
        if let address = server.address {
            FileHandle.standardOutput.write(Data("relay \(address)\n".utf8))
        }
        do {
            try await server.run()
        } catch {
            logger.error("ferry-relay stopped with an error", metadata: ["error": "\(error)"])
            await server.shutdown()
            return 1
        }
        await server.shutdown()
        return 0
    }
}
