// `cairn export` through the built binary: archives accepted by Info-ZIP, Python, libarchive
// and 7-Zip; unzip output identical to the source and to `cairn restore --to`; pipe output
// identical to file output; `--estimate` equal to the store size to the byte; and a ZIP64
// archive with an entry over 4 GiB and more than 65,535 entries, with its peak RSS.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A repository with one silo over `source`, snapshotted once.
func exportFixture(_ t: TempDir, source: String, silo: String = "data") throws -> String {
    let repo = t.sub("repo")
    #expect(try cairn(repo, ["init"]).status == 0)
    #expect(try cairn(repo, ["silo", "add", silo, source]).status == 0)
    let s = try cairn(repo, ["snapshot"])
    #expect(s.status == 0, "\(s.stderr)")
    return repo
}

func fileSize(_ path: String) throws -> UInt64 { try FS.lstat(path).size }

/// `--estimate --json` for a compression mode.
func exportEstimate(_ repo: String, _ compression: String, _ extra: [String] = []) throws -> (store: UInt64, bound: UInt64) {
    let r = try cairn(repo, ["export", "latest", "--estimate", "--compression", compression, "--json"] + extra)
    #expect(r.status == 0, "\(r.stderr)")
    let o = try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [String: Any]
    return ((o?["storeBytes"] as? NSNumber)?.uint64Value ?? 0, (o?["boundBytes"] as? NSNumber)?.uint64Value ?? 0)
}

/// Info-ZIP unzip drops control characters (newline, tab) from names when it extracts; the
/// archive holds them (Python's extraction keeps them). Compare unzip output under that rule.
func withoutControlCharacters(_ d: [String: PathState]) -> [String: PathState] {
    Dictionary(uniqueKeysWithValues: d.map { (String($0.key.unicodeScalars.filter { $0.value >= 0x20 }.map(Character.init)), $0.value) })
}

/// The paths whose states differ between two digests (short, for messages).
func digestDifferences(_ a: [String: PathState], _ b: [String: PathState]) -> String {
    let keys = Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted().prefix(10)
    return keys.map { "\($0): \(a[$0].map { "\($0)" } ?? "missing") vs \(b[$0].map { "\($0)" } ?? "missing")" }.joined(separator: "; ")
}

/// Drops sub-second mtimes (ZIP keeps seconds) from a tree digest.
func seconds(_ d: [String: PathState]) -> [String: PathState] {
    d.mapValues { var s = $0; s.mtimeNs = s.mtimeNs / 1_000_000_000 * 1_000_000_000; return s }
}

