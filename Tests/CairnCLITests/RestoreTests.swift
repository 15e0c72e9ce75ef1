import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `cairn restore`: round trips, safety snapshot, dry run, pre-flight refusals, SQLite.
@Suite struct RestoreTests {
    func initRepo(_ t: TempDir, silos: [(String, String)]) throws -> String {
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        for (n, p) in silos { #expect(try cairn(repo, ["silo", "add", n, p]).status == 0) }
        return repo
    }

    func snapshotId(_ repo: String, _ extra: [String] = []) throws -> String {
        let r = try cairn(repo, ["snapshot", "--json"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return CairnTestSupport.snapshotId(fromJSON: r) ?? ""
    }

    /// Acceptance 1: the torture tree comes back bit-exact (content, modes, mtimes of files,
    /// directories and symlinks, dangling links, empty directories), into a new folder and in place.
    @Test func tortureTreeRoundTrip() throws {
        let t = TempDir(); defer { t.remove() }
        let src = t.sub("live/tree")
        let clock = Date()
        func lap(_ what: String) { print("FIGURE torture restore: \(what) at \(String(format: "%.1f", Date().timeIntervalSince(clock))) s") }
        let n = try makeTortureTree(at: src, files: 10_000, largeSparseBytes: (1 << 30) + 4096)
        #expect(n >= 10_000)
        let repo = try initRepo(t, silos: [("tree", src)])
        lap("tree made")
        let id = try snapshotId(repo)
        lap("snapshot taken")
        let want = try strictDigest(src)
        lap("source digested")

        let to = try cairn(repo, ["restore", id, "--to", t.sub("out")])
        #expect(to.status == 0, "\(to.stderr)")
        lap("restored --to")
        let got = try strictDigest(t.sub("out/tree"))
        #expect(got == want, "\(digestDifferences(want, got))")
        // Holes stay holes: the 1 GiB file does not take 1 GiB on disk.
        var st = stat()
        #expect(lstat(t.sub("out/tree/large.sparse"), &st) == 0 && st.st_blocks * 512 < 64 << 20)

        // In place, after damage: removed, modified, retargeted and chmod-ed paths all come back.
        try FS.removeTree(src + "/d1")
        try writeFile(src + "/odd/with space.txt", Array("changed".utf8))
        unlink(src + "/d0/link-ok"); symlink("elsewhere", src + "/d0/link-ok")
        try writeFile(src + "/extra/new.txt", Array("new".utf8))
        let r = try cairn(repo, ["restore", id, "--json", "--no-safety-snapshot"])
        #expect(r.status == 0, "\(r.stderr)")
        lap("restored in place")
        let back = try strictDigest(src)
        #expect(back == want, "\(digestDifferences(want, back))")
        #expect(try restoreLeftovers(in: t.sub("live")).isEmpty)
        #expect(try cairn(repo, ["check"]).status == 0)
    }

    /// A small two-silo fixture (a directory and a single file).
    func fixture(_ t: TempDir) throws -> (repo: String, id: String) {
        var rng = SeededBytes(seed: 11)
        for i in 0..<40 { try writeFile(t.sub("live/app/d\(i % 4)/f\(i).bin"), rng.bytes(3000 + i * 700)) }
        try writeFile(t.sub("live/app/notes.txt"), Array("hello\n".utf8))
        symlink("notes.txt", t.sub("live/app/link"))
        try writeFile(t.sub("live/single.dat"), rng.bytes(50_000))
        let repo = try initRepo(t, silos: [("app", t.sub("live/app")), ("single", t.sub("live/single.dat"))])
        return (repo, try snapshotId(repo))
    }

    /// Mutations of every change kind against the fixture.
    func mutate(_ t: TempDir) throws {
        try writeFile(t.sub("live/app/d0/f0.bin"), Array("modified content".utf8))   // modified
        unlink(t.sub("live/app/d1/f1.bin"))                                           // removed from live: restore adds it back
        try writeFile(t.sub("live/app/d2/extra.bin"), Array("extra".utf8))           // added in live: restore removes it
        chmod(t.sub("live/app/d3/f3.bin"), 0o600)                                     // metadata only
        unlink(t.sub("live/app/link")); symlink("d0", t.sub("live/app/link"))        // symlink retargeted
        try writeFile(t.sub("live/single.dat"), Array("short".utf8))
    }

    /// Acceptance 5 and 6: the dry run changes nothing and predicts the real restore's counts;
    /// the safety snapshot exists and restoring it brings the pre-restore state back exactly.
    @Test func dryRunThenRestoreThenUndo() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, id) = try fixture(t)
        try mutate(t)
        let beforeApp = try strictDigest(t.sub("live/app"))
        let beforeSingle = try fileSHA(t.sub("live/single.dat"))

        let dry = try cairn(repo, ["restore", id, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try strictDigest(t.sub("live/app")) == beforeApp)
        #expect(try fileSHA(t.sub("live/single.dat")) == beforeSingle)
        #expect(try restoreLeftovers(in: t.sub("live")).isEmpty)
        let dryTotals = (jsonFields(dry)["result"] as? [String: Any])?["totals"] as? [String: Any]
        #expect(dryTotals?["added"] as? Int == 1)
        #expect(dryTotals?["removed"] as? Int == 1)
        #expect(dryTotals?["modified"] as? Int == 3)
        #expect(dryTotals?["metadataOnly"] as? Int == 1)
        let changes = (jsonFields(dry)["changes"] as? [[String: Any]]) ?? []
        // Paths are {silo, path} in every JSON output (Docs/JSON.md).
        #expect(changes.contains { $0["change"] as? String == "-" && $0["silo"] as? String == "app" && $0["path"] as? String == "d2/extra.bin" })
        #expect(changes.contains { $0["change"] as? String == "m" && $0["silo"] as? String == "app" && $0["path"] as? String == "d3/f3.bin" })
        let human = try cairn(repo, ["restore", id, "--dry-run", "--verbose"])
        #expect(human.stdout.contains("+ app/d1/f1.bin") && human.stdout.contains("M app/d0/f0.bin") && human.stdout.contains("dry run: nothing changed"))

        let real = try cairn(repo, ["restore", id, "--json"])
        #expect(real.status == 0, "\(real.stderr)")
        let res = jsonFields(real)["result"] as? [String: Any]
        let realTotals = res?["totals"] as? [String: Any]
        for k in ["added", "removed", "modified", "metadataOnly", "unchanged", "bytesToWrite", "changedBytes"] {
            #expect("\(dryTotals?[k] ?? "nil")" == "\(realTotals?[k] ?? "nil")", "\(k)")
        }
        let safety = try #require(res?["safetySnapshot"] as? String)
        #expect((res?["undo"] as? String)?.contains("cairn restore \(safety.prefix(12))") == true)
        let listed = try cairn(repo, ["list", "--tag", "pre-restore", "--json"])
        #expect(String(decoding: listed.stdoutBytes, as: UTF8.self).contains(safety))
        // A second dry run now finds nothing to change.
        let again = jsonFields(try cairn(repo, ["restore", id, "--dry-run", "--json"]))["result"] as? [String: Any]
        let t2 = again?["totals"] as? [String: Any]
        #expect(t2?["added"] as? Int == 0 && t2?["removed"] as? Int == 0 && t2?["modified"] as? Int == 0 && t2?["metadataOnly"] as? Int == 0)

        // Undo: restoring the safety snapshot brings the mutated state back exactly.
        let undo = try cairn(repo, ["restore", safety, "--no-safety-snapshot"])
        #expect(undo.status == 0, "\(undo.stderr)")
        let afterUndo = try strictDigest(t.sub("live/app"))
        #expect(afterUndo == beforeApp, "\(digestDifferences(beforeApp, afterUndo))")
        #expect(try fileSHA(t.sub("live/single.dat")) == beforeSingle)
    }

    /// Acceptance 3: a corrupted block makes restore refuse before any live silo changes.
    @Test func corruptedBlockRefusesAndNamesFile() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, id) = try fixture(t)
        try mutate(t)
        let before = try strictDigest(t.sub("live/app"))
        let packs = try sh("find \(repo)/packs -name '*.pack' | sort").stdout.split(separator: "\n").map(String.init)
        for p in packs { _ = try sh("chmod u+w \(p) && printf '\\x5a\\x5a' | dd of=\(p) bs=1 seek=200 conv=notrunc status=none") }
        let r = try cairn(repo, ["restore", id])
        #expect(r.status == 15, "\(r.stderr)")
        #expect(r.stderr.contains("damaged") && (r.stderr.contains("app/") || r.stderr.contains("single")), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(try strictDigest(t.sub("live/app")) == before)
        #expect(try restoreLeftovers(in: t.sub("live")).isEmpty)
        #expect(!FS.exists(repo + "/restore-journal.json"))
    }

