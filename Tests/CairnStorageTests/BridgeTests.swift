// The blocking bridge the synchronous engine uses: results and errors cross it, several engine
// threads may use it at once, and its cost for a 4 KiB ranged read on the local backend is
// measured against a plain pread of the same bytes (figure printed; Docs/Backends.md).

import CairnStorage
import Foundation
import Synchronization
import Testing

@Suite struct BridgeTests {
    @Test func resultsAndErrorsCrossFromEngineThreads() async throws {
        let b = LocalBackend(path: try TempDir.make())
        let h = handle(.pack, "bridge01")
        let src = PatternSource(length: 1 << 16, seed: 11)
        let outcome: (ok: Int, notFound: Int) = await withCheckedContinuation { cont in
            Thread.detachNewThread {
                do {
                    try BlockingBridge.run { try await b.put(h, from: src) }
                    let group = DispatchGroup()
                    let counts = Mutex((ok: 0, nf: 0))
                    for t in 0..<4 {  // four engine threads at once
                        group.enter()
                        Thread.detachNewThread {
                            for i in 0..<50 {
                                let off = UInt64((t * 50 + i) * 97 % 60_000)
                                let got = try? BlockingBridge.run { try await b.bytes(h, range: ByteRange(offset: off, length: 4096)) }
                                let missing = (try? BlockingBridge.run { try await b.stat(handle(.pack, "nope\(t)")) }) == nil
                                let same = got == src.bytes(off..<off + 4096)
                                counts.withLock { c in
                                    if same { c.ok += 1 }
                                    if missing { c.nf += 1 }
                                }
                            }
                            group.leave()
                        }
                    }
                    group.wait()
                    cont.resume(returning: counts.withLock { ($0.ok, $0.nf) })
                } catch {
                    cont.resume(returning: (-1, -1))
                }
            }
        }
        #expect(outcome.ok == 200 && outcome.notFound == 200)
    }

    @Test func overheadOfA4KiBRangedReadIsMeasured() async throws {
        let dir = try TempDir.make()
        let b = LocalBackend(path: dir)
        let h = handle(.pack, "bridge02")
        let src = PatternSource(length: 1 << 20, seed: 12)
        try await b.put(h, from: src)
        let n = 3000
        let figures: (direct: Double, bridged: Double, same: Bool) = await withCheckedContinuation { cont in
            Thread.detachNewThread {
                let fd = open(dir + "/" + h.description, O_RDONLY)
                defer { close(fd) }
                var buf = [UInt8](repeating: 0, count: 4096)
                let clock = ContinuousClock()
                let t0 = clock.now
                for i in 0..<n { _ = pread(fd, &buf, 4096, off_t(i * 4096 % (1 << 20 - 4096))) }
                let direct = clock.now - t0
                var same = true
                let t1 = clock.now
                for i in 0..<n {
                    let off = UInt64(i * 4096 % (1 << 20 - 4096))
                    let got = (try? BlockingBridge.run { try await b.bytes(h, range: ByteRange(offset: off, length: 4096)) }) ?? []
                    if i % 500 == 0 { same = same && got == src.bytes(off..<off + 4096) } else { same = same && got.count == 4096 }
                }
                let bridged = clock.now - t1
                func us(_ d: Duration) -> Double { (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(n) }
                cont.resume(returning: (us(direct), us(bridged), same))
            }
        }
        print(String(format: "bridge: 4 KiB ranged read %.1f us through BlockingBridge + LocalBackend, %.1f us plain pread (%d reads)", figures.bridged, figures.direct, n))
        #expect(figures.same)
        #expect(figures.bridged > 0 && figures.direct > 0)
    }
}