@Suite(.serialized) struct ExportTests {
    @Test func tortureTreeExportIsAcceptedByEveryToolAndUnzipsToTheSource() throws {
        let t = TempDir("cairn-export"); defer { t.remove() }
        try makeTortureTree(at: t.sub("src"), files: 2000)
        let repo = try exportFixture(t, source: t.sub("src"))
        for mode in ["auto", "store", "deflate"] {
            let zip = t.sub("\(mode).zip")
            let e = try cairn(repo, ["export", "latest", "--output", zip, "--compression", mode])
            #expect(e.status == 0, "\(mode): \(e.stderr)")
            #expect(!FS.exists(zip + ".partial"))
            let entries = try lenientZipReader(zip).entries.count
            #expect(entries > 2000)
            let unzipT = try zipTool("unzip", ["-tqq", zip])
            #expect(unzipT.status == 0, "unzip -t \(mode): \(unzipT.stdout)\(unzipT.stderr)")
            let info = try zipTool("zipinfo", ["-1", zip])
            #expect(info.status == 0 && info.stdout.contains("data/odd/with space.txt"), "zipinfo \(mode): \(info.stderr)")
            let bsd = try zipTool("bsdtar", ["-tf", zip])
            #expect(bsd.status == 0, "bsdtar \(mode): \(bsd.stderr)")
            #expect(bsd.stdout.contains("cairn-snapshot.json") && bsd.stdout.contains("data/odd/with space.txt"))
            let sz = try zipTool("7z", ["t", zip])
            #expect(sz.status == 0 && sz.stdout.contains("Everything is Ok"), "7z \(mode): \(sz.stdout.suffix(500))")
            // Python: testzip, then extract with modes and compare contents and modes.
            let py = try zipTool("python3", ["-c", pythonExtractScript, zip, t.sub("py-\(mode)")])
            #expect(py.status == 0 && py.stdout.hasPrefix("ok \(entries)"), "python \(mode): \(py.stdout)\(py.stderr)")
            let extracted = try digestTree(t.sub("py-\(mode)/data"), mtimes: false), original = try digestTree(t.sub("src"), mtimes: false)
            #expect(extracted == original, "python extract \(mode): \(digestDifferences(extracted, original))")
            try FS.removeTree(t.sub("py-\(mode)"))
        }
        // Info-ZIP unzip restores content, modes, mtimes (seconds) and symlinks.
        let x = try zipTool("unzip", ["-q", t.sub("auto.zip"), "-d", t.sub("unzipped")])
        #expect(x.status == 0, "\(x.stderr)")
        let source = seconds(try digestTree(t.sub("src")))
        let unzipped = try digestTree(t.sub("unzipped/data"))
        #expect(unzipped == withoutControlCharacters(source), "\(digestDifferences(unzipped, withoutControlCharacters(source)))")
        #expect(unzipped["d0/link-dangling"]?.target == "/nonexistent/target")
        #expect(unzipped["empty/e1"]?.mode == 0o700)
        // The same as `cairn restore --to` of the snapshot (when this build has restore).
        if try cairn(repo, ["restore", "--help"]).status == 0 {
            let rs = try cairn(repo, ["restore", "latest", "--to", t.sub("restored")])
            #expect(rs.status == 0, "\(rs.stderr)")
            let restored = withoutControlCharacters(seconds(try digestTree(t.sub("restored/data"))))
            #expect(restored == unzipped, "\(digestDifferences(restored, unzipped))")
        }
        // The manifest holds each file's SHA-256 (checked against the source).
        let manifest = try lenientZipReader(t.sub("auto.zip"))
        let m = try JSONSerialization.jsonObject(with: Data(try manifest.contents(manifest.entries.first { $0.name == "cairn-snapshot.json" }!))) as! [String: Any]
        let files = (m["entries"] as! [[String: Any]]).filter { $0["type"] as? String == "file" }
        #expect(files.count == source.values.filter { $0.kind == "file" }.count)
        for f in files.prefix(300) {
            let rel = String((f["path"] as! String).dropFirst("data/".count))
            #expect(f["sha256"] as? String == source[rel]?.sha, "\(rel)")
        }
        #expect(try zipTool("unzip", ["-p", t.sub("auto.zip"), "RESTORE.txt"]).stdout.contains("cairn import"))
        // `inspect` reads the manifest and the central directory.
        let ins = try run(cairnBinary(), ["inspect", t.sub("auto.zip"), "--json"])
        let io = try JSONSerialization.jsonObject(with: Data(ins.stdoutBytes)) as? [String: Any]
        #expect(io?["cairnExport"] as? Bool == true)
        let folder = (io?["folders"] as? [[String: Any]])?.first
        #expect(folder?["name"] as? String == "data" && folder?["files"] as? Int == files.count)
    }

    @Test func estimateEqualsTheStoreSizeToTheByte() throws {
        let t = TempDir("cairn-export"); defer { t.remove() }
        // Several shapes: torture tree, only empty files and folders, a single-file silo, odd names.
        try makeTortureTree(at: t.sub("torture"), files: 600, seed: 11)
        for i in 0..<50 { try writeFile(t.sub("zeros/d\(i % 5)/empty-\(i)"), []) }
        try FS.mkdirs(t.sub("zeros/only/empty/dirs"))
        var rng = SeededBytes(seed: 4)
        try writeFile(t.sub("single.bin"), rng.bytes(123_457))
        try writeFile(t.sub("odd/\"quoted\"\\ \u{1}ctl\ttab\nnl ünï 🪨.txt"), Array("odd".utf8))
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        for (n, p) in [("torture", "torture"), ("zeros", "zeros"), ("single", "single.bin"), ("odd", "odd")] {
            #expect(try cairn(repo, ["silo", "add", n, t.sub(p)]).status == 0)
        }
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        for silos in [["torture"], ["zeros"], ["single"], ["odd"], []] {
            let sel = silos.flatMap { ["--silo", $0] }
            let zip = t.sub("store.zip")
            let e = try cairn(repo, ["export", "latest", "--output", zip, "--compression", "store"] + sel)
            #expect(e.status == 0, "\(e.stderr)")
            let est = try exportEstimate(repo, "store", sel)
            #expect(est.store == (try fileSize(zip)), "store estimate for \(silos)")
            #expect(est.bound == est.store)
            for mode in ["auto", "deflate"] {
                #expect(try cairn(repo, ["export", "latest", "--output", zip, "--compression", mode] + sel).status == 0)
                let b = try exportEstimate(repo, mode, sel)
                let written = try fileSize(zip)
                #expect(b.store == est.store && b.bound >= written, "\(mode) bound for \(silos)")
            }
        }
        let human = try cairn(repo, ["export", "latest", "--estimate", "--compression", "store"])
        #expect(human.stdout.contains("exact"))
    }

