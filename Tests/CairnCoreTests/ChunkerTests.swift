import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct ChunkerTests {
    let cdc = FastCDC(.default)

    @Test func cutsRespectBoundsAndCoverInput() {
        var rng = SeededBytes(seed: 1)
        let data = rng.bytes(3 << 20)
        let cuts = cdc.cuts(data)
        #expect(cuts.reduce(0, +) == data.count)
        for c in cuts.dropLast() {
            #expect(c >= ChunkerParams.default.minSize && c <= ChunkerParams.default.maxSize)
        }
        let avg = data.count / cuts.count
        // Normalized chunking keeps the mean near the target (8 KiB).
        #expect(avg > 6 << 10 && avg < 14 << 10, "average chunk \(avg)")
    }

    @Test func deterministicAndResynchronisesAfterAnEdit() {
        var rng = SeededBytes(seed: 2)
        var data = rng.bytes(1 << 20)
        let a = cdc.cuts(data)
        #expect(a == cdc.cuts(data))
        // Insert 100 bytes early: boundaries after the edit realign.
        data.insert(contentsOf: [UInt8](repeating: 0x41, count: 100), at: 5000)
        let b = cdc.cuts(data)
        func ends(_ c: [Int], shift: Int) -> Set<Int> {
            var s = Set<Int>(); var o = 0
            for x in c { o += x; s.insert(o - shift) }
            return s
        }
        let common = ends(a, shift: 0).intersection(ends(b, shift: 100))
        #expect(Double(common.count) > Double(a.count) * 0.9)
    }

    @Test func zerosCutAtMaxSize() {
        let data = [UInt8](repeating: 0, count: 1 << 20)
        let cuts = cdc.cuts(data)
        #expect(cuts.allSatisfy { $0 == ChunkerParams.default.maxSize })
    }

    /// The chunker's cuts are part of the format (dedup across versions depends on them): the
    /// unrolled loop must cut exactly where the plain definition does, one byte at a time.
    @Test func unrolledLoopCutsWhereTheDefinitionDoes() {
        func reference(_ p: ChunkerParams, _ data: [UInt8]) -> [Int] {
            var gear = [UInt64](repeating: 0, count: 256)
            var state = p.gearSeed
            for i in 0..<256 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                gear[i] = z ^ (z >> 31)
            }
            let bits = p.avgSize.trailingZeroBitCount
            let ms = ~UInt64(0) << UInt64(64 - (bits + p.normalization)), ml = ~UInt64(0) << UInt64(64 - (bits - p.normalization))
            var out: [Int] = []
            var off = 0
            while off < data.count {
                let n = min(data.count - off, p.maxSize)
                var cut = n
                if n > p.minSize {
                    var fp: UInt64 = 0
                    for i in p.minSize..<n {
                        fp = (fp << 1) &+ gear[Int(data[off + i])]
                        if fp & (i < min(n, p.avgSize) ? ms : ml) == 0 { cut = i + 1; break }
                    }
                }
                out.append(cut)
                off += cut
            }
            return out
        }
        var rng = SeededBytes(seed: 3)
        let random = rng.bytes(2 << 20 + 12345)
        // Low-entropy data: long cuts, many near the maximum.
        let text = (0..<(1 << 20)).map { i in UInt8(truncatingIfNeeded: (i / 7) % 13 &+ 97) }
        let small = ChunkerParams(name: "fastcdc-normalized", minSize: 100, avgSize: 256, maxSize: 1001, normalization: 1, gearSeed: 9)
        for p in [ChunkerParams.default, small] {
            let c = FastCDC(p)
            for data in [random, text, Array(random.prefix(p.minSize + 3)), Array(random.prefix(p.maxSize + 7))] {
                #expect(c.cuts(data) == reference(p, data), "params \(p.minSize)/\(p.avgSize)/\(p.maxSize), \(data.count) bytes")
            }
        }
    }

    @Test func invalidParamsRejected() {
        var p = ChunkerParams.default
        p.avgSize = 10000
        #expect(throws: CairnError.self) { try p.validate() }
    }
}

