import CairnCore
import Foundation
import Testing

// Diff engine tests: hand-built trees in a MemoryTreeSource, no repository.

private let t0: Int64 = 1_700_000_000_000_000_000  // 2023-11-14T22:13:20Z

private func blk(_ s: String) -> BlockId { BlockId.hash(Array(s.utf8)) }

private func file(_ name: String, _ blocks: [(String, UInt64)], mode: UInt32 = 0o100644, mtime: Int64 = t0) -> TreeEntry {
    let refs = blocks.map { ContentRef(id: blk($0.0), length: $0.1) }
    return TreeEntry(name: FileName(utf8: name), kind: .file, mode: mode, mtimeNs: mtime, size: refs.reduce(0) { $0 + $1.length }, content: refs)
}

private func dir(_ name: String, _ id: BlockId) -> TreeEntry {
    TreeEntry(name: FileName(utf8: name), kind: .directory, mode: 0o40755, mtimeNs: t0, subtree: id)
}

private func link(_ name: String, _ target: String) -> TreeEntry {
    TreeEntry(name: FileName(utf8: name), kind: .symlink, mode: 0o120777, mtimeNs: t0, size: UInt64(target.utf8.count), target: FileName(utf8: target))
}

/// A file stored indirectly: one list block per group of data blocks.
private func indirect(_ name: String, _ groups: [[(String, UInt64)]], src: MemoryTreeSource) -> TreeEntry {
    var lists: [ContentRef] = []
    for g in groups {
        let refs = g.map { ContentRef(id: blk($0.0), length: $0.1) }
        lists.append(ContentRef(id: src.addList(refs), length: refs.reduce(0) { $0 + $1.length }))
    }
    return TreeEntry(name: FileName(utf8: name), kind: .file, mode: 0o100644, mtimeNs: t0, size: lists.reduce(0) { $0 + $1.length }, content: lists, indirect: true)
}

/// Two snapshots covering every change kind. A: silos home, old. B: silos home, photos.
private struct Fixture {
    let src = MemoryTreeSource()
    var a: [String: BlockId] = [:]
    var b: [String: BlockId] = [:]
    var same = BlockId(w0: 0, w1: 0, w2: 0, w3: 0)

    init() {
        same = src.add(Tree(entries: [file("x.txt", [("x1", 40)])]))
        var touched = file("touched.txt", [("t1", 60)])
        touched.ctimeNs = 1
        touched.inode = 1
        let homeA = Tree(entries: [
            file("big.bin", [("b1", 1000), ("b2", 2000), ("b3", 3000)]),
            dir("docs", src.add(Tree(entries: [file("report.txt", [("r1", 4096)])]))),
            file("empty-a", []),
            file("gone.txt", [("g1", 100)]),
            file("keep.txt", [("k1", 10)]),
            link("link", "a"),
            file("node", [("nd", 5)]),
            dir("olddir", src.add(Tree(entries: [file("a.txt", [("oa", 30)])]))),
            dir("same", same),
            file("script.sh", [("s1", 50)]),
            touched,
            indirect("vm.img", [[("c1", 100), ("c2", 100)], [("c3", 100)]], src: src),
        ])
        // Only ctime, inode, flags and fingerprint change: never reported.
        touched.ctimeNs = 2
        touched.inode = 2
        touched.flags = TreeEntry.flagChangedWhileReading
        touched.fingerprint = 9
        let homeB = Tree(entries: [
            // Partial overlap: b1 and b3 kept, b4 (counted once) and b5 new; mtime +60 s.
            file("big.bin", [("b1", 1000), ("b4", 500), ("b3", 3000), ("b4", 500), ("b5", 250)], mtime: t0 + 60_000_000_000),
            dir("docs", src.add(Tree(entries: [file("final.txt", [("r1", 4096)])]))),
            file("empty-b", []),
            file("keep.txt", [("k1", 10)]),
            link("link", "b"),
            file("new.txt", [("n1", 1536)]),
            dir("newdir", src.add(Tree(entries: [file("f.txt", [("nf", 10)])]))),
            dir("node", src.add(Tree(entries: [file("inner.txt", [("ni", 20)])]))),
            file("olddir", [("of", 7)]),
            dir("same", same),
            file("script.sh", [("s1", 50)], mode: 0o100755),
            touched,
            // The first list block is shared: only the second one is loaded on B's side.
            indirect("vm.img", [[("c1", 100), ("c2", 100)], [("c3", 100), ("c4", 100)]], src: src),
        ])
        a["home"] = src.add(homeA)
        b["home"] = src.add(homeB)
        a["old"] = src.add(Tree(entries: [file("notes.txt", [("o1", 50)])]))
        b["photos"] = src.add(Tree(entries: [file("a.jpg", [("p1", 2 << 20)])]))
    }

