import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// `cairn diff` through the built binary, on real silos (issue 4's acceptance points).

private let t0: Int64 = 1_700_000_000_000_000_000  // 2023-11-14T22:13:20Z
private let t1: Int64 = t0 + 60_000_000_000  // 2023-11-14T22:14:20Z

/// Sets the mtime of every entry under `root` (not following symlinks).
private func touchAll(_ root: String, _ ns: Int64) throws {
    for n in try FS.list(root) {
        let p = root + "/" + n
        if try FS.lstat(p).kind == .directory { try touchAll(p, ns) }
        #expect(cairnTouch(p, ns))
    }
}

/// The full id and bytesAdded of a snapshot, from `cairn show REF --json`.
private func show(_ repo: String, _ ref: String) throws -> (id: String, bytesAdded: Int) {
    let r = try cairn(repo, ["show", ref, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [String: Any])
    return (try #require(doc["id"] as? String), try #require(doc["bytesAdded"] as? Int))
}

/// Runs `cairn diff`, expecting exit 0; returns stdout.
private func diff(_ repo: String, _ args: [String]) throws -> String {
    let r = try cairn(repo, ["diff"] + args)
    #expect(r.status == 0, "cairn diff \(args): \(r.stderr)")
    return r.stdout
}

/// Parses `cairn diff --json` output.
private func diffJSON(_ repo: String, _ args: [String]) throws -> [String: Any] {
    let out = try diff(repo, args + ["--json"])
    return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
}

/// Bytes of the chunks of `new` that are not chunks of `old`, each counted once: what
/// the diff must report as new content, computed here with the repository's chunker.
private func newChunkBytes(old: [UInt8], new: [UInt8]) -> Int {
    let cdc = FastCDC(.default)
    func chunks(_ d: [UInt8]) -> [(BlockId, Int)] {
        d.withUnsafeBytes { p in
            var out: [(BlockId, Int)] = []
            var at = 0
            while at < p.count {
                let n = cdc.nextCut(UnsafeRawBufferPointer(rebasing: p[at...]))
                out.append((BlockId.hash(UnsafeRawBufferPointer(rebasing: p[at..<at + n])), n))
                at += n
            }
            return out
        }
    }
    var seen = Set(chunks(old).map(\.0))
    return chunks(new).reduce(0) { $0 + (seen.insert($1.0).inserted ? $1.1 : 0) }
}

/// One change as `cairn diff --json` writes it (every key, in schema order).
private func chg(_ kind: String, _ silo: String, _ path: String, oldPath: String? = nil, oldKind: String? = nil, newKind: String? = nil,
                 oldSize: Int? = nil, newSize: Int? = nil, content: Int = 0, oldTarget: String? = nil, newTarget: String? = nil,
                 oldMode: Int? = nil, newMode: Int? = nil, oldMtime: Int64? = nil, newMtime: Int64? = nil) -> String {
    func s(_ v: String?) -> String { v.map { "\"\($0)\"" } ?? "null" }
    func n<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "null" }
    let delta = (newSize ?? 0) - (oldSize ?? 0)
    return #"{"silo":\#(s(silo)),"kind":\#(s(kind)),"path":\#(s(path)),"oldPath":\#(s(oldPath)),"oldKind":\#(s(oldKind)),"#
        + #""newKind":\#(s(newKind)),"oldSize":\#(n(oldSize)),"newSize":\#(n(newSize)),"sizeDelta":\#(delta),"#
        + #""contentBytesChanged":\#(content),"oldTarget":\#(s(oldTarget)),"newTarget":\#(s(newTarget)),"#
        + #""oldMode":\#(n(oldMode)),"newMode":\#(n(newMode)),"oldMtimeNs":\#(n(oldMtime)),"newMtimeNs":\#(n(newMtime)),"#
        + #""pathBytes":null,"oldPathBytes":null,"oldTargetBytes":null,"newTargetBytes":null}"#
}

/// Totals keys in schema order: added, removed, modified, renamed, type changed, metadata
/// only, dirs added, dirs removed, bytes added, bytes removed, content bytes.
private func totals(_ v: [Int]) -> String {
    let keys = ["filesAdded", "filesRemoved", "filesModified", "filesRenamed", "typeChanged", "metadataOnly", "dirsAdded", "dirsRemoved",
                "bytesAdded", "bytesRemoved", "contentBytesChanged"]
    return zip(keys, v).map { "\"\($0)\":\($1)" }.joined(separator: ",")
}

@Suite struct DiffCLITests {
    /// Acceptance 1: a hand-built pair covering every change kind, exactly, in all formats.
    @Test func everyChangeKindInEveryFormat() throws {
        let t = TempDir("cairn-diff"); defer { t.remove() }
        let repo = t.sub("repo"), home = t.sub("home")
        var rng = SeededBytes(seed: 41)
        let dbOld = rng.bytes(200_000)
        var dbNew = dbOld
        dbNew.replaceSubrange(100_000..<104_096, with: rng.bytes(4096))
        let report = rng.bytes(1200)

        // A: home and old.
        try writeFile(home + "/d2l/inner.txt", Array("inner data".utf8))
        try writeFile(home + "/db.bin", dbOld)
        try writeFile(home + "/docs/report.txt", report)
        try FS.mkdirs(home + "/emptydir")
        try writeFile(home + "/f2d", Array("f-to-d!".utf8))
        try writeFile(home + "/gone.txt", [UInt8](repeating: 0x67, count: 100))
        try writeFile(home + "/keep.txt", Array("keep this!".utf8))
        symlink("keep.txt", home + "/l2f")
        symlink("keep.txt", home + "/link")
        try writeFile(home + "/notes.txt", [UInt8](repeating: 0x6E, count: 50))
        try writeFile(home + "/script.sh", [UInt8](repeating: 0x73, count: 20), mode: 0o644)
        try writeFile(home + "/touched.txt", [UInt8](repeating: 0x74, count: 30))
        try writeFile(t.sub("old/notes.txt"), [UInt8](repeating: 0x6F, count: 50))
        try touchAll(home, t0)
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "home", home]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "old", t.sub("old")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let a = try show(repo, "latest")

        // B: every kind of change in home; old unregistered, photos registered.
        try FS.mkdirs(home + "/archive")
        #expect(rename(home + "/docs/report.txt", home + "/archive/report.txt") == 0)
        try FS.removeTree(home + "/d2l")
        symlink("keep.txt", home + "/d2l")
        try writeFile(home + "/db.bin", dbNew)
        try FS.removeTree(home + "/emptydir")
        unlink(home + "/f2d")
        try writeFile(home + "/f2d/x.txt", Array("xyz".utf8))
        unlink(home + "/gone.txt")
        unlink(home + "/l2f")
        try writeFile(home + "/l2f", Array("file".utf8))
        unlink(home + "/link")
        symlink("gone.txt", home + "/link")
        try writeFile(home + "/new.txt", Array("new!!!".utf8))
        try writeFile(home + "/newdir/f.txt", Array("fifth".utf8))
        try writeFile(home + "/notes.txt", [UInt8](repeating: 0x4E, count: 80))
        chmod(home + "/script.sh", 0o755)
        try writeFile(t.sub("photos/a.jpg"), rng.bytes(1536))
        try touchAll(home, t0)
        #expect(cairnTouch(home + "/notes.txt", t1) && cairnTouch(home + "/touched.txt", t1))
        #expect(try cairn(repo, ["silo", "remove", "old"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "photos", t.sub("photos")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let b = try show(repo, "latest")

        let dbContent = newChunkBytes(old: dbOld, new: dbNew)
        #expect(dbContent > 0 && dbContent < 200_000)
        let content = 3 + 6 + 5 + 1536 + 80 + 4 + dbContent
        let total = "total: 4 added, 3 removed, 3 modified, 1 renamed, 3 type changed, 2 metadata only, 2 dirs added, 1 dir removed; "
            + "+1.5 KiB -167 B, \(ByteFormat.human(UInt64(content))) new content; 1 silo added, 1 silo removed; "
            + "repository +\(ByteFormat.human(UInt64(b.bytesAdded)))"
        let mtimes = "mtime 2023-11-14T22:13:20Z -> 2023-11-14T22:14:20Z"
        let human = [
            "+ home/archive/",
            "R home/docs/report.txt -> home/archive/report.txt  (1.2 KiB)",
            "T home/d2l  (dir -> symlink)",
            "- home/d2l/inner.txt  (10 B)",
            "M home/db.bin  (195.3 KiB -> 195.3 KiB, +0 B, \(ByteFormat.human(UInt64(dbContent))) new content)",
            "- home/emptydir/",
            "T home/f2d  (file -> dir)",
            "+ home/f2d/x.txt  (3 B)",
            "- home/gone.txt  (100 B)",
            "T home/l2f  (symlink -> file)",
            "M home/link  (symlink target keep.txt -> gone.txt)",
            "+ home/new.txt  (6 B)",
            "+ home/newdir/",
            "+ home/newdir/f.txt  (5 B)",
            "M home/notes.txt  (50 B -> 80 B, +30 B, 80 B new content; \(mtimes))",
            "m home/script.sh  (mode 644 -> 755)",
            "m home/touched.txt  (\(mtimes))",
            "- old/  (silo removed)",
            "- old/notes.txt  (50 B)",
            "+ photos/  (silo added)",
            "+ photos/a.jpg  (1.5 KiB)",
            total,
        ]
        // A by a 8-digit prefix, B by `latest`.
        let ref = String(a.id.prefix(8))
        #expect(try diff(repo, [ref, "latest", "--metadata"]) == human.map { $0 + "\n" }.joined())

        // Without --metadata: no `m` lines and no mtimes on M lines.
        let plain = human.filter { !$0.hasPrefix("m ") && !$0.hasPrefix("total:") }.map { $0.replacingOccurrences(of: "; " + mtimes, with: "") }
            + [total.replacingOccurrences(of: " 2 metadata only,", with: "")]
        #expect(try diff(repo, [ref, "latest"]) == plain.map { $0 + "\n" }.joined())

        #expect(try diff(repo, [ref, b.id, "--metadata", "--stat"]) == [
            "home: 3 added, 2 removed, 3 modified, 1 renamed, 3 type changed, 2 metadata only, 2 dirs added, 1 dir removed; "
                + "+48 B -117 B, \(ByteFormat.human(UInt64(98 + dbContent))) new content",
            "old: silo removed, 1 removed; +0 B -50 B, 0 B new content",
            "photos: silo added, 1 added; +1.5 KiB -0 B, 1.5 KiB new content",
            total,
        ].map { $0 + "\n" }.joined())

        let homeChanges = [
            chg("added", "home", "archive", newKind: "dir"),
            chg("renamed", "home", "archive/report.txt", oldPath: "docs/report.txt", oldKind: "file", newKind: "file", oldSize: 1200, newSize: 1200),
            chg("typeChanged", "home", "d2l", oldKind: "dir", newKind: "symlink", newSize: 8, newTarget: "keep.txt"),
            chg("removed", "home", "d2l/inner.txt", oldKind: "file", oldSize: 10),
            chg("modified", "home", "db.bin", oldKind: "file", newKind: "file", oldSize: 200_000, newSize: 200_000, content: dbContent),
            chg("removed", "home", "emptydir", oldKind: "dir"),
            chg("typeChanged", "home", "f2d", oldKind: "file", newKind: "dir", oldSize: 7),
            chg("added", "home", "f2d/x.txt", newKind: "file", newSize: 3, content: 3),
            chg("removed", "home", "gone.txt", oldKind: "file", oldSize: 100),
            chg("typeChanged", "home", "l2f", oldKind: "symlink", newKind: "file", oldSize: 8, newSize: 4, content: 4, oldTarget: "keep.txt"),
            chg("modified", "home", "link", oldKind: "symlink", newKind: "symlink", oldSize: 8, newSize: 8, oldTarget: "keep.txt", newTarget: "gone.txt"),
            chg("added", "home", "new.txt", newKind: "file", newSize: 6, content: 6),
            chg("added", "home", "newdir", newKind: "dir"),
            chg("added", "home", "newdir/f.txt", newKind: "file", newSize: 5, content: 5),
            chg("modified", "home", "notes.txt", oldKind: "file", newKind: "file", oldSize: 50, newSize: 80, content: 80, oldMtime: t0, newMtime: t1),
            chg("metadata", "home", "script.sh", oldKind: "file", newKind: "file", oldSize: 20, newSize: 20, oldMode: 0o644, newMode: 0o755),
            chg("metadata", "home", "touched.txt", oldKind: "file", newKind: "file", oldSize: 30, newSize: 30, oldMtime: t0, newMtime: t1),
        ]
        let oldChanges = [chg("removed", "old", "notes.txt", oldKind: "file", oldSize: 50)]
        let photoChanges = [chg("added", "photos", "a.jpg", newKind: "file", newSize: 1536, content: 1536)]
        let allTotals = totals([4, 3, 3, 1, 3, 2, 2, 1, 1584, 167, content])
        // Trees loaded: both home roots, docs (A), archive, f2d, newdir (B), d2l (A), the old
        // and photos roots; A's emptydir and B's docs are the same empty tree, read once.
        let treesRead = 10
        let json = #"{"version":1,"addedSilos":["photos"],"removedSilos":["old"],"silos":["#
            + #"{"silo":"home","state":"common","totals":{\#(totals([3, 2, 3, 1, 3, 2, 2, 1, 48, 117, 98 + dbContent]))},"#
            + #""changes":[\#(homeChanges.joined(separator: ","))]},"#
            + #"{"silo":"old","state":"removed","totals":{\#(totals([0, 1, 0, 0, 0, 0, 0, 0, 0, 50, 0]))},"changes":[\#(oldChanges[0])]},"#
            + #"{"silo":"photos","state":"added","totals":{\#(totals([1, 0, 0, 0, 0, 0, 0, 0, 1536, 0, 1536]))},"changes":[\#(photoChanges[0])]}],"#
            + #""totals":{\#(allTotals),"repositoryBytesAdded":\#(b.bytesAdded)},"treeBlocksRead":\#(treesRead)}"#
        #expect(try diff(repo, [a.id, "latest", "--metadata", "--json"]) == json + "\n")

        let lines = (homeChanges + oldChanges + photoChanges).map { #"{"type":"change","# + $0.dropFirst() }
            + [#"{"type":"totals","addedSilos":["photos"],"removedSilos":["old"],\#(allTotals),"#
                + #""repositoryBytesAdded":\#(b.bytesAdded),"treeBlocksRead":\#(treesRead)}"#]
        #expect(try diff(repo, [ref, "latest", "--metadata", "--json-lines"]) == lines.map { $0 + "\n" }.joined())

        // --silo restricts; equal snapshots give no changes and exit 0.
        #expect(try diff(repo, [ref, "latest", "--silo", "photos"]) == "+ photos/  (silo added)\n+ photos/a.jpg  (1.5 KiB)\n"
            + "total: 1 added; +1.5 KiB -0 B, 1.5 KiB new content; 1 silo added; repository +\(ByteFormat.human(UInt64(b.bytesAdded)))\n")
        #expect(try diff(repo, ["latest", "latest", "--stat"]) == "total: no changes; repository +\(ByteFormat.human(UInt64(b.bytesAdded)))\n")

        // Errors: exit codes of Docs/CLI.md, one stderr line.
        for (args, code, text) in [(["latest", "latest", "--silo", "nope"], Int32(13), "unknown silo 'nope'"),
                                   (["live", "latest"], 18, "`live` can only be the second snapshot"),
                                   (["abcdef0123", "latest"], 13, "no snapshot matches 'abcdef0123'"),
                                   (["latest", "xyz"], 18, "'xyz' is not a snapshot reference"),
                                   (["latest", "latest", "--json", "--json-lines"], 18, "cannot be combined")] {
            let r = try cairn(repo, ["diff"] + args)
            // Under --json the error is one JSON object on stdout instead (Docs/JSON.md).
            let out = args.contains("--json") ? r.stdout : r.stderr
            #expect(r.status == code && out.contains(text) && out.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
    }

    /// Acceptance 4: `diff A live` after editing a silo reports what `diff A NEXT` reports
    /// once the next snapshot is taken, and stores nothing.
    @Test func liveMatchesTheNextSnapshot() throws {
        let t = TempDir("cairn-diff"); defer { t.remove() }
        let repo = t.sub("repo"), silo = t.sub("silo")
        try makeTortureTree(at: silo, files: 1500, seed: 11)
        try writeFile(t.sub("other/keep.txt"), Array("unchanged silo".utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", silo]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "other", t.sub("other")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let a = try show(repo, "latest")
        #expect(try diff(repo, ["latest", "live", "--stat"]) == "total: no changes; repository +0 B\n")

        // Edits: modify (in place and by growth), remove, rename, add files and a folder,
        // type changes, a mode change, a symlink retarget.
        var rng = SeededBytes(seed: 99)
        let files = try digestTree(silo).filter { $0.value.kind == "file" && $0.value.size > 100 && $0.value.mode & 0o200 != 0 }.keys.sorted()
        #expect(files.count > 100)
        for p in files.prefix(5) {
            let f = try PosixFile.open(silo + "/" + p, O_WRONLY)
            try f.seek(to: 10)
            try f.write(rng.bytes(40))
            f.close()
        }
        for p in files[5..<8] { try writeFile(silo + "/" + p, try FS.readAll(silo + "/" + p) + rng.bytes(3000)) }
        for p in files[8..<11] { unlink(silo + "/" + p) }
        for p in files[11..<14] { #expect(rename(silo + "/" + p, silo + "/" + p + ".moved") == 0) }
        #expect(rename(silo + "/" + files[14], silo + "/odd/moved-here") == 0)
        for i in 0..<4 { try writeFile(silo + "/fresh/dir\(i % 2)/n\(i).txt", rng.bytes(500 + i)) }
        try FS.removeTree(silo + "/empty/e2")
        try writeFile(silo + "/empty/e2", Array("now a file".utf8))
        unlink(silo + "/d0/link-ok")
        try FS.mkdirs(silo + "/d0/link-ok")
        chmod(silo + "/" + files[20], 0o700)
        unlink(silo + "/d0/link-dangling")
        symlink("../elsewhere", silo + "/d0/link-dangling")
        try touchAll(silo + "/fresh", t0)

        let packs = try FS.list(repo + "/packs").count
        let live = try diffJSON(repo, ["latest", "live", "--metadata"])
        let liveLines = try diff(repo, ["latest", "live", "--metadata", "--json-lines"])
        #expect(try FS.list(repo + "/packs").count == packs)
        #expect(try cairn(repo, ["list"]).stdout.split(separator: "\n").count == 1)

        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let b = try show(repo, "latest")
        let next = try diffJSON(repo, [a.id, b.id, "--metadata"])
        let nextLines = try diff(repo, [a.id, b.id, "--metadata", "--json-lines"])

        // The change lists and totals agree exactly, repository bytes included.
        let liveSilos = try JSONSerialization.data(withJSONObject: try #require(live["silos"]), options: .sortedKeys)
        let nextSilos = try JSONSerialization.data(withJSONObject: try #require(next["silos"]), options: .sortedKeys)
        #expect(liveSilos == nextSilos)
        let liveTotals = try #require(live["totals"] as? [String: Any]), nextTotals = try #require(next["totals"] as? [String: Any])
        #expect(NSDictionary(dictionary: liveTotals) == NSDictionary(dictionary: nextTotals))
        #expect(nextTotals["repositoryBytesAdded"] as? Int == b.bytesAdded)
        #expect(nextTotals["filesModified"] as? Int == 9 && nextTotals["filesRenamed"] as? Int == 4 && nextTotals["filesRemoved"] as? Int == 3)
        #expect(nextTotals["typeChanged"] as? Int == 2 && nextTotals["dirsAdded"] as? Int == 3 && nextTotals["filesAdded"] as? Int == 4)
        let drop = { (s: String) in s.split(separator: "\n").dropLast().joined(separator: "\n") }  // the totals line has treeBlocksRead
        #expect(drop(liveLines) == drop(nextLines) && !drop(liveLines).isEmpty)
        #expect(try diff(repo, ["latest", "live", "--stat"]) == "total: no changes; repository +0 B\n")
    }

    /// Acceptance 3: 100 random 4 KiB pages rewritten in a 300 MiB file: the content bytes
    /// reported changed are a small multiple of the 400 KiB written.
    @Test func pagesRewrittenInALargeFile() throws {
        let t = TempDir("cairn-diff"); defer { t.remove() }
        let repo = t.sub("repo"), path = t.sub("big/data.img")
        let size = 300 << 20, page = 4096
        var rng = SeededBytes(seed: 300)
        try FS.mkdirs(t.sub("big"))
        let f = try PosixFile.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        for _ in 0..<(size >> 20) { try f.write(rng.bytes(1 << 20)) }
        f.close()
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "big", t.sub("big")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let a = try show(repo, "latest")

        var pages = Set<Int>()
        while pages.count < 100 { pages.insert(rng.int(size / page)) }
        let w = try PosixFile.open(path, O_WRONLY)
        for p in pages.sorted() {
            try w.seek(to: UInt64(p * page))
            try w.write(rng.bytes(page))
        }
        w.close()
        #expect(try cairn(repo, ["snapshot"]).status == 0)

        let doc = try diffJSON(repo, [a.id, "latest"])
        let silos = try #require(doc["silos"] as? [[String: Any]])
        let changes = try #require(silos.first?["changes"] as? [[String: Any]])
        #expect(changes.count == 1)
        let c = try #require(changes.first)
        #expect(c["kind"] as? String == "modified" && c["path"] as? String == "data.img" && c["sizeDelta"] as? Int == 0)
        let changed = try #require(c["contentBytesChanged"] as? Int)
        let written = pages.count * page
        // Every rewritten byte lies in a new chunk; each page touches one or two ~8 KiB chunks.
        #expect(changed >= written && changed <= 6 * written, "content bytes changed: \(changed)")
        print("diff: 100 pages (\(written) B) rewritten in a 300 MiB file: \(changed) B of new content (\(Double(changed) / Double(written)) x)")
    }

    /// Acceptance 2: two snapshots of a 100,000-file silo (10 × 10 folders of 1,000 files)
    /// differing in 10 files: the diff reads only the trees on the paths to those files.
    @Test func hundredThousandFilesTenChanged() throws {
        let t = TempDir("cairn-diff")
        defer {
            _ = try? sh("rm -rf '\(t.path)'")  // several times faster than FS.removeTree on 100k files
            t.remove()
        }
        let repo = t.sub("repo"), root = t.sub("many")
        let start = Date()
        for i in 0..<10 {
            for j in 0..<10 {
                try FS.mkdirs("\(root)/d\(i)/e\(j)")
                for k in 0..<1000 {
                    let f = try PosixFile.open("\(root)/d\(i)/e\(j)/f\(k).txt", O_WRONLY | O_CREAT | O_TRUNC)
                    try f.write(Array("\(i) \(j) \(k)\n".utf8))
                    f.close()
                }
            }
        }
        let built = Date()
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "many", root]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let a = try show(repo, "latest")
        let first = Date()

        var changed: [String] = []
        var onPath: Set<String> = [""]
        for n in 0..<10 {
            let (i, j, k) = (n % 5, n * 3 % 10, n * 97 % 1000)
            let rel = "d\(i)/e\(j)/f\(k).txt"
            try writeFile(root + "/" + rel, Array("changed \(n)\n".utf8))
            changed.append(rel)
            onPath.formUnion(["d\(i)", "d\(i)/e\(j)"])
        }
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let second = Date()

        let doc = try diffJSON(repo, [a.id, "latest"])
        let silos = try #require(doc["silos"] as? [[String: Any]])
        let changes = try #require(silos.first?["changes"] as? [[String: Any]])
        #expect(changes.count == 10 && changes.allSatisfy { $0["kind"] as? String == "modified" })
        #expect(Set(changes.compactMap { $0["path"] as? String }) == Set(changed))
        // The root, 5 top folders and 10 leaf folders, in each snapshot: 32 of 222 trees.
        let read = try #require(doc["treeBlocksRead"] as? Int)
        #expect(onPath.count == 16 && read <= 2 * onPath.count, "trees read: \(read)")
        print("diff: 100k files built in \(Int(built.timeIntervalSince(start) * 1000)) ms, first snapshot "
            + "\(Int(first.timeIntervalSince(built) * 1000)) ms, second \(Int(second.timeIntervalSince(first) * 1000)) ms; "
            + "diff read \(read) trees for 10 changed files")
    }
}