    @Test func pipeOutputEqualsFileOutputAndAClosedPipeFailsCleanly() throws {
        let t = TempDir("cairn-export"); defer { t.remove() }
        try makeTortureTree(at: t.sub("src"), files: 300, seed: 5)
        let repo = try exportFixture(t, source: t.sub("src"))
        #expect(try cairn(repo, ["export", "latest", "--output", t.sub("file.zip")]).status == 0)
        let bin = cairnBinary()
        let p = try sh("'\(bin)' export latest --output - --repo '\(repo)' | cat > '\(t.sub("pipe.zip"))'")
        #expect(p.status == 0, "\(p.stderr)")
        #expect(try FS.readAll(t.sub("pipe.zip")) == FS.readAll(t.sub("file.zip")))
        // A reader that goes away: an I/O error (exit 17) on one line, not a SIGPIPE death.
        let closed = try sh("( '\(bin)' export latest --compression store --output - --repo '\(repo)' 2>'\(t.sub("err"))'; echo $? > '\(t.sub("rc"))' ) | head -c 100 > /dev/null")
        #expect(closed.status == 0)
        let rc = String(decoding: try FS.readAll(t.sub("rc")), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let err = String(decoding: try FS.readAll(t.sub("err")), as: UTF8.self)
        #expect(rc == "17", "exit \(rc): \(err)")
        #expect(err.hasPrefix("cairn: error: ") && err.split(separator: "\n").count == 1, "\(err)")
        #expect(try FS.list(repo + "/tmp").isEmpty, "the manifest spool is removed")
        // A failing export to a file leaves neither the archive nor its .partial.
        let bad = try cairn(repo, ["export", "latest", "--output", t.sub("no/such/dir/x.zip")])
        #expect(bad.status == 17 && !FS.exists(t.sub("no/such/dir/x.zip.partial")))
    }

    /// An entry over 4 GiB (sparse, so its zeros dedup to a few blocks) and more than 65,535
    /// entries in one archive, written in store mode so the archive itself passes 4 GiB.
    @Test func zip64ArchiveWithAHugeEntryAndManyEntries() throws {
        let t = TempDir("cairn-export-big"); defer { t.remove() }
        let src = t.sub("src")
        for d in 0..<66 {
            try FS.mkdirs("\(src)/d\(d)")
            for f in 0..<1000 {
                let fd = open("\(src)/d\(d)/f\(f)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if f % 100 == 0 { _ = "entry \(d)/\(f)\n".withCString { write(fd, $0, strlen($0)) } }
                close(fd)
            }
        }
        let huge: UInt64 = (4 << 30) + 12_345
        let f = try PosixFile.open(src + "/huge.sparse", O_WRONLY | O_CREAT | O_TRUNC)
        try f.write(Array("head".utf8))
        _ = ftruncate(f.fd, off_t(huge))
        try f.seek(to: huge - 4)
        try f.write(Array("tail".utf8))
        f.close()
        let repo = try exportFixture(t, source: src)
        let zip = t.sub("big.zip")
        let rss = try peakRSS(cairnBinary(), ["export", "latest", "--compression", "store", "--output", zip, "--repo", repo])
        #expect(rss.status == 0, "\(rss.stderr)")
        let size = try fileSize(zip)
        print("zip64 export: \(size) bytes, 66,000+ entries, peak RSS \(rss.kib) KiB")
        #expect(size > huge)
        #expect(try exportEstimate(repo, "store").store == size)
        #expect(rss.kib > 0 && rss.kib < 200 * 1024, "peak RSS \(rss.kib) KiB")
        let entries = 66_000 + 66 + 1 + 1 + 2
        let unzipT = try zipTool("unzip", ["-tqq", zip])
        #expect(unzipT.status == 0, "\(unzipT.stdout)\(unzipT.stderr)")
        let info = try zipTool("zipinfo", ["-t", zip])
        #expect(info.status == 0 && info.stdout.contains("\(entries) files"), "\(info.stdout)")
        let bsd = try zipTool("bsdtar", ["-tf", zip])
        #expect(bsd.status == 0 && bsd.stdout.split(separator: "\n").count == entries, "\(bsd.stderr)")
        let sz = try zipTool("7z", ["t", zip])
        #expect(sz.status == 0 && sz.stdout.contains("Everything is Ok"), "\(sz.stdout.suffix(400))")
        let py = try zipTool("python3", ["-c", "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\ni=z.getinfo('data/huge.sparse')\nprint(len(z.infolist()), i.file_size)", zip])
        #expect(py.status == 0 && py.stdout.hasPrefix("\(entries) \(huge)"), "\(py.stdout)\(py.stderr)")
        // And it imports back into another repository as the same trees.
        let repo2 = t.sub("repo2")
        #expect(try cairn(repo2, ["init"]).status == 0)
        let imp = try cairn(repo2, ["import", zip, "--json"])
        #expect(imp.status == 0, "\(imp.stderr)")
        let silos = (jsonFields(imp)["silos"] as? [[String: Any]]) ?? []
        #expect(!silos.isEmpty && silos.allSatisfy { $0["treeMatches"] as? Bool == true }, "\(imp.stdout.suffix(500))")
    }
}
