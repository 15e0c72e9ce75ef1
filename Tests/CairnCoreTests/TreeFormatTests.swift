import CairnCore
import CairnTestSupport
import Foundation
import Testing

/// Tree formats: CTR2 round trips every field (byte names, owner, hard links, wide times),
/// CTR1 blocks of format-1 repositories still decode, hostile bytes give errors, never traps.
@Suite struct TreeFormatTests {
    static let id = BlockId.hash(Array("x".utf8))

    static func sample() -> Tree {
        var f = TreeEntry(name: FileName(bytes: [0xFF, 0xFE]), kind: .file, mode: 0o4755, mtimeNs: 0, inode: 7, size: 3,
                          content: [ContentRef(id: id, length: 3)])
        f.mtime = Timestamp(seconds: 10_413_792_000, nanoseconds: 999_999_999)
        f.ctime = Timestamp(seconds: -12_000_000_000, nanoseconds: 1)
        f.owner = Ownership(uid: 4_000_000_000, gid: 17, user: [0xE9, 0x41], group: [])
        f.links = 3
        f.device = 0xFFFF_FFFF_FFFF
        var l = TreeEntry(name: FileName(bytes: [0x65, 0xCC, 0x81]), kind: .symlink, mode: 0o777, mtimeNs: -1, target: FileName(bytes: [0x61, 0x2F, 0xCC, 0x81]))
        l.links = 1
        let d = TreeEntry(name: FileName(bytes: [0xC3, 0xA9]), kind: .directory, mode: 0o755, mtimeNs: Int64.min, subtree: id)
        return Tree(entries: [f, l, d])
    }

    @Test func ctr2RoundTripsEveryField() throws {
        let t = Self.sample()
        #expect(t.entries.map(\.name.bytes) == [[0x65, 0xCC, 0x81], [0xC3, 0xA9], [0xFF, 0xFE]], "byte order, NFD before NFC")
        let bytes = t.encode()
        #expect(Array(bytes.prefix(4)) == Array("CTR2".utf8))
        let back = try Tree.decode(bytes)
        #expect(back == t)
        #expect(back.entry(named: FileName(bytes: [0xFF, 0xFE]))?.owner?.uid == 4_000_000_000)
        #expect(back.entry(named: FileName(bytes: [0x65, 0xCC, 0x81]))?.target?.bytes == [0x61, 0x2F, 0xCC, 0x81])
        #expect(back.entry(named: FileName(utf8: "é")) == back.entry(named: FileName(bytes: [0xC3, 0xA9])))
        #expect(back.entry(named: FileName(bytes: [0xC3])) == nil)
        #expect(back.entries[2].linkKey == HardLinkKey(device: 0xFFFF_FFFF_FFFF, inode: 7))
        #expect(back.entries[1].mtimeNs == Int64.min)
        #expect(back.entries[2].mtimeNs == Int64.max, "out-of-range times clamp for display only")
    }

    /// A CTR1 block as format 1 wrote it: names as blobs, times as i64 nanoseconds, no owner.
    @Test func ctr1StillDecodes() throws {
        var w = BinaryWriter()
        w.raw(Array("CTR1".utf8))
        w.uvarint(2)
        w.blob(Array("a.txt".utf8)); w.u8(1); w.u8(0); w.uvarint(0o644); w.i64(1_577_934_245_000_000_001); w.i64(-5)
        w.uvarint(9); w.uvarint(3); w.uvarint(0); w.u8(0); w.uvarint(1); w.raw(Self.id.bytes); w.uvarint(3)
        w.blob(Array("link".utf8)); w.u8(3); w.u8(0); w.uvarint(0o777); w.i64(0); w.i64(0)
        w.uvarint(0); w.uvarint(0); w.uvarint(0); w.blob(Array("sub/b.txt".utf8))
        let t = try Tree.decode(w.bytes)
        #expect(t.entries.count == 2)
        #expect(t.entries[0].mtime == Timestamp(seconds: 1_577_934_245, nanoseconds: 1))
        #expect(t.entries[0].ctime == Timestamp(seconds: -1, nanoseconds: 999_999_995))
        #expect(t.entries[0].owner == nil && t.entries[0].links == 0)
        #expect(t.entries[1].target == "sub/b.txt")
        // Re-encoding writes CTR2 and keeps every value.
        #expect(try Tree.decode(t.encode()) == t)
    }

