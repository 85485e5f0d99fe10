// libFuzzer target for FerryTransport (issue 13 item 2). Built by Scripts/fuzz-transport from FerryWire, the part
// of FerryCrypto the transport needs, FerryTransport and FerryTestSupport, all instrumented for coverage.
//
// FERRY_TRANSPORT_FUZZ_MODE picks what one input drives (see FuzzWorld.swift for the record format):
//   datagrams (default)  a fresh server and a client in mid-handshake; the fuzzer's datagrams are raw bytes,
//                        packets sealed with the endpoints' own keys, or the scripted handshake's messages.
//   frames               a connection established in memory first; the fuzzer's frame sequences arrive in valid
//                        1-RTT packets of it, reaching streams, flow control, ACK processing, key updates, paths.
// FERRY_TRANSPORT_FUZZ_TRACE=1 prints what each input does. FERRY_TRANSPORT_FUZZ_WRITE_SEEDS=dir writes the hand-made seeds of the mode into dir and exits.
//
// The transport must never trap, never stop going quiet at one instant (a livelock, reported with fatalError), and
// never keep memory across inputs (each input builds a new world). Everything is seeded: TestCryptoProvider's
// handshake randoms, the endpoints' connection IDs, reset and token keys; with SWIFT_DETERMINISTIC_HASHING=1 (set
// by the script) dictionary order is fixed too, so a crashing input replays.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

nonisolated(unsafe) var fuzzSetup: FuzzSetup = .handshake
/// FERRY_TRANSPORT_FUZZ_TRACE=1 prints each record and event, to check what a seed or a crashing input does.
nonisolated(unsafe) var fuzzTrace = false

@_cdecl("LLVMFuzzerInitialize")
public func transportFuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    let mode = getenv("FERRY_TRANSPORT_FUZZ_MODE").map { String(cString: $0) } ?? "datagrams"
    switch mode {
    case "datagrams": fuzzSetup = .handshake
    case "frames": fuzzSetup = .established
    default:
        print("transport-fuzz: unknown FERRY_TRANSPORT_FUZZ_MODE \(mode) (datagrams or frames)")
        exit(2)
    }
    fuzzTrace = getenv("FERRY_TRANSPORT_FUZZ_TRACE") != nil
    if let directory = getenv("FERRY_TRANSPORT_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) {
        let seeds = fuzzSetup == .handshake ? FuzzSeeds.datagrams : FuzzSeeds.frames
        for (name, bytes) in seeds {
            guard let file = fopen(directory + "/" + name, "wb") else {
                print("transport-fuzz: cannot write \(directory)/\(name)")
                exit(1)
            }
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
        print("transport-fuzz: wrote \(seeds.count) \(mode) seeds to \(directory)")
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func transportFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    FuzzWorld.run(Array(UnsafeBufferPointer(start: data, count: size)), setup: fuzzSetup)
    return 0
}

/// Writes a trace line to stderr, unbuffered, so the lines before a crash are not lost.
func trace(_ message: String) {
    let line = message + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}
