/// Ferry: the SwiftNIO runtime and async API.
