import Foundation

/// What the `ferryd` executable calls: each entry point returns the process exit status.
///
/// Kept in the library so the executable stays a few lines and the behaviour is testable.
public enum DaemonCommandLine {
    /// Validates the configuration at `path`: prints `<path>: OK` and returns 0, or prints the error
    /// (`ferryd.toml:12: key 'endpoints': …`) to stderr and returns 1.
    public static func checkConfig(path: String) -> Int32 {
        let report = checkConfigReport(path: path)
        if report.status == 0 {
            print(report.message)
        } else {
            FileHandle.standardError.write(Data((report.message + "\n").utf8))
        }
        return report.status
    }

    /// The exit status and the line `--check-config` prints.
    public static func checkConfigReport(path: String) -> (status: Int32, message: String) {
        do {
            let config = try DaemonConfig.load(path: path)
            return (0, "\(path): OK (\(config.services.count) services, \(config.tunnels.count) tunnels, \(config.hooks.count) hooks)")
        } catch {
            return (1, "\(error)")
        }
    }

    /// Loads the configuration and runs the daemon until SIGTERM/SIGINT; returns 0 after a clean shutdown.
    public static func run(configPath: String) async -> Int32 {
        let config: DaemonConfig
        do {
            config = try DaemonConfig.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("ferryd: \(error)\n".utf8))
            return 1
        }
        let levelControl = LogLevelControl(config.logging.level)
        let logger = Daemon.makeLogger(config.logging, levelControl: levelControl)
        let daemon: Daemon
        do {
            daemon = try await Daemon.start(config: config, logger: logger, logLevelControl: levelControl)
        } catch {
            logger.critical("ferryd failed to start", metadata: ["error": "\(error)"])
            return 1
        }
        do {
            try await daemon.run()
        } catch {
            logger.error("ferryd stopped with an error", metadata: ["error": "\(error)"])
            await daemon.shutdown()
            return 1
        }
        await daemon.shutdown()
        return 0
    }
}
