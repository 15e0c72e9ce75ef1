import CairnCore
import CairnTestSupport
import Testing

@Suite struct CompressionPolicyTests {
    @Test func compressionPolicyStopsOnIncompressibleDataAndResumes() {
        var p = CompressionPolicy()
        #expect((0..<100).allSatisfy { p.shouldCompress(chunk: $0) })
        p.learn(compressed: 8 << 20, stored: 8 << 20)           // nothing saved
        #expect(!p.compressing)
        let probes = (0..<320).filter { p.shouldCompress(chunk: $0) }
        #expect(probes.count == 320 / CompressionPolicy.probeEvery)
        p.learn(compressed: 256 << 10, stored: (256 << 10) - (256 << 10) / 64)  // saved 1/64: still off
        #expect(!p.compressing)
        p.learn(compressed: 256 << 10, stored: 128 << 10)        // the probes shrink: back on
        #expect(p.compressing)
        p.learn(compressed: 0, stored: 0)                         // nothing learned keeps the decision
        #expect(p.compressing)
    }
}