    func report(_ options: DiffOptions) throws -> DiffReport {
        try diffSnapshots(a: a, b: b, source: src, options: options, repositoryBytesAdded: 12288)
    }
}

private let expectedTotal = "total: 5 added, 4 removed, 3 modified, 1 renamed, 2 type changed, 1 metadata only, 1 dir added; "
    + "+2.0 MiB -935 B, 2.0 MiB new content; 1 silo added, 1 silo removed; repository +12.0 KiB"

@Test func diffReportsEveryChangeKind() throws {
    let f = Fixture()
    let report = try f.report(DiffOptions(metadata: true))
    #expect(DiffFormat.human(report) == [
        "M home/big.bin  (5.9 KiB -> 5.1 KiB, -750 B, 750 B new content; mtime 2023-11-14T22:13:20Z -> 2023-11-14T22:14:20Z)",
        "R home/docs/report.txt -> home/docs/final.txt  (4.0 KiB)",
        "- home/empty-a  (0 B)",
        "+ home/empty-b  (0 B)",
        "- home/gone.txt  (100 B)",
        "M home/link  (symlink target a -> b)",
        "+ home/new.txt  (1.5 KiB)",
        "+ home/newdir/",
        "+ home/newdir/f.txt  (10 B)",
        "T home/node  (file -> dir)",
        "+ home/node/inner.txt  (20 B)",
        "T home/olddir  (dir -> file)",
        "- home/olddir/a.txt  (30 B)",
        "m home/script.sh  (mode 644 -> 755)",
        "M home/vm.img  (300 B -> 400 B, +100 B, 100 B new content)",
        "- old/  (silo removed)",
        "- old/notes.txt  (50 B)",
        "+ photos/  (silo added)",
        "+ photos/a.jpg  (2.0 MiB)",
        expectedTotal,
    ])
    #expect(DiffFormat.stat(report) == [
        "home: 4 added, 3 removed, 3 modified, 1 renamed, 2 type changed, 1 metadata only, 1 dir added; +1.6 KiB -885 B, 2.4 KiB new content",
        "old: silo removed, 1 removed; +0 B -50 B, 0 B new content",
        "photos: silo added, 1 added; +2.0 MiB -0 B, 2.0 MiB new content",
        expectedTotal,
    ])
    let home = report.silos[0]
    #expect(home.totals.bytesAdded == 1673 && home.totals.bytesRemoved == 885 && home.totals.contentBytesChanged == 2423)
    // Logical bytes: added - removed equals the change in regular-file bytes.
    #expect(Int64(home.totals.bytesAdded) - Int64(home.totals.bytesRemoved) == home.changes.reduce(0) { s, c in
        s + (c.newKind == .file ? Int64(c.newSize ?? 0) : 0) - (c.oldKind == .file ? Int64(c.oldSize ?? 0) : 0)
    })
    #expect(report.addedSilos == ["photos"] && report.removedSilos == ["old"])
    // Without --metadata: no `m` line, no mtime on M lines; without renames: R splits into - and +.
    let plain = DiffFormat.human(try f.report(DiffOptions(metadata: false, detectRenames: false)))
    #expect(plain.contains("M home/big.bin  (5.9 KiB -> 5.1 KiB, -750 B, 750 B new content)"))
    #expect(!plain.contains { $0.contains("script.sh") || $0.hasPrefix("R ") })
    #expect(plain[1] == "+ home/docs/final.txt  (4.0 KiB)" && plain[2] == "- home/docs/report.txt  (4.0 KiB)")
}

