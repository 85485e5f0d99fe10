import XCTest

final class FerryTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
