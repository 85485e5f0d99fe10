import NIOCore

/// What every public object of an endpoint shares: the loop-bound driver.
///
/// `Endpoint`, `Connection` and the stream objects hold it, so the socket stays open while any of them is in
/// use, and closes when the last one goes away (its deinit tells the driver to close, whichever socket the driver
/// uses by then). The driver never holds it, so there is no reference cycle.
final class EndpointCore: Sendable {
    let driver: NIOLoopBound<EndpointDriver>
    /// The driver's loop as a task executor (`Endpoint.taskExecutor`).
    let loopExecutor: LoopTaskExecutor

    init(driver: NIOLoopBound<EndpointDriver>, eventLoop: any EventLoop) {
        self.driver = driver
        self.loopExecutor = LoopTaskExecutor(eventLoop: eventLoop)
    }

    deinit {
        let driver = self.driver
        driver.sendFromDeinit { $0.close(resumer: nil) }
    }
}
