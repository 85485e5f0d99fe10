// libFuzzer target for ferryd's TOML parser (issue 13 item 2). Built by Scripts/fuzz-toml together with
// Sources/FerryDaemon/Config/TOML*.swift into one module, so the parser's types are used without an import.
//
// Each input is parsed as UTF-8 text (inputs that are not UTF-8 are skipped: the config loader refuses them
// before parsing). The parser must never trap, and every error must name a line inside the document.

@_cdecl("LLVMFuzzerTestOneInput")
public func tomlFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
    do {
        _ = try TOMLParser.parse(text)
    } catch {
        let lines = text.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        if error.line < 0 || error.line > lines + 1 {
            fatalError("error line \(error.line) outside a document of \(lines) lines: \(error)")
        }
    }
    return 0
}
