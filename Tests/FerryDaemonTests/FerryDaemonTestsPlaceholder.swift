import XCTest

final class FerryDaemonTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
