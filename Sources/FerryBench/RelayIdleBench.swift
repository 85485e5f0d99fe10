import ArgumentParser
import Ferry
import Foundation

extension FerryBenchCommand {
    /// `ferry-bench relay-idle`: holds many idle relay clients, each its own endpoint and id, so the relay's memory
    /// per idle client can be measured (docs/benchmarks.md).
    struct RelayIdle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "relay-idle",
            abstract: "Hold COUNT idle relay clients (one endpoint and id each) until stdin closes; print one JSON line once all are linked."
        )

        @Option(help: "The relay, ID@IP:PORT.")
        var relay: String

        @Option(help: "Idle clients to hold.")
        var count: Int = 1000

        @Option(help: "Clients connecting at once.")
        var concurrency: Int = 64

        func run() async throws {
            let relay = try RelayAddress(parsing: relay)
            let configuration = EndpointConfiguration(
                socketBufferSize: 64 << 10, receiveBatchSize: 4, sendBatchSize: 4, relays: [relay])
            let started = ContinuousClock.now
            var endpoints: [Endpoint] = []
            var failed = 0
            var next = 0
            while next < count {
                let batch = min(concurrency, count - next)
                let bound = await withTaskGroup(of: Endpoint?.self) { group in
                    for _ in 0..<batch {
                        group.addTask {
                            guard let endpoint = try? await Endpoint.bind(
                                host: "0.0.0.0", identity: .generate(), alpns: [], configuration: configuration)
                            else { return nil }
                            guard await endpoint.waitUntilRelayed(timeout: .seconds(30)) else {
                                await endpoint.close()
                                return nil
                            }
                            return endpoint
                        }
                    }
                    var result: [Endpoint?] = []
                    for await endpoint in group { result.append(endpoint) }
                    return result
                }
                endpoints += bound.compactMap { $0 }
                failed += bound.count - bound.compactMap { $0 }.count
                next += batch
            }
            let seconds = (ContinuousClock.now - started).components.seconds
            printLine("{\"held\": \(endpoints.count), \"failed\": \(failed), \"seconds\": \(seconds)}")
            // Hold until the caller closes stdin (it measures the relay meanwhile).
            while let _ = readLine() {}
            for endpoint in endpoints { await endpoint.close() }
        }
    }
}
