import CairnCore
import CairnTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Pack trailers and block entries with values at the edge of their types give integrity
/// errors naming the pack and the offset, never a trap.
@Suite struct RepositoryInputTests {
    func pack(with entries: [PackEntry], body: Int = 100) -> [UInt8] {
        PackFormat.headerMagic + [UInt8](repeating: 7, count: body) + PackFormat.encodeTrailer(entries)
    }

    @Test func extremeTrailerEntriesAreRefused() throws {
        let id = BlockId.hash([1, 2, 3])
        let cases: [PackEntry] = [
            PackEntry(id: id, kind: .data, codec: .none, offset: UInt64.max, storedLength: 10, rawLength: 10, crc32: 0),
            PackEntry(id: id, kind: .data, codec: .none, offset: UInt64.max - 4, storedLength: UInt32.max, rawLength: UInt32.max, crc32: 0),
            PackEntry(id: id, kind: .data, codec: .none, offset: 0, storedLength: 4, rawLength: 4, crc32: 0),
            PackEntry(id: id, kind: .data, codec: .none, offset: 8, storedLength: 4, rawLength: 5, crc32: 0),
            PackEntry(id: id, kind: .data, codec: .lz4, offset: 8, storedLength: 0, rawLength: 0, crc32: 0),
            PackEntry(id: id, kind: .data, codec: .none, offset: 8, storedLength: 1000, rawLength: 1000, crc32: 0),
        ]
        for (i, e) in cases.enumerated() {
            let storage = MemoryPackStorage()
            let bytes = pack(with: [e])
            try bytes.withUnsafeBytes { try storage.writePack(name: "p\(i)", bytes: $0) }
            do {
                _ = try PackFormat.readTrailer(storage, pack: "p\(i)")
                Issue.record("case \(i) was accepted")
            } catch let err as CairnError {
                #expect(err.code == .integrity)
                #expect(err.message.contains("memory:p\(i)") && err.offset != nil, "\(err.message)")
            }
        }
    }

    @Test func footerCountAtTheEdgeIsRefused() throws {
        let storage = MemoryPackStorage()
        var bytes = pack(with: [])
        // count = u32 max, CRC anything.
        let at = bytes.count - 16
        for i in 0..<4 { bytes[at + i] = 0xff }
        try bytes.withUnsafeBytes { try storage.writePack(name: "big", bytes: $0) }
        #expect(throws: CairnError.self) { try PackFormat.readTrailer(storage, pack: "big") }
    }

    @Test func lz4DecodeRefusesEmptyAndHugeInput() {
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { o in
            #expect(!LZ4.decompress(UnsafeRawBufferPointer(start: nil, count: 0), into: o.baseAddress!, rawLength: 16))
            #expect(!LZ4.decompress(UnsafeRawBufferPointer(start: o.baseAddress!, count: 4), into: o.baseAddress!, rawLength: Int(Int32.max) + 1))
        }
    }

    @Test func salvageRecoversBlocksAroundADamagedEntry() throws {
        // Three blocks; the middle entry's offset and length are wrong and the footer CRC no longer matches.
        let blocks: [[UInt8]] = [Array(repeating: 1, count: 50), Array(repeating: 2, count: 60), Array(repeating: 3, count: 70)]
        var body: [UInt8] = PackFormat.headerMagic
        var entries: [PackEntry] = []
        for b in blocks {
            entries.append(PackEntry(id: BlockId.hash(b), kind: .data, codec: .none, offset: UInt64(body.count), storedLength: UInt32(b.count), rawLength: UInt32(b.count), crc32: CRC32.checksum(b)))
            body += b
        }
        var broken = entries
        broken[1].offset = 9_999_999
        broken[1].storedLength = 3
        let storage = MemoryPackStorage()
        var trailer = PackFormat.encodeTrailer(broken)
        trailer[trailer.count - 12] ^= 0x01 // the CRC
        let bytes = body + trailer
        try bytes.withUnsafeBytes { try storage.writePack(name: "s", bytes: $0) }
        #expect(throws: CairnError.self) { try PackFormat.readTrailer(storage, pack: "s") }
        let r = try #require(PackSalvage.salvage(storage, pack: "s"))
        #expect(r.entries.map(\.id) == entries.map(\.id))
        #expect(r.entries.map(\.offset) == entries.map(\.offset))
    }

    @Test func leftoverNamesRecordTheirOwner() {
        let n = Leftovers.ownedName("sqlite")
        let o = Leftovers.owner(n + "-journal")
        #expect(o?.pid == getpid() && o?.start == Leftovers.ownStart)
        #expect(!Leftovers.ownerGone(n))
        #expect(Leftovers.owner("sqlite-123-456-789") == nil)
    }
}
