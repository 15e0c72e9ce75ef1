import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A one-line error with a documented exit code, never a signal or a trap.
func expectCleanFailure(_ r: RunResult, _ code: Int32? = nil, _ what: String = "") {
    #expect(r.status > 0 && r.status < 128, "\(what): status \(r.status) \(r.stderr)")
    if let code { #expect(r.status == code, "\(what): \(r.stderr)") }
    #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("cairn: error:") }.count <= 1, "\(what): \(r.stderr)")
}

/// A small repository with one directory silo and one snapshot.
func smallRepository(_ t: TempDir) throws -> (repo: String, silo: String) {
    let repo = t.sub("repo"), silo = t.sub("live")
    try writeFile(silo + "/keep.txt", Array(repeating: UInt8(ascii: "k"), count: 3000))
    try writeFile(silo + "/gone.txt", Array("only in the first snapshot\n".utf8))
    #expect(try cairn(repo, ["init"]).status == 0)
    #expect(try cairn(repo, ["silo", "add", "app", silo]).status == 0)
    #expect(try cairn(repo, ["snapshot"]).status == 0)
    return (repo, silo)
}

/// Copies the repository folder `repo` to `copy` with its own index cache (format 3 keeps the
/// index outside the repository); returns the environment naming that cache and the cache file.
func copyWithCache(_ repo: String, _ copy: String) throws -> (env: [String: String], index: String) {
    let cache = copy + "-cache"
    let id = repositoryId(repo)
    #expect(try sh("cp -a '\(repo)' '\(copy)' && mkdir -p '\(cache)/\(id)' && cp -a '\(cacheIndexPath(repo))' '\(cache)/\(id)/'").status == 0)
    return (["CAIRN_CACHE_DIR": cache], "\(cache)/\(id)/index.sqlite")
}

func packFiles(_ repo: String) throws -> [String] {
    try FS.list(repo + "/packs").filter { $0.utf8.count == 2 }.flatMap { d in try FS.list(repo + "/packs/" + d).map { repo + "/packs/" + d + "/" + $0 } }
}

/// True when `pid` is gone or a zombie (an orphan the container's init has not reaped yet).
func processGone(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0, let stat = try? FS.readAll("/proc/\(pid)/stat"), let close = stat.lastIndex(of: 0x29), close + 2 < stat.count else { return true }
    return stat[close + 2] == UInt8(ascii: "Z")
}

/// Repository files are untrusted input; overlap is decided by identity; lost blocks heal.
@Suite(.serialized) struct RepositoryFilesTests {
    @Test func craftedIndexRowsGiveOneLineErrors() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        for (i, update) in ["offset = 9223372036854775807", "stored = -1, raw = -1", "kind = 99", "codec = 7", "offset = -5", "stored = 4294967295, raw = 4294967295, codec = 1"].enumerated() {
            let copy = t.sub("copy\(i)")
            let c = try copyWithCache(repo, copy)
            #expect(try sh("sqlite3 \(c.index) 'UPDATE blocks SET \(update)'").status == 0)
            for args in [["cat", "latest", "app/keep.txt"], ["check", "--read-data"], ["ls", "latest", "-r"], ["export", "latest", "--output", t.sub("x\(i).zip")]] {
                let r = try cairn(copy, args, env: c.env)
                expectCleanFailure(r, 15, "\(update) \(args)")
                #expect(r.stderr.contains("index.sqlite") || r.stdout.contains("damaged"), "\(update) \(args): \(r.stderr)")
            }
        }
        // A pack name that climbs out of the repository is refused, never opened or deleted.
        let named = t.sub("packname")
        try writeFile(t.sub("outside.pack"), Array("CAIRNPK1 not a pack".utf8))
        let n = try copyWithCache(repo, named)
        #expect(try sh("sqlite3 \(n.index) \"UPDATE packs SET name = '../../outside'\"").status == 0)
        for args in [["cat", "latest", "app/keep.txt"], ["check", "--read-data"], ["prune"]] {
            let r = try cairn(named, args, env: n.env)
            expectCleanFailure(r, 15, "pack name \(args)")
            #expect(r.stderr.contains("not 32 hex digits"), "\(args): \(r.stderr)")
        }
        #expect(FS.exists(t.sub("outside.pack")))
        // Extreme pack sizes in the packs table.
        let copy = t.sub("packsize")
        let c = try copyWithCache(repo, copy)
        #expect(try sh("sqlite3 \(c.index) 'UPDATE packs SET size = -1, blocks = -3'").status == 0)
        expectCleanFailure(try cairn(copy, ["check"], env: c.env), 15, "pack size")
    }

    @Test func craftedRestoreJournalIsRefusedAndLeftAlone() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, silo) = try smallRepository(t)
        let victim = t.sub("victim")
        try writeFile(victim + "/precious.txt", Array("do not delete".utf8))
        let journals = [
            // Staging outside the silo's directory.
            "{\"version\":1,\"token\":\"aaaaaaaaaaaa\",\"snapshot\":\"x\",\"pid\":1,\"host\":\"h\",\"state\":\"staging\",\"silos\":[{\"name\":\"app\",\"target\":\"\(silo)\",\"staging\":\"\(victim)\",\"aside\":\"\",\"method\":\"exchange\",\"newInode\":0,\"oldInode\":0,\"siblings\":[]}],\"includeDirs\":[]}",
            // A target that is not the registered path.
            "{\"version\":1,\"token\":\"aaaaaaaaaaaa\",\"snapshot\":\"x\",\"pid\":1,\"host\":\"h\",\"state\":\"committed\",\"silos\":[{\"name\":\"app\",\"target\":\"\(victim)\",\"staging\":\"\(t.path)/.victim.cairn-restore-aaaaaaaaaaaa\",\"aside\":\"\",\"method\":\"exchange\",\"newInode\":0,\"oldInode\":0,\"siblings\":[]}],\"includeDirs\":[]}",
            // Siblings that climb out.
            "{\"version\":1,\"token\":\"aaaaaaaaaaaa\",\"snapshot\":\"x\",\"pid\":1,\"host\":\"h\",\"state\":\"staging\",\"silos\":[{\"name\":\"app\",\"target\":\"\(silo)\",\"staging\":\"\(t.path)/.live.cairn-restore-aaaaaaaaaaaa\",\"aside\":\"\",\"method\":\"exchange\",\"newInode\":0,\"oldInode\":0,\"siblings\":[\"/../victim\"]}],\"includeDirs\":[]}",
            // Include directories outside every silo.
            "{\"version\":1,\"token\":\"aaaaaaaaaaaa\",\"snapshot\":\"x\",\"pid\":1,\"host\":\"h\",\"state\":\"include\",\"silos\":[],\"includeDirs\":[\"\(victim)\"]}",
            "garbage{",
        ]
        let journal = stateFolder(repo) + "/restore-journal.json"
        for j in journals {
            try writeFile(journal, Array(j.utf8))
            let l = try cairn(repo, ["list"])
            #expect(l.status == 0, "\(l.stderr)")
            #expect(l.stderr.contains("cannot be trusted"), "\(l.stderr)")
            let rec = try cairn(repo, ["restore", "--recover"])
            #expect(rec.stderr.contains("left alone") && rec.stderr.contains("delete the journal"), "\(rec.stderr)")
            #expect(FS.exists(victim + "/precious.txt"))
            #expect(FS.exists(journal))
        }
        try FS.removeTree(journal)
        #expect(try cairn(repo, ["list"]).stderr.isEmpty)
    }

    @Test func overlapThroughSymlinksIsRefused() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, silo) = try smallRepository(t)
        // A symlink to the folder holding the repository, and `/`.
        // t/alias -> the parent of t, so t/alias/NAME-OF-t is the folder holding the repository,
        // spelled so that no textual prefix test sees it.
        #expect(symlink(FS.parent(t.path), t.sub("alias")) == 0)
        let up = try cairn(repo, ["silo", "add", "up", t.sub("alias") + "/" + FS.basename(t.path)])
        expectCleanFailure(up, 18, "symlinked parent")
        #expect(up.stderr.contains("overlaps the repository"), "\(up.stderr)")
        expectCleanFailure(try cairn(repo, ["silo", "add", "root", "/"]), 18, "root")
        expectCleanFailure(try cairn(repo, ["silo", "add", "inner", t.sub("alias") + "/" + FS.basename(t.path) + "/repo/packs"]), 18, "inside repo")
        // A silo inside another silo is allowed; restoring both in place at once is refused.
        try FS.mkdirs(silo + "/sub")
        #expect(try cairn(repo, ["silo", "add", "nested", silo + "/sub"]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let both = try cairn(repo, ["restore", "latest", "--no-safety-snapshot"])
        expectCleanFailure(both, 18, "nested restore")
        #expect(both.stderr.contains("overlap"), "\(both.stderr)")
        #expect(try cairn(repo, ["restore", "latest", "--silo", "nested", "--no-safety-snapshot"]).status == 0)
        // restore --to into a silo or the repository.
        expectCleanFailure(try cairn(repo, ["restore", "latest", "--to", silo + "/sub/new"]), 18, "--to in silo")
        expectCleanFailure(try cairn(repo, ["restore", "latest", "--to", repo + "/out"]), 18, "--to in repo")
        // A silo whose path later becomes a symlink to the repository's parent: snapshot and restore refuse it.
        let moving = t.sub("moving")
        try FS.mkdirs(moving)
        #expect(try cairn(repo, ["silo", "add", "moving", moving]).status == 0)
        #expect(rmdir(moving) == 0 && symlink(t.path, moving) == 0)
        let s = try cairn(repo, ["snapshot", "--silo", "moving"])
        expectCleanFailure(s, 19, "snapshot through symlink")
        #expect(s.stderr.contains("overlaps the repository"))
        let r = try cairn(repo, ["restore", "latest", "--silo", "app", "--no-safety-snapshot"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try cairn(repo, ["check"]).status == 0)
        // A silo snapshotted while it was a plain folder, then turned into a symlink to the folder
        // holding the repository: restoring it in place would swap the repository away. Refused.
        let turned = t.sub("turned")
        try writeFile(turned + "/f.txt", Array("f".utf8))
        #expect(try cairn(repo, ["silo", "add", "turned", turned]).status == 0)
        #expect(try cairn(repo, ["snapshot", "--silo", "turned"]).status == 0)
        try FS.removeTree(turned)
        #expect(symlink(t.path, turned) == 0)
        let rt = try cairn(repo, ["restore", "latest", "--silo", "turned", "--no-safety-snapshot"])
        expectCleanFailure(rt, 18, "restore through symlink")
        #expect(rt.stderr.contains("overlaps the repository"), "\(rt.stderr)")
        #expect(try cairn(repo, ["check"]).status == 0)
    }

    @Test(.enabled(if: getuid() == 0, "needs root for a bind mount"))
    func overlapThroughABindMountIsRefused() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        // The folder holding the repository, seen again under another path.
        let view = t.sub("view")
        try FS.mkdirs(view)
        guard try sh("mount --bind \(t.path) \(view)").status == 0 else { Issue.record("cannot bind-mount"); return }
        defer { _ = try? sh("umount \(view)") }
        let r = try cairn(repo, ["silo", "add", "view", view])
        expectCleanFailure(r, 18, "bind mount")
        #expect(r.stderr.contains("overlaps the repository"), "\(r.stderr)")
    }

    @Test func lostPackHealsAndOlderSnapshotsAreNamed() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, silo) = try smallRepository(t)
        let first = try cairn(repo, ["list"]).stdout.prefix(12)
        for p in try packFiles(repo) { #expect(unlink(p) == 0) }
        try FS.removeTree(silo + "/gone.txt")
        let c1 = try cairn(repo, ["check"])
        #expect(c1.status == 15)
        // The unchanged keep.txt must be stored again, not reused from the lost pack.
        let s = try cairn(repo, ["snapshot"])
        #expect(s.status == 0, "\(s.stderr)")
        let cat = try cairn(repo, ["cat", "latest", "app/keep.txt"])
        #expect(cat.status == 0 && cat.stdoutBytes.count == 3000, "\(cat.stderr)")
        let c2 = try cairn(repo, ["check", "--read-data"])
        #expect(c2.status == 15)
        #expect(c2.stdout.contains("damaged snapshots: \(first)"), "\(c2.stdout)")
        // Only the first snapshot stays damaged (its root tree, listing gone.txt, is lost); the new one is whole.
        let latest = try cairn(repo, ["list"]).stdout.split(separator: "\n").last.map { String($0.prefix(12)) } ?? ""
        #expect(!c2.stdout.contains("\(latest):"), "\(c2.stdout)")
        #expect(c2.stdout.contains("\(first):app/"), "\(c2.stdout)")
        // Prune works on the healed repository and keeps what the new snapshot needs.
        #expect(try cairn(repo, ["prune"]).status == 0)
        #expect(try cairn(repo, ["cat", "latest", "app/keep.txt"]).status == 0)
    }

    @Test func lostPackFoundByRebuildIndexHealsToo() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        for p in try packFiles(repo) { #expect(unlink(p) == 0) }
        // The rebuild succeeds; the check after it reports the damage (exit 15).
        let rb = try cairn(repo, ["check", "--rebuild-index"])
        #expect(rb.status == 15 && rb.stdout.contains("index rebuilt"), "\(rb.stdout)\(rb.stderr)")
        #expect(try sh("test $(sqlite3 \(cacheIndexPath(repo)) 'SELECT count(*) FROM missing') -gt 0").status == 0)
        let s = try cairn(repo, ["snapshot"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try cairn(repo, ["cat", "latest", "app/keep.txt"]).stdoutBytes.count == 3000)
        #expect(try cairn(repo, ["cat", "latest", "app/gone.txt"]).status == 0)
        // Both snapshots hold the same live data: the new one brought every lost block back.
        let c = try cairn(repo, ["check", "--read-data"])
        #expect(c.status == 0, "\(c.stdout)")
    }

    @Test func rebuildSalvagesAPackWithAFlippedTrailerByte() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        let pack = try #require(try packFiles(repo).first)
        let size = try FS.lstat(pack).size
        // Offsets: footer is the last 16 bytes; flip a byte in the last entry's offset, one in the
        // footer's count and one in an entry id, each in its own copy.
        for (i, back) in ([40, 16, 80, 8] as [UInt64]).enumerated() {
            let copy = t.sub("c\(i)")
            #expect(try sh("cp -a \(repo) \(copy)").status == 0)
            let p = copy + String(pack.dropFirst(repo.count))
            #expect(chmod(p, 0o644) == 0)
            var bytes = try FS.readAll(p)
            bytes[Int(size - back)] ^= 0x5a
            try FS.removeTree(p)
            try writeFile(p, bytes)
            let rb = try cairn(copy, ["check", "--rebuild-index"])
            #expect(rb.status == 0, "\(back): \(rb.stdout)\(rb.stderr)")
            #expect(rb.stderr.contains("salvaged"), "\(back): \(rb.stderr)")
            let chk = try cairn(copy, ["check", "--read-data"])
            #expect(chk.status == 0, "\(back): \(chk.stdout)\(chk.stderr)")
            #expect(try cairn(copy, ["cat", "latest", "app/keep.txt"]).stdoutBytes.count == 3000)
            // Prune keeps the salvaged pack (it is indexed again) and every block stays readable.
            #expect(try cairn(copy, ["prune"]).status == 0)
            #expect(try cairn(copy, ["check", "--read-data"]).status == 0)
        }
    }

    @Test func pruneKeepsAnUnindexedPackWithADamagedTrailer() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        let pack = try #require(try packFiles(repo).first)
        // Two unindexed copies: one intact (every block indexed elsewhere: deleted), one with a
        // damaged footer (it may hold the only copy of a block: kept).
        let intact = repo + "/packs/11/" + String(repeating: "1", count: 32) + ".pack", damaged = repo + "/packs/22/" + String(repeating: "2", count: 32) + ".pack"
        #expect(try sh("mkdir -p \(repo)/packs/11 \(repo)/packs/22 && cp \(pack) \(intact) && cp \(pack) \(damaged) && chmod 644 \(damaged) && printf 'XXXXXXXX' | dd of=\(damaged) bs=1 seek=$(( $(stat -c %s \(damaged)) - 8 )) conv=notrunc 2>/dev/null").status == 0)
        let p = try cairn(repo, ["prune", "--grace", "0"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stderr.contains("kept unindexed pack \(damaged)"), "\(p.stderr)")
        #expect(FS.exists(damaged) && !FS.exists(intact) && FS.exists(pack))
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
    }

    @Test(.enabled(if: getuid() == 0, "needs root for a read-only bind mount"))
    func readOnlyRepositoryServesEveryReadingCommand() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        let ro = t.sub("ro")
        try FS.mkdirs(ro)
        guard try sh("mount --bind \(repo) \(ro) && mount -o remount,ro,bind \(ro)").status == 0 else { Issue.record("cannot bind-mount read-only"); return }
        defer { _ = try? sh("umount \(ro)") }
        for args in [["list"], ["show", "latest"], ["ls", "latest", "-r"], ["cat", "latest", "app/keep.txt"], ["diff", "latest", "latest"],
                     ["export", "latest", "--output", t.sub("out.zip")], ["check", "--read-data"], ["restore", "latest", "--to", t.sub("copy")]] {
            let r = try cairn(ro, args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        #expect(try fileSHA(t.sub("copy/app/keep.txt")) == (try fileSHA(repo + "/../live/keep.txt")))
        // Writing commands fail with one line, not a trap.
        expectCleanFailure(try cairn(ro, ["snapshot"]), nil, "snapshot on read-only")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
    func fullDiskLeavesNoOrphanPackAndRecoversWithoutPrune() throws {
        let t = TempDir(); defer { t.remove() }
        let mnt = t.sub("small")
        try FS.mkdirs(mnt)
        guard try sh("mount -t tmpfs -o size=12m tmpfs \(mnt)").status == 0 else { Issue.record("cannot mount tmpfs"); return }
        defer { _ = try? sh("umount \(mnt)") }
        let repo = mnt + "/repo"
        var rng = SeededBytes(seed: 9)
        try writeFile(t.sub("s/a.txt"), Array("a".utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        for i in 0..<3 { try writeFile(t.sub("s/big\(i).bin"), rng.bytes(5 << 20)) }
        #expect(try cairn(repo, ["snapshot"]).status == 16)
        // Every pack on disk is indexed: nothing holds the space.
        let chk = try cairn(repo, ["check"])
        #expect(!chk.stderr.contains("not indexed"), "\(chk.stderr)")
        #expect(((try? FS.list(repo + "/packs/tmp")) ?? []).isEmpty)
        #expect(((try? FS.list(repo + "/tmp")) ?? []).isEmpty, "no temporary of a failed put is left")
        try FS.removeTree(t.sub("s/big2.bin"))
        let s = try cairn(repo, ["snapshot"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
    }

    @Test func leftoversOfDeadProcessesAreRemoved() throws {
        let t = TempDir(); defer { t.remove() }
        let (repo, _) = try smallRepository(t)
        // Format 3 keeps temporaries in the per-host state folder.
        let tmp = stateFolder(repo) + "/tmp"
        let gone = try Child.spawn("/bin/true", [], stdout: t.sub("o"), stderr: t.sub("e"))
        let dead = gone.pid
        _ = gone.wait()
        let host = Leftovers.hostTag
        let names = ["sqlite-\(host)-\(dead)-12345-99", "import-spool-\(host)-\(dead)-1-2", "export-manifest-\(host)-\(dead)-1-3"]
        for n in names { try writeFile(tmp + "/" + n, [1, 2, 3]) }
        try writeFile(repo + "/packs/tmp/" + "ab" + "-\(host)-\(dead)-5-6.pack.tmp", [1])
        let mine = "sqlite-\(host)-\(getpid())-\(Leftovers.ownStart)-7"
        try writeFile(tmp + "/" + mine, [1])
        let foreign = "sqlite-cairn00000000-\(dead)-1-2"
        try writeFile(tmp + "/" + foreign, [1])
        #expect(try cairn(repo, ["list"]).status == 0)
        #expect(try FS.list(tmp).sorted() == [foreign, mine].sorted())
        #expect(try FS.list(repo + "/packs/tmp").isEmpty)
    }

    @Test func hangingCommandSiloIsKilledWithItsGroup() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        let pidFile = t.sub("pids")
        #expect(try cairn(repo, ["silo", "add", "hang", "--no-trial", "--command", "sleep 300 & echo $! > \(pidFile); sleep 300", "--filename", "x", "--timeout", "1"]).status == 0)
        let start = Date()
        let r = try cairn(repo, ["snapshot"])
        #expect(Date().timeIntervalSince(start) < 30)
        expectCleanFailure(r, 19, "timeout")
        #expect(r.stderr.contains("did not finish within 1"), "\(r.stderr)")
        let bg = try #require(Int32(String(decoding: try FS.readAll(pidFile), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        usleep(200_000)
        #expect(processGone(bg), "the command's background child survived")
        // The per-snapshot flag overrides the silo's timeout; a bad value is refused.
        expectCleanFailure(try cairn(repo, ["snapshot", "--timeout=-1"]), 18, "bad timeout")
        // cairn itself killed: the watchdog kills the command's group.
        #expect(try cairn(repo, ["silo", "add", "hang2", "--no-trial", "--command", "echo $$ > \(pidFile)2; sleep 300", "--filename", "y"]).status == 0)
        let c = try Child.spawn(cairnBinary(), ["snapshot", "--silo", "hang2", "--repo", repo], stdout: t.sub("o"), stderr: t.sub("e"))
        var waited = 0
        while !FS.exists(pidFile + "2") && waited < 100 { usleep(100_000); waited += 1 }
        usleep(200_000)
        let cmdPid = try #require(Int32(String(decoding: try FS.readAll(pidFile + "2"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        c.kill(SIGKILL)
        _ = c.wait()
        var gone = false
        for _ in 0..<50 where !gone { usleep(100_000); gone = processGone(cmdPid) }
        #expect(gone, "the command outlived cairn")
    }
}
