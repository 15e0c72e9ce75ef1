// Throughput of the S3 backend on the test SeaweedFS (64 MiB put and get, 8 KiB ranged gets),
// run on request only: CAIRN_MEASURE=1 (figures in Docs/Backends.md). Data is checked, not timed.

import CairnStorage
import Foundation
import Testing

@Suite struct S3MeasureTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CAIRN_MEASURE"] == "1"))
    func throughputOnLoopback() async throws {
        guard let endpoint = S3Env.require() else { return }
        let b = S3Backend(try S3Location.parse("s3:\(endpoint)/measure-\(randomName())"), credentials: S3Env.credentials, options: S3Options())
        let size: UInt64 = 64 << 20
        let src = PatternSource(length: size, seed: 77)
        let h = handle(.pack, "measure64")
        let clock = ContinuousClock()
        let t0 = clock.now
        try await b.put(h, from: src)
        let put = clock.now - t0
        var n: UInt64 = 0
        let t1 = clock.now
        try await b.get(h, range: nil) { n += UInt64($0.count) }
        let get = clock.now - t1
        #expect(n == size)
        var lat: [Duration] = []
        for i in 0..<200 {
            let off = UInt64(i * 7919 * 8192) % (size - 8192)
            let t = clock.now
            let bytes = try await b.bytes(h, range: ByteRange(offset: off, length: 8192))
            lat.append(clock.now - t)
            if i % 50 == 0 { #expect(bytes == src.bytes(off..<off + 8192)) }
        }
        lat.sort()
        func s(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        print(String(format: "s3 backend: put 64 MiB %.2f s (%.0f MB/s), get %.2f s (%.0f MB/s), ranged 8 KiB p50 %.2f ms p90 %.2f ms",
                     s(put), Double(size) / s(put) / 1e6, s(get), Double(size) / s(get) / 1e6, s(lat[100]) * 1000, s(lat[180]) * 1000))
    }
}
