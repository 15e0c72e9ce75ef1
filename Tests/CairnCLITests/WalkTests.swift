import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The one tree walker and the one "unchanged" rule (Docs/Architecture.md "Unchanged
/// files"), and the options built on them: exclude files, `silo exclude`,
/// `--one-file-system`, `snapshot --skip-if-unchanged`.
@Suite struct WalkTests {
    func initRepo(_ t: TempDir, _ args: [String]) throws -> String {
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        let r = try cairn(repo, ["silo", "add"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return repo
    }

    /// Paths of a snapshot's silo, from `ls -r --json`.
    func paths(_ repo: String, _ silo: String, _ snap: String = "latest") throws -> Set<String> {
        let r = try cairn(repo, ["ls", snap, silo, "-r", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = (try? JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [[String: Any]]) ?? []
        return Set(rows.compactMap { $0["path"] as? String })
    }

    func summary(_ r: RunResult) -> [String: Any] { jsonFields(r) }

    /// Snapshot, estimate and restore's comparison judge files by the same rule: the files a
    /// snapshot reads again are exactly those estimate counts as changed and those a restore
    /// dry run does not find unchanged; a SQLite database's `-wal`/`-shm` siblings are counted
    /// by none of them.
    @Test func snapshotEstimateAndRestoreAgreeOnUnchangedFiles() throws {
        let t = TempDir(); defer { t.remove() }
        let s = t.sub("s")
        for n in ["same", "touched", "rewritten", "chmodded"] { try writeFile(s + "/" + n, Array("content of \(n)".utf8)) }
        #expect(try sh("sqlite3 '\(s)/app.db' 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'").status == 0)
        try writeFile(s + "/sub/deep", Array("below".utf8))
        let repo = try initRepo(t, ["s", s])
        // Before any snapshot, estimate walks every level and counts every file as changed.
        let fresh = try cairn(repo, ["estimate", "--json"])
        let f = (try? JSONSerialization.jsonObject(with: Data(fresh.stdoutBytes)) as? [[String: Any]])?.first
        #expect(f?["files"] as? Int == 6 && f?["changedFiles"] as? Int == 6 && f?["dirs"] as? Int == 2, "\(fresh.stdout)")
        let first = try cairn(repo, ["snapshot", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let id = try #require(snapshotId(fromJSON: first))

        // Leftover siblings beside the database are part of it, not files of their own.
        try writeFile(s + "/app.db-wal", [])
        try writeFile(s + "/app.db-shm", [])
        #expect(cairnTouch(s + "/touched", 1_600_000_000_000_000_000))
        var st = stat()
        #expect(lstat(s + "/rewritten", &st) == 0)
        try writeFile(s + "/rewritten", Array("CONTENT OF rewritten".utf8))
        #expect(cairnTouch(s + "/rewritten", Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)))
        #expect(chmod(s + "/chmodded", 0o600) == 0)

        let est = try cairn(repo, ["estimate", "--json"])
        #expect(est.status == 0, "\(est.stderr)")
        let e = try #require((try? JSONSerialization.jsonObject(with: Data(est.stdoutBytes)) as? [[String: Any]])?.first)
        #expect(e["files"] as? Int == 6, "\(e)")
        // The database counts as changed: its -wal sibling is new (its fingerprint changed).
        #expect(e["changedFiles"] as? Int == 4, "\(e)")

        let dry = try cairn(repo, ["restore", id, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let changes = (jsonFields(dry)["changes"] as? [[String: Any]]) ?? []
        let changed = Set(changes.compactMap { $0["path"] as? String })
        #expect(changed == ["touched", "rewritten", "chmodded", "app.db"], "\(changes)")
        let totals = (jsonFields(dry)["result"] as? [String: Any])?["totals"] as? [String: Any]
        #expect(totals?["removed"] as? Int == 0, "the database's siblings are not removals: \(changes)")

        let second = try cairn(repo, ["snapshot", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(summary(second)["filesRead"] as? Int == 4, "\(second.stdout)")
        #expect(try paths(repo, "s") == ["same", "touched", "rewritten", "chmodded", "app.db", "sub", "sub/deep"])
    }

    /// `silo add --exclude-file`, `snapshot --exclude-file` and `silo exclude` use one
    /// gitignore-like language (comments, `!`, trailing '/', anchored and `**` patterns).
    @Test func excludeFilesAndEditingExcludes() throws {
        let t = TempDir(); defer { t.remove() }
        let s = t.sub("s")
        for p in ["a.log", "keep.log", "top", "sub/top", "build/x.o", "sub/build", "src/deep/a.tmp", "src/b.tmp", "notes.txt", "cache/c"] {
            try writeFile(s + "/" + p, Array(p.utf8))
        }
        try writeFile(t.sub("ignore"), Array("# comment\n\n*.log\n!keep.log\nbuild/\n/top\n**/deep/*.tmp   \n".utf8))
        let repo = try initRepo(t, ["s", s, "--exclude-file", t.sub("ignore")])
        let listed = try cairn(repo, ["silo", "list", "--json"])
        #expect(listed.stdout.contains("!keep.log") && !listed.stdout.contains("comment"), "\(listed.stdout)")
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let files = try paths(repo, "s")
        #expect(files == ["keep.log", "sub", "sub/top", "sub/build", "src", "src/deep", "src/b.tmp", "notes.txt", "cache", "cache/c"], "\(files.sorted())")

        // Per-run patterns come after the silo's own; estimate walks the same way.
        try writeFile(t.sub("more"), Array("cache/\n*.txt\n".utf8))
        let more = try cairn(repo, ["snapshot", "--exclude-file", t.sub("more"), "--json"])
        #expect(more.status == 0, "\(more.stderr)")
        #expect(try paths(repo, "s") == ["keep.log", "sub", "sub/top", "sub/build", "src", "src/deep", "src/b.tmp"])
        let est = try cairn(repo, ["estimate", "--exclude-file", t.sub("more"), "--json"])
        #expect((try? JSONSerialization.jsonObject(with: Data(est.stdoutBytes)) as? [[String: Any]])?.first?["files"] as? Int == 4, "\(est.stdout)")

        // Editing: remove one pattern, add another.
        let edit = try cairn(repo, ["silo", "exclude", "s", "--remove", "*.log", "--add", "src/", "--json"])
        #expect(edit.status == 0, "\(edit.stderr)")
        #expect(jsonFields(edit)["excludes"] as? [String] == ["!keep.log", "build/", "/top", "**/deep/*.tmp", "src/"], "\(edit.stdout)")
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        #expect(try paths(repo, "s") == ["a.log", "keep.log", "sub", "sub/top", "sub/build", "notes.txt", "cache", "cache/c"])
        let missing = try cairn(repo, ["silo", "exclude", "s", "--remove", "nope"])
        #expect(missing.status != 0 && missing.stderr.contains("no exclude pattern 'nope'"), "\(missing.stderr)")
        let big = t.sub("big")
        try writeFile(big, [UInt8](repeating: 0x61, count: ExcludeFile.maxBytes + 1))
        let refused = try cairn(repo, ["snapshot", "--exclude-file", big])
        #expect(refused.status == CairnError.Code.invalidInput.exitCode, "\(refused.stderr)")
        #expect(refused.stderr.contains("more than the 1 MiB"), "\(refused.stderr)")
    }

    /// `--one-file-system` keeps a mount point as an empty directory and does not walk it.
    @Test func oneFileSystemStopsAtMountPoints() throws {
        let t = TempDir(); defer { t.remove() }
        let s = t.sub("s")
        try writeFile(s + "/here.txt", Array("here".utf8))
        try FS.mkdirs(s + "/mnt")
        let mounted = try sh("mount -t tmpfs cairn-test '\(s)/mnt'").status == 0
        defer { if mounted { _ = try? sh("umount '\(s)/mnt'") } }
        try #require(mounted, "this test mounts a tmpfs (needs root)")
        try writeFile(s + "/mnt/there.txt", Array("there".utf8))
        let repo = try initRepo(t, ["s", s])
        #expect(try cairn(repo, ["snapshot", "--one-file-system"]).status == 0)
        #expect(try paths(repo, "s") == ["here.txt", "mnt"])
        let est = try cairn(repo, ["estimate", "--one-file-system", "--json"])
        #expect((try? JSONSerialization.jsonObject(with: Data(est.stdoutBytes)) as? [[String: Any]])?.first?["files"] as? Int == 1, "\(est.stdout)")
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        #expect(try paths(repo, "s") == ["here.txt", "mnt", "mnt/there.txt"])
    }

    /// `snapshot --skip-if-unchanged` records nothing when nothing changed, exits 0 and says so.
    @Test func skipIfUnchanged() throws {
        let t = TempDir(); defer { t.remove() }
        let s = t.sub("s")
        try writeFile(s + "/a", Array("a".utf8))
        let repo = try initRepo(t, ["s", s])
        #expect(try cairn(repo, ["silo", "add", "cmd", "--command", "echo same", "--filename", "out.txt"]).status == 0)
        let first = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--json"])))
        let skipped = try cairn(repo, ["snapshot", "--skip-if-unchanged"])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stdout.contains("nothing changed since snapshot \(first.prefix(12)); no snapshot recorded"), "\(skipped.stdout)")
        let json = try cairn(repo, ["snapshot", "--skip-if-unchanged", "--json"])
        #expect(json.status == 0 && jsonFields(json)["skipped"] as? Bool == true && jsonFields(json)["unchangedSince"] as? String == first, "\(json.stdout)")
        #expect(try listSnapshotIds(repo).count == 1)
        try writeFile(s + "/b", Array("b".utf8))
        let taken = try cairn(repo, ["snapshot", "--skip-if-unchanged", "--json"])
        #expect(taken.status == 0 && snapshotId(fromJSON: taken) != nil, "\(taken.stdout)")
        #expect(try listSnapshotIds(repo).count == 2)
    }

    /// A restore that changes nothing takes no safety snapshot; one that changes a silo copies
    /// only the silos it changes, and its undo names only those.
    @Test func restoreThatChangesNothingAddsNoSafetySnapshot() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("a/f"), Array("a".utf8))
        try writeFile(t.sub("b/f"), Array("b".utf8))
        let repo = try initRepo(t, ["a", t.sub("a")])
        #expect(try cairn(repo, ["silo", "add", "b", t.sub("b")]).status == 0)
        let id = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--json"])))
        let noop = try cairn(repo, ["restore", id, "--json"])
        #expect(noop.status == 0, "\(noop.stderr)")
        #expect((jsonFields(noop)["result"] as? [String: Any])?["safetySnapshot"] as? String == nil, "\(noop.stdout)")
        #expect(try listSnapshotIds(repo).count == 1)
        try writeFile(t.sub("a/f"), Array("changed".utf8))
        let real = try cairn(repo, ["restore", id, "--json"])
        #expect(real.status == 0, "\(real.stderr)")
        let res = jsonFields(real)["result"] as? [String: Any]
        let safety = try #require(res?["safetySnapshot"] as? String)
        #expect((res?["undo"] as? String)?.contains("--silo a --repo") == true, "\(res ?? [:])")
        let show = try cairn(repo, ["show", safety, "--json"])
        let silos = (jsonFields(show)["silos"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(silos == ["a"], "\(show.stdout)")
        #expect(try FS.readAll(t.sub("a/f")) == Array("a".utf8))
    }
}