@Test func diffJSONAndJSONLinesParse() throws {
    let report = try Fixture().report(DiffOptions(metadata: true))
    let text = DiffFormat.render(report, style: .json)
    #expect(text.hasPrefix(#"{"version":1,"addedSilos":["photos"],"removedSilos":["old"],"silos":[{"silo":"home","state":"common","totals":{"filesAdded":4,"#))
    #expect(text.hasSuffix("\n") && text.filter { $0 == "\n" }.count == 1)
    let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let totals = try #require(doc["totals"] as? [String: Any])
    #expect(totals["filesAdded"] as? Int == 5 && totals["filesRemoved"] as? Int == 4 && totals["filesRenamed"] as? Int == 1)
    #expect(totals["bytesRemoved"] as? Int == 935 && totals["repositoryBytesAdded"] as? Int == 12288)
    let silos = try #require(doc["silos"] as? [[String: Any]])
    #expect(silos.map { $0["state"] as? String } == ["common", "removed", "added"])
    let changes = try #require(silos[0]["changes"] as? [[String: Any]])
    #expect(changes.count == 15)
    let big = changes[0]
    #expect(big["kind"] as? String == "modified" && big["path"] as? String == "big.bin" && big["silo"] as? String == "home")
    #expect(big["sizeDelta"] as? Int == -750 && big["contentBytesChanged"] as? Int == 750 && big["oldSize"] as? Int == 6000)
    #expect(big["newMtimeNs"] as? Int == Int(t0) + 60_000_000_000 && big["oldMode"] is NSNull)
    let renamed = changes[1]
    #expect(renamed["kind"] as? String == "renamed" && renamed["oldPath"] as? String == "docs/report.txt" && renamed["path"] as? String == "docs/final.txt")
    let meta = try #require(changes.first { $0["kind"] as? String == "metadata" })
    #expect(meta["oldMode"] as? Int == 0o100644 && meta["newMode"] as? Int == 0o100755 && meta["oldMtimeNs"] is NSNull)
    let link = try #require(changes.first { $0["path"] as? String == "link" })
    #expect(link["oldTarget"] as? String == "a" && link["newTarget"] as? String == "b" && link["newKind"] as? String == "symlink")

    let lines = DiffFormat.jsonLines(report)
    #expect(lines.count == report.changes.count + 1 && lines.count == 18)
    let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    #expect(objects.dropLast().allSatisfy { $0["type"] as? String == "change" })
    #expect(lines.allSatisfy { $0.hasPrefix(#"{"type":"#) })
    let last = try #require(objects.last)
    #expect(last["type"] as? String == "totals" && last["filesAdded"] as? Int == 5 && last["addedSilos"] as? [String] == ["photos"])
    #expect(last["contentBytesChanged"] as? Int == Int(report.totals.contentBytesChanged))
    #expect(objects[objects.count - 2]["path"] as? String == "a.jpg" && objects[objects.count - 2]["silo"] as? String == "photos")
}

/// Records which trees were loaded.
private final class RecordingSource: TreeSource {
    let inner: MemoryTreeSource
    var loaded: [BlockId] = []
    init(_ inner: MemoryTreeSource) { self.inner = inner }
    func tree(_ id: BlockId) throws -> Tree {
        loaded.append(id)
        return try inner.tree(id)
    }
    func list(_ id: BlockId) throws -> [ContentRef] { try inner.list(id) }
}

