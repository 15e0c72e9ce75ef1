// libFuzzer entry point for all Cairn harnesses (built by Scripts/fuzz.sh, not by `swift build`).
// The harness is chosen by the environment variable CAIRN_FUZZ_TARGET (a key of FuzzTargets.all).

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var harness: (@Sendable ([UInt8]) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func cairnFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if harness == nil {
        let name = getenv("CAIRN_FUZZ_TARGET").map { String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0)), as: UTF8.self) } ?? ""
        guard let h = FuzzTargets.all[name] else {
            let msg = Array("set CAIRN_FUZZ_TARGET to one of: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8)
            _ = msg.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            exit(2)
        }
        harness = h
    }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    harness?(bytes)
    return 0
}