    @Test func hostileTreesGiveErrors() throws {
        let good = Self.sample().encode()
        // Every truncation is an error, never a trap.
        for n in 0..<good.count {
            #expect(throws: CairnError.self) { try Tree.decode(Array(good.prefix(n))) }
        }
        // Names out of order or duplicated.
        let dup = TreeEntry(name: "a", kind: .directory, mode: 0, mtimeNs: 0, subtree: Self.id)
        var w = BinaryWriter()
        w.raw(Array("CTR2".utf8))
        let one = Array(Tree(entries: [dup]).encode().dropFirst(5))
        w.uvarint(2); w.raw(one); w.raw(one)
        #expect(throws: CairnError.self) { try Tree.decode(w.bytes) }
        // Names that are not one path component.
        for bad: [UInt8] in [[], [0x2E], [0x2E, 0x2E], Array("../x".utf8), Array("a/b".utf8), [0x61, 0x00]] {
            var e = dup
            e.name = FileName(bytes: bad)
            #expect(throws: CairnError.self) { try Tree.decode(Tree(entries: [e]).encode()) }
        }
        // Nanoseconds of 10^9 or more, a mode past 32 bits, an unknown owner tag.
        func patched(_ body: (inout BinaryWriter) -> Void) -> [UInt8] {
            var w = BinaryWriter()
            w.raw(Array("CTR2".utf8)); w.uvarint(1); w.blob([0x61]); w.u8(2); w.u8(0)
            body(&w)
            w.raw(Self.id.bytes)
            return w.bytes
        }
        let times = { (w: inout BinaryWriter) in w.i64(0); w.u32(0); w.i64(0); w.u32(0) }
        let tail = { (w: inout BinaryWriter) in w.uvarint(0); w.uvarint(0); w.uvarint(0); w.u8(0); w.uvarint(0) }
        #expect(try Tree.decode(patched { w in w.uvarint(0o755); times(&w); tail(&w) }).entries.count == 1)
        #expect(throws: CairnError.self) { try Tree.decode(patched { w in w.uvarint(0o755); w.i64(0); w.u32(1_000_000_000); w.i64(0); w.u32(0); tail(&w) }) }
        #expect(throws: CairnError.self) { try Tree.decode(patched { w in w.uvarint(UInt64(UInt32.max) + 1); times(&w); tail(&w) }) }
        #expect(throws: CairnError.self) {
            try Tree.decode(patched { w in w.uvarint(0o755); times(&w); w.uvarint(0); w.uvarint(0); w.uvarint(0); w.u8(7); w.uvarint(0) })
        }
    }

    @Test func namesInJSONAreLossless() throws {
        for raw: [UInt8] in [[0xFF, 0xFE], Array("caf".utf8) + [0xE9], [0x65, 0xCC, 0x81], Array("new\nline\u{1B}".utf8), []] {
            let n = FileName(bytes: raw)
            #expect(FileName.fromJSON(text: n.jsonText, base64: n.jsonBase64) == n)
            #expect((n.jsonBase64 == nil) == n.isValidUTF8)
        }
        #expect(FileName.fromJSON(text: "x", base64: "not base64!") == nil)
        #expect(FileName(bytes: [0xFF, 0xFE]).jsonBase64 == "//4=")
    }

    @Test func timestampConversions() {
        #expect(Timestamp(ns: -1) == Timestamp(seconds: -1, nanoseconds: 999_999_999))
        #expect(Timestamp(ns: Int64.min).nanosecondsClamped == Int64.min)
        #expect(Timestamp(ns: Int64.max).nanosecondsClamped == Int64.max)
        #expect(Timestamp(seconds: Int64.max, nanoseconds: 999_999_999).nanosecondsClamped == Int64.max)
        #expect(Timestamp(seconds: Int64.min, nanoseconds: 0).nanosecondsClamped == Int64.min)
        #expect(Timestamp(seconds: -1, nanoseconds: 5) < Timestamp(seconds: 0, nanoseconds: 0))
    }

    /// ZIP entry names are the raw bytes; bit 11 (UTF-8) is set only on names that are valid
    /// UTF-8 (checked with Python's zipfile, which reads the flag and the raw name).
    @Test func zipNamesAreRawBytesWithUTF8FlagOnlyWhenValid() throws {
        let t = TempDir("cairn-zipnames"); defer { t.remove() }
        let sink = MemorySink()
        let w = ZipWriter(sink: sink)
        try w.addDirectory(name: FileName(bytes: Array("s".utf8)), mtimeNs: 0)
        for n: [UInt8] in [Array("s/caf".utf8) + [0xE9], Array("s/é".utf8)] {
            try w.beginFile(name: FileName(bytes: n), mtimeNs: 0, method: .store, size: 1)
            try [UInt8]([0x41]).withUnsafeBytes { try w.writeData($0) }
            try w.finishFile()
        }
        try w.addSymlink(name: FileName(bytes: Array("s/l".utf8)), target: FileName(bytes: [0x2E, 0xFF]), mtimeNs: 0)
        _ = try w.finish()
        try writeFile(t.sub("n.zip"), sink.bytes)
        let py = """
        import zipfile
        for i in zipfile.ZipFile('\(t.sub("n.zip"))').infolist():
            raw = i.filename.encode('utf-8' if i.flag_bits & 0x800 else 'cp437')
            print(raw.hex(), (i.flag_bits >> 11) & 1)
        """
        let r = try run("/usr/bin/env", ["python3", "-c", py])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n") == ["732f 1", "732f636166e9 0", "732fc3a9 1", "732f6c 1"])
    }
}