@Test func diffSkipsEqualSubtreesWithoutLoadingThem() throws {
    let f = Fixture()
    let rec = RecordingSource(f.src)
    _ = try diffTrees(silo: "home", a: f.a["home"], b: f.b["home"], source: rec)
    // Roots, both docs, old olddir, new newdir and node: never `same`.
    #expect(rec.loaded.count == 7 && !rec.loaded.contains(f.same))
    // vm.img: A's two list blocks, and only B's list block that A lacks.
    #expect(f.src.listsLoaded == 3)

    f.src.resetCounters()
    let unchanged = try diffSnapshots(a: f.a, b: f.a, source: f.src)
    #expect(f.src.treesLoaded == 0 && unchanged.totals.isEmpty && unchanged.changes.isEmpty)
    #expect(DiffFormat.human(unchanged) == ["total: no changes"])

    // A deep tree that differs only in a root file: only the two roots are loaded.
    let src = MemoryTreeSource()
    var deep = src.add(Tree(entries: [file("leaf", [("l", 1)])]))
    for i in 0..<20 { deep = src.add(Tree(entries: [dir("d\(i)", deep)])) }
    let a = src.add(Tree(entries: [dir("deep", deep), file("top", [("t1", 5)])]))
    let b = src.add(Tree(entries: [dir("deep", deep), file("top", [("t2", 6)])]))
    src.resetCounters()
    let d = try diffTrees(silo: "s", a: a, b: b, source: src)
    #expect(src.treesLoaded == 2)
    #expect(d.changes.map { DiffFormat.line($0) } == ["M s/top  (5 B -> 6 B, +1 B, 6 B new content)"])
}

@Test func diffOfLargeTreeLoadsOnlyPathsToChanges() throws {
    // 100 × 100 directories of 10 files: 100,000 files, 10,101 trees per side.
    let src = MemoryTreeSource()
    func f(_ n: Int, version: UInt64) -> TreeEntry {
        TreeEntry(name: FileName(utf8: "f\(n % 10)"), kind: .file, mode: 0o100644, mtimeNs: t0, size: 4096,
                  content: [ContentRef(id: BlockId(w0: UInt64(n), w1: version, w2: 7, w3: 7), length: 4096)])
    }
    var leaves: [[[TreeEntry]]] = (0..<100).map { i in (0..<100).map { j in (0..<10).map { k in f((i * 100 + j) * 10 + k, version: 0) } } }
    func build() -> BlockId {
        src.add(Tree(entries: (0..<100).map { i in
            dir("d\(i)", src.add(Tree(entries: (0..<100).map { j in dir("e\(j)", src.add(Tree(entries: leaves[i][j]))) })))
        }))
    }
    let a = build()
    var changed: [String] = []
    for n in 0..<10 {
        let (i, j, k) = (n * 7 % 100, n * 13 % 100, n)
        leaves[i][j][k] = f((i * 100 + j) * 10 + k, version: 1)
        changed.append("d\(i)/e\(j)/f\(k)")
    }
    let b = build()
    src.resetCounters()
    let d = try diffTrees(silo: "big", a: a, b: b, source: src)
    #expect(d.changes.count == 10 && d.changes.allSatisfy { $0.kind == .modified && $0.contentBytesChanged == 4096 })
    #expect(Set(d.changes.map(\.path.escaped)) == Set(changed))
    #expect(d.totals.filesModified == 10 && d.totals.bytesAdded == 0 && d.totals.contentBytesChanged == 40960)
    // Depth 3: at most 2 × 3 × 10 + 2 trees; exactly both roots plus 10 middle and 10 leaf trees per side.
    #expect(src.treesLoaded <= 2 * 3 * 10 + 2)
    #expect(src.treesLoaded == 42)
}