    /// Acceptance 4: a target filesystem too small for the staging copy.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
    func targetTooSmall() throws {
        let t = TempDir(); defer { t.remove() }
        let mnt = t.sub("mnt")
        try FS.mkdirs(mnt)
        guard try sh("mount -t tmpfs -o size=8m tmpfs \(mnt)").status == 0 else { return }
        defer { _ = try? sh("umount -l \(mnt)") }
        var rng = SeededBytes(seed: 5)
        try writeFile(mnt + "/silo/big.bin", rng.bytes(3 << 20))
        let repo = try initRepo(t, silos: [("s", mnt + "/silo")])
        let id = try snapshotId(repo)
        try writeFile(mnt + "/filler", rng.bytes(4 << 20))
        try writeFile(mnt + "/silo/big.bin", Array("now small".utf8))
        let before = try strictDigest(mnt + "/silo")
        let r = try cairn(repo, ["restore", id, "--no-safety-snapshot"])
        #expect(r.status == 16, "\(r.stderr)")
        #expect(r.stderr.contains("free") && r.stderr.contains("more"), "\(r.stderr)")
        #expect(try strictDigest(mnt + "/silo") == before)
        #expect(try restoreLeftovers(in: mnt).isEmpty)
        // With room made, it works.
        unlink(mnt + "/filler")
        #expect(try cairn(repo, ["restore", id, "--no-safety-snapshot"]).status == 0)
    }

