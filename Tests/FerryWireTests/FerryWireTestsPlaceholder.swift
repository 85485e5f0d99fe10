import XCTest

final class FerryWireTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
