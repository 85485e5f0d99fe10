import NIOCore

/// What every public object of an endpoint shares: the loop-bound driver and the channel.
///
/// `Endpoint`, `Connection` and the stream objects hold it, so the socket stays open while any of them is in
/// use, and closes when the last one goes away. The driver never holds it, so there is no reference cycle.
final class EndpointCore: Sendable {
    let driver: NIOLoopBound<EndpointDriver>
    let channel: any Channel
    /// The driver's loop as a task executor (`Endpoint.taskExecutor`).
    let loopExecutor: LoopTaskExecutor

    init(driver: NIOLoopBound<EndpointDriver>, channel: any Channel) {
        self.driver = driver
        self.channel = channel
        self.loopExecutor = LoopTaskExecutor(eventLoop: driver.eventLoop)
    }

    deinit {
        let driver = self.driver
        driver.sendFromDeinit { $0.close(resumer: nil) }
    }
}