    /// Acceptance 7: a process holding a silo file open is named; refused without --force.
    @Test func openFileHolderIsNamed() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, id) = try fixture(t)
        try mutate(t)
        let holder = try Child.spawn("sh", ["-c", "exec 3<\(t.sub("live/app/notes.txt")); exec sleep 60"])
        defer { holder.kill(); holder.wait() }
        var tries = 0
        while tries < 100, !((try? FS.list("/proc/\(holder.pid)/fd")) ?? []).contains("3") { usleep(20_000); tries += 1 }
        let before = try strictDigest(t.sub("live/app"))
        let r = try cairn(repo, ["restore", id])
        #expect(r.status == 22, "\(r.stderr)")
        #expect(r.stderr.contains("pid \(holder.pid)") && r.stderr.contains("sleep") && r.stderr.contains("--force"), "\(r.stderr)")
        #expect(try strictDigest(t.sub("live/app")) == before)
        let f = try cairn(repo, ["restore", id, "--force"])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(f.stderr.contains("pid \(holder.pid)"))
    }

    /// Acceptance 8: a live SQLite database (WAL, with stale -wal/-shm) comes back consistent and alone.
    @Test func sqliteComesBackClean() throws {
        let t = TempDir(); defer { t.remove() }
        try FS.mkdirs(t.sub("live/db"))
        let make = """
        import sqlite3, sys, os
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("pragma journal_mode=wal"); db.execute("pragma wal_autocheckpoint=0")
        db.execute("create table if not exists t(i integer primary key, v text)")
        for i in range(int(sys.argv[2]), int(sys.argv[3])): db.execute("insert into t(v) values(?)", ("row %d" % i,))
        if len(sys.argv) > 4: os._exit(0)   # leave -wal and -shm behind, like a crashed app
        """
        try writeFile(t.sub("make.py"), Array(make.utf8))
        #expect(try run("python3", [t.sub("make.py"), t.sub("live/db/app.db"), "0", "500", "crash"]).status == 0)
        #expect(FS.exists(t.sub("live/db/app.db-wal")))
        let repo = try initRepo(t, silos: [("db", t.sub("live/db")), ("file", t.sub("live/db/app.db"))])
        let id = try snapshotId(repo)
        #expect(try run("python3", [t.sub("make.py"), t.sub("live/db/app.db"), "500", "900", "crash"]).status == 0)
        #expect(FS.exists(t.sub("live/db/app.db-wal")) && FS.exists(t.sub("live/db/app.db-shm")))
        let r = try cairn(repo, ["restore", id, "--silo", "db"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FS.exists(t.sub("live/db/app.db-wal")) && !FS.exists(t.sub("live/db/app.db-shm")))
        let q = try run("python3", ["-c", "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); print(d.execute('pragma integrity_check').fetchone()[0], d.execute('select count(*) from t').fetchone()[0])", t.sub("live/db/app.db")])
        #expect(q.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok 500", "\(q.stdout)\(q.stderr)")

        // The database as a single-file silo: its stale siblings go with the replaced state.
        #expect(try run("python3", [t.sub("make.py"), t.sub("live/db/app.db"), "500", "700", "crash"]).status == 0)
        #expect(FS.exists(t.sub("live/db/app.db-wal")))
        let f = try cairn(repo, ["restore", id, "--silo", "file"])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(!FS.exists(t.sub("live/db/app.db-wal")) && !FS.exists(t.sub("live/db/app.db-shm")))
        let q2 = try run("python3", ["-c", "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); print(d.execute('pragma integrity_check').fetchone()[0], d.execute('select count(*) from t').fetchone()[0])", t.sub("live/db/app.db")])
        #expect(q2.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok 500", "\(q2.stdout)\(q2.stderr)")
        #expect(try restoreLeftovers(in: t.sub("live/db")).isEmpty)
    }

    /// --include replaces only matching paths, each atomically; excluded live files survive a full restore.
    @Test func includeAndExcludes() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, id) = try fixture(t)
        try mutate(t)
        let r = try cairn(repo, ["restore", id, "--silo", "app", "--include", "d0/*", "--include", "link"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try readText(t.sub("live/app/d0/f0.bin")) != "modified content")
        #expect(try FS.readlink(t.sub("live/app/link")) == "notes.txt")
        #expect(FS.exists(t.sub("live/app/d2/extra.bin")), "paths outside --include are left alone")
        #expect(!FS.exists(t.sub("live/app/d1/f1.bin")))
        #expect(try FS.lstat(t.sub("live/app/d3/f3.bin")).mode == 0o600)
        #expect(try restoreLeftovers(in: t.sub("live/app/d0")).isEmpty)

        // Files the silo excludes are not in snapshots; a full restore keeps them.
        let t2 = TempDir(); defer { t2.remove() }
        try writeFile(t2.sub("s/keep.txt"), Array("kept".utf8))
        try writeFile(t2.sub("s/cache/blob.tmp"), Array("cache".utf8))
        let repo2 = t2.sub("repo")
        #expect(try cairn(repo2, ["init"]).status == 0)
        #expect(try cairn(repo2, ["silo", "add", "s", t2.sub("s"), "--exclude", "cache"]).status == 0)
        let sid = try snapshotId(repo2)
        try writeFile(t2.sub("s/keep.txt"), Array("changed".utf8))
        #expect(try cairn(repo2, ["restore", sid]).status == 0)
        #expect(try readText(t2.sub("s/keep.txt")) == "kept")
        #expect(try readText(t2.sub("s/cache/blob.tmp")) == "cache")
    }

    /// Error paths: --to into a non-empty folder, unknown silo, nothing to recover.
    @Test func errorPaths() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, id) = try fixture(t)
        try writeFile(t.sub("busy/x"), [1])
        let r = try cairn(repo, ["restore", id, "--to", t.sub("busy")])
        #expect(r.status == 20 && r.stderr.contains("not empty"), "\(r.stderr)")
        let u = try cairn(repo, ["restore", id, "--silo", "nope"])
        #expect(u.status == 13 && u.stderr.contains("nope"), "\(u.stderr)")
        let rec = try cairn(repo, ["restore", "--recover"])
        #expect(rec.status == 0 && rec.stdout.contains("no interrupted restore"))
    }

    func readText(_ p: String) throws -> String { String(decoding: try FS.readAll(p), as: UTF8.self) }
}
