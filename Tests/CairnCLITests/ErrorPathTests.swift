import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every documented error path: one clear line on stderr and its exit code (Docs/CLI.md).
@Suite struct ErrorPathTests {
    @Test func missingRepository() throws {
        let r = try cairn("/tmp/definitely-not-a-cairn-repo", ["list"])
        #expect(r.status == 10)
        #expect(r.stderr.contains("no Cairn repository at /tmp/definitely-not-a-cairn-repo"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        let none = try run(cairnBinary(), ["list"], env: ["CAIRN_REPO": ""])
        #expect(none.status == 10)
    }

    @Test func otherFormatVersion() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        let cfg = try String(decoding: FS.readAll(repo + "/config.json"), as: UTF8.self).replacingOccurrences(of: "\"version\" : \(RepositoryConfig.currentVersion)", with: "\"version\" : 99")
        try FS.atomicWrite(repo + "/config.json", Array(cfg.utf8))
        let r = try cairn(repo, ["list"])
        #expect(r.status == 11)
        #expect(r.stderr.contains("format version 99"))
    }

    @Test func initTwiceRefused() throws {
        let t = TempDir(); defer { t.remove() }
        #expect(try cairn(t.sub("repo"), ["init"]).status == 0)
        let r = try cairn(t.sub("repo"), ["init"])
        #expect(r.status == 20)
        #expect(r.stderr.contains("already exists"))
    }

    @Test func unknownSiloSnapshotAndAmbiguousPrefix() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        try writeFile(t.sub("s/a.txt"), Array("a".utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        let us = try cairn(repo, ["snapshot", "--silo", "nope"])
        #expect(us.status == 13)
        #expect(us.stderr.contains("unknown silo 'nope'"))
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let unk = try cairn(repo, ["show", "abcdef12"])
        #expect(unk.status == 13)
        #expect(unk.stderr.contains("no snapshot matches 'abcdef12'"))
        let bad = try cairn(repo, ["show", "xyz"])
        #expect(bad.status == 18)
        // Two index rows sharing a prefix (ids cannot be made to collide for real).
        let rec = String(decoding: (try sh("sqlite3 \(cacheIndexPath(repo)) 'select record from snapshots limit 1'").stdoutBytes), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var sql = ""
        for suffix in ["01", "02"] {
            let id = "abcdef" + suffix + String(repeating: "0", count: 56)
            sql += "insert into snapshots values('\(id)', 1, '\(rec.replacingOccurrences(of: "'", with: "''"))');\n"
        }
        try writeFile(t.sub("rows.sql"), Array(sql.utf8))
        #expect(try run("sqlite3", [cacheIndexPath(repo), ".read " + t.sub("rows.sql")]).status == 0)
        // The cache keeps only rows whose record object is listed (forget by another machine drops
        // them): these stand-ins are listed, and their content is never read for a known row.
        for suffix in ["01", "02"] { try writeFile(repo + "/snapshots/abcdef" + suffix + String(repeating: "0", count: 56) + ".json", Array("{}".utf8)) }
        let amb = try cairn(repo, ["show", "abcdef"])
        #expect(amb.status == 14)
        #expect(amb.stderr.contains("matches 2 snapshots"))
    }

    @Test func unreadableFileGivesPartialSnapshot() throws {
        guard getuid() == 0 else { Issue.record("needs root to run cairn as another user"); return }
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        try writeFile(t.sub("s/ok.txt"), Array("fine".utf8))
        try writeFile(t.sub("s/secret.txt"), Array("hidden".utf8), mode: 0o000)
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        _ = try sh("chmod -R a+rwX \(t.path) && chmod 000 \(t.sub("s/secret.txt"))")
        // Another user has their own index cache (format 3 keeps it per user).
        let nobody = ["CAIRN_CACHE_DIR": t.sub("nobody-cache")]
        let r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", cairnBinary(), "snapshot", "--repo", repo], env: nobody)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("secret.txt: skipped, cannot be read"))
        let ls = try cairn(repo, ["ls", "latest", "s"])
        #expect(ls.stdout.contains("s/ok.txt"))
        #expect(!ls.stdout.contains("secret.txt"))
        #expect(try cairn(repo, ["show", "latest"]).stdout.contains("partial snapshot"))
    }

    @Test func diskFullLeavesRepositoryConsistent() throws {
        guard getuid() == 0 else { Issue.record("needs root to mount a small tmpfs"); return }
        let t = TempDir(); defer { t.remove() }
        let mnt = t.sub("small")
        try FS.mkdirs(mnt)
        #expect(try sh("mount -t tmpfs -o size=12m tmpfs \(mnt)").status == 0)
        defer { _ = try? sh("umount \(mnt)") }
        let repo = mnt + "/repo"
        var rng = SeededBytes(seed: 5)
        try writeFile(t.sub("s/small.txt"), Array("small".utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        for i in 0..<4 { try writeFile(t.sub("s/big\(i).bin"), rng.bytes(8 << 20)) }
        let r = try cairn(repo, ["snapshot"])
        #expect(r.status == 16, "\(r.stderr)")
        #expect(r.stderr.contains("free some space") || r.stderr.contains("free space on that filesystem"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        let list = try cairn(repo, ["list", "--json"])
        #expect(list.status == 0)
        let arr = try JSONSerialization.jsonObject(with: Data(list.stdoutBytes)) as? [Any]
        #expect(arr?.count == 1)
        let chk = try cairn(repo, ["check", "--read-data"])
        #expect(chk.status == 0, "\(chk.stdout)\(chk.stderr)")
        // No temporary pack is left behind.
        #expect((try? FS.list(repo + "/packs/tmp"))?.isEmpty ?? true)
        #expect((try? FS.list(repo + "/tmp"))?.isEmpty ?? true)
    }

    @Test func exclusiveLockHeldGivesLockedExit() async throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        // This test process holds a shared lock (a lock object naming it) while cairn runs.
        let holder = try await onEngineThread {
            try RepositoryLock.acquire(folder: repo, mode: .shared, wait: 0, command: "test holder")
        }
        defer { holder.release() }
        let r = try cairn(repo, ["check", "--rebuild-index", "--wait", "0"])
        #expect(r.status == 12)
        #expect(r.stderr.contains("is locked by pid \(getpid()) on ") && r.stderr.contains("(test holder, shared, taken "), "\(r.stderr)")
        // Shared users are not blocked by each other.
        #expect(try cairn(repo, ["list", "--wait", "0"]).status == 0)
    }

    @Test func twoConcurrentSnapshotsBothSucceed() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        var rng = SeededBytes(seed: 11)
        for i in 0..<40 { try writeFile(t.sub("a/f\(i)"), rng.bytes(200_000)) }
        for i in 0..<40 { try writeFile(t.sub("b/f\(i)"), rng.bytes(200_000)) }
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "a", t.sub("a")]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "b", t.sub("b")]).status == 0)
        let r = try sh("'\(cairnBinary())' snapshot --repo \(repo) --silo a & p1=$!; '\(cairnBinary())' snapshot --repo \(repo) & p2=$!; wait $p1; a=$?; wait $p2; b=$?; echo $a $b")
        #expect(r.stdout.split(separator: "\n").last.map(String.init) == "0 0", "\(r.stdout) \(r.stderr)")
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        let list = try JSONSerialization.jsonObject(with: Data(try cairn(repo, ["list", "--json"]).stdoutBytes)) as? [Any]
        #expect(list?.count == 2)
    }
}