@Test func diffSiloAddedOrRemovedWalksOneSide() throws {
    let src = MemoryTreeSource()
    let sub = src.add(Tree(entries: [file("b", [("b", 2)]), link("l", "b")]))
    let root = src.add(Tree(entries: [file("a", [("a", 1)]), dir("sub", sub)]))
    let added = try diffTrees(silo: "s", a: nil, b: root, source: src)
    #expect(added.state == .added && src.treesLoaded == 2)
    #expect(added.changes.map { DiffFormat.line($0) } == ["+ s/a  (1 B)", "+ s/sub/", "+ s/sub/b  (2 B)", "+ s/sub/l  (symlink -> b)"])
    #expect(added.totals.filesAdded == 3 && added.totals.dirsAdded == 1 && added.totals.bytesAdded == 3 && added.totals.contentBytesChanged == 3)
    let removed = try diffTrees(silo: "s", a: root, b: nil, source: src)
    #expect(removed.state == .removed && removed.changes.allSatisfy { $0.kind == .removed })
    #expect(removed.totals.filesRemoved == 3 && removed.totals.dirsRemoved == 1 && removed.totals.bytesRemoved == 3)
    #expect(DiffFormat.stat(DiffReport(silos: [removed])) == [
        "s: silo removed, 3 removed, 1 dir removed; +0 B -3 B, 0 B new content",
        "total: 3 removed, 1 dir removed; +0 B -3 B, 0 B new content; 1 silo removed",
    ])
}

@Test func diffRenamePairingPrefersSameName() throws {
    let src = MemoryTreeSource()
    // Two removed copies of the same content; the added one named like the second pairs with it.
    let a = src.add(Tree(entries: [dir("x", src.add(Tree(entries: [file("one", [("c", 9)]), file("two", [("c", 9)])])))]))
    let b = src.add(Tree(entries: [dir("y", src.add(Tree(entries: [file("two", [("c", 9)])])))]))
    let d = try diffTrees(silo: "s", a: a, b: b, source: src)
    #expect(d.changes.map { DiffFormat.line($0) } == ["- s/x/", "- s/x/one  (9 B)", "+ s/y/", "R s/x/two -> s/y/two  (9 B)"])
}

@Test func byteAndTimeFormatting() {
    #expect(ByteFormat.human(0) == "0 B" && ByteFormat.human(1023) == "1023 B" && ByteFormat.human(1024) == "1.0 KiB")
    #expect(ByteFormat.human(1536) == "1.5 KiB" && ByteFormat.human(1_048_575) == "1.0 MiB" && ByteFormat.human(3 << 29) == "1.5 GiB")
    #expect(ByteFormat.human(UInt64.max) == "16.0 EiB")
    #expect(ByteFormat.signed(-750) == "-750 B" && ByteFormat.signed(0) == "+0 B" && ByteFormat.signed(2048) == "+2.0 KiB")
    // Sub-second mtime changes show nanoseconds; times before 1970 work.
    let c = Change(kind: .metadata, silo: "s", path: "d", oldKind: .directory, newKind: .directory, oldMtimeNs: -1, newMtimeNs: 4)
    #expect(DiffFormat.line(c) == "m s/d/  (mtime 1969-12-31T23:59:59Z -> 1970-01-01T00:00:00Z)")
    let n = Change(kind: .metadata, silo: "s", path: "f", oldKind: .file, newKind: .file, oldMode: 0o100644, newMode: 0o104755,
                   oldMtimeNs: t0 + 1, newMtimeNs: t0 + 4)
    #expect(DiffFormat.line(n) == "m s/f  (mode 644 -> 4755, mtime 2023-11-14T22:13:20.000000001Z -> 2023-11-14T22:13:20.000000004Z)")
    #expect(DiffFormat.line(Change(kind: .metadata, silo: "s", path: "f", oldMtimeNs: 951_782_400 * 1_000_000_000, newMtimeNs: 4_107_456_000 * 1_000_000_000))
        == "m s/f  (mtime 2000-02-29T00:00:00Z -> 2100-02-28T00:00:00Z)")
}