@Suite struct FormatTests {
    @Test func treeRoundTripIsDeterministic() throws {
        let id = BlockId.hash(Array("x".utf8))
        let t = Tree(entries: [
            TreeEntry(name: "b", kind: .file, mode: 0o644, mtimeNs: 123_456_789, ctimeNs: 5, inode: 9, size: 3, content: [ContentRef(id: id, length: 3)]),
            TreeEntry(name: "a dir", kind: .directory, mode: 0o755, mtimeNs: -1, subtree: id),
            TreeEntry(name: "ln", kind: .symlink, mode: 0o777, mtimeNs: 0, target: "../nowhere"),
            TreeEntry(name: "ünï\ncode", kind: .file, mode: 0o600, mtimeNs: 1, size: 0, flags: TreeEntry.flagSQLite, fingerprint: 77),
        ])
        let enc = t.encode()
        let back = try Tree.decode(enc)
        #expect(back == t)
        #expect(back.encode() == enc)
        #expect(t.entries.map(\.name) == ["a dir", "b", "ln", "ünï\ncode"])
        #expect(t.entry(named: "ln")?.target == "../nowhere")
        #expect(throws: CairnError.self) { try Tree.decode(Array(enc.dropLast(5))) }
    }

    @Test func contentListGroupsAreContentDefined() throws {
        var refs: [ContentRef] = []
        for i in 0..<5000 { refs.append(ContentRef(id: BlockId.hash(Array("\(i)".utf8)), length: 8192)) }
        let g1 = ContentList.groups(refs)
        #expect(g1.reduce(0) { $0 + $1.count } == refs.count)
        var changed = refs
        changed[2500] = ContentRef(id: BlockId.hash(Array("changed".utf8)), length: 8192)
        let g2 = ContentList.groups(changed)
        let s1 = Set(g1.map { ContentList.encode($0) }), s2 = Set(g2.map { ContentList.encode($0) })
        // One edit rewrites at most the group around it (and a neighbour when a boundary moves).
        #expect(s2.subtracting(s1).count <= 2)
        let dec = try ContentList.decode(ContentList.encode(g1[0]))
        #expect(dec == Array(g1[0]))
    }

    @Test func packTrailerRoundTripAndDamage() throws {
        let storage = MemoryPackStorage()
        var bytes = PackFormat.headerMagic + [UInt8](repeating: 7, count: 100)
        let e = PackEntry(id: BlockId.hash([UInt8](repeating: 7, count: 100)), kind: .data, codec: .none, offset: 8, storedLength: 100, rawLength: 100, crc32: 1)
        bytes += PackFormat.encodeTrailer([e])
        try bytes.withUnsafeBytes { try storage.writePack(name: "p1", bytes: $0) }
        #expect(try PackFormat.readTrailer(storage, pack: "p1") == [e])
        storage.corrupt("p1", at: bytes.count - 30)
        #expect(throws: CairnError.self) { try PackFormat.readTrailer(storage, pack: "p1") }
        // A hostile offset near UInt64.max is an error, not an overflow trap.
        var buf = [UInt8](repeating: 0, count: 16)
        #expect(throws: CairnError.self) { try buf.withUnsafeMutableBytes { try storage.read(pack: "p1", offset: UInt64.max - 4, count: 16, into: $0.baseAddress!) } }
    }

    /// BlockWriter writes sealed packs from its background queue while the caller reads other
    /// packs: the in-memory storage must be safe across threads (checked by ThreadSanitizer runs).
    @Test func memoryPackStorageIsSafeAcrossThreads() throws {
        let storage = MemoryPackStorage()
        let body = [UInt8](repeating: 3, count: 4096)
        try body.withUnsafeBytes { try storage.writePack(name: "base", bytes: $0) }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            var buf = [UInt8](repeating: 0, count: 64)
            for j in 0..<50 {
                if i % 2 == 0 {
                    body.withUnsafeBytes { try? storage.writePack(name: "p\(i)-\(j)", bytes: $0) }
                } else {
                    _ = try? buf.withUnsafeMutableBytes { try storage.read(pack: "base", offset: UInt64(j), count: 64, into: $0.baseAddress!) }
                    _ = try? storage.list()
                }
            }
        }
        #expect(try storage.list().count == 1 + 4 * 50)
        #expect(storage.packs["p0-49"] == body)
    }
}
