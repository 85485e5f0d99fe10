import XCTest

final class FerryTransportTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
