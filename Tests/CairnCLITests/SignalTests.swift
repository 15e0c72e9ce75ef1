import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM end a long snapshot and a long export cleanly: one line, exit 130/143,
/// no partial archive, no lock info, nothing in the repository's tmp folders, and the
/// repository still checks clean.
@Suite(.serialized) struct SignalTests {
    func leftovers(_ repo: String) -> [String] {
        ["locks", "tmp", "packs/tmp"].flatMap { d in ((try? FS.list(repo + "/" + d)) ?? []).map { d + "/" + $0 } }
    }

    /// Waits until `path` (a file, or a non-empty folder) exists, up to 30 s.
    func waitFor(_ cond: () -> Bool) -> Bool {
        for _ in 0..<3000 { if cond() { return true }; usleep(10_000) }
        return false
    }

    /// Starts `cairn args`, sends `sig` once `ready` holds, and returns (status, stderr).
    func interrupt(_ args: [String], _ sig: Int32, io: TempDir, ready: () -> Bool) throws -> (Int32, String) {
        let c = try Child.spawn(cairnBinary(), args, stdout: io.sub("out"), stderr: io.sub("err"))
        let started = waitFor(ready)
        #expect(started, "\(args): never got going")
        c.kill(sig)
        let start = Date()
        let status = c.wait()
        // Stopped at a cancellation check, not by the 10 s fallback of the signal thread.
        #expect(Date().timeIntervalSince(start) < 5, "\(args) took \(Date().timeIntervalSince(start)) s to stop")
        return (status, String(decoding: (try? FS.readAll(io.sub("err"))) ?? [], as: UTF8.self))
    }

    @Test func snapshotAndExportStopCleanly() throws {
        let t = TempDir(); defer { t.remove() }
        var rng = SeededBytes(seed: 130)
        for i in 0..<48 { try writeFile(t.sub("s/f\(i).bin"), rng.bytes(4 << 20)) }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        // Snapshot: a path silo, stopped once packs are being written (SIGTERM, in the chunk loop).
        func packs() -> Int { ((try? FS.list(repo + "/packs")) ?? []).filter { $0.utf8.count == 2 }.count }
        let (st1, err1) = try interrupt(["snapshot", "--repo", repo], SIGTERM, io: t, ready: { packs() > 0 })
        #expect(st1 == 143, "\(err1)")
        #expect(err1 == "cairn: terminated\n", "\(err1)")
        #expect(leftovers(repo) == [])
        #expect(try listSnapshotIds(repo).isEmpty)
        // A command silo blocked in its command: SIGINT stops the command too.
        #expect(try cairn(repo, ["silo", "add", "slow", "--no-trial", "--command", "head -c 3000000 /dev/urandom; exec sleep 60", "--filename", "x"]).status == 0)
        let (st2, err2) = try interrupt(["snapshot", "--silo", "slow", "--repo", repo], SIGINT, io: t, ready: {
            ((try? FS.list(repo + "/locks")) ?? []).contains { $0.hasSuffix(".lock") }
        })
        #expect(st2 == 130)
        #expect(err2 == "cairn: interrupted\n", "\(err2)")
        #expect(leftovers(repo) == [])
        #expect(try cairn(repo, ["silo", "remove", "slow"]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        // Export (deflate, slow enough to catch), with SIGINT and with SIGTERM: no FILE.partial, no FILE.
        for (sig, code, line) in [(SIGINT, Int32(130), "cairn: interrupted\n"), (SIGTERM, Int32(143), "cairn: terminated\n")] {
            let zip = t.sub("out-\(sig).zip")
            let (st, err) = try interrupt(["export", "latest", "--compression", "deflate", "--level", "9", "-o", zip, "--repo", repo], sig, io: t,
                                          ready: { ((try? FS.lstat(zip + ".partial").size) ?? 0) > 1 << 20 })
            #expect(st == code, "\(err)")
            #expect(err == line, "\(err)")
            #expect(!FS.exists(zip + ".partial") && !FS.exists(zip))
            #expect(leftovers(repo) == [])
        }
        // Under --json the interruption is the error object.
        let zip = t.sub("json.zip")
        let c = try Child.spawn(cairnBinary(), ["export", "latest", "--compression", "deflate", "-o", zip, "--repo", repo, "--json"], stdout: t.sub("jout"))
        #expect(waitFor { ((try? FS.lstat(zip + ".partial").size) ?? 0) > 1 << 20 })
        c.kill(SIGINT)
        #expect(c.wait() == 130)
        let last = String(decoding: try FS.readAll(t.sub("jout")), as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        #expect(parseJSON(last)?["code"]?.string == "interrupted", "\(last)")
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        #expect(leftovers(repo) == [])
    }
}
