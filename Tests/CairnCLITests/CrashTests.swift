import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at random moments of snapshots: the repository always checks clean, an
/// interrupted snapshot is wholly present or absent, and the next snapshot succeeds.
@Suite struct CrashTests {
    @Test func killNineDuringSnapshots() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        var rng = SeededBytes(seed: 21)
        for i in 0..<300 { try writeFile(t.sub("s/d\(i % 10)/f\(i)"), rng.bytes(rng.int(60_000))) }
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        var completed = 0, interrupted = 0
        for round in 0..<24 {
            // New work each round: a fresh 12 MiB file and a few rewritten ones.
            try writeFile(t.sub("s/round\(round).bin"), rng.bytes(12 << 20))
            for _ in 0..<5 { try writeFile(t.sub("s/d\(rng.int(10))/f\(rng.int(300))"), rng.bytes(30_000)) }
            let before = try snapshotIds(repo)
            let p = try Child.spawn(cairnBinary(), ["snapshot", "--repo", repo])
            // Half the rounds kill early, half late enough for some snapshots to complete; every
            // eighth round lets the snapshot run up to 60 s first (under CI load a 12 MiB
            // snapshot can take longer than the late kill, and the loop must see completions).
            if round % 8 == 7 {
                let end = Date().addingTimeInterval(60)
                while Date() < end, try snapshotIds(repo).count == before.count { usleep(200_000) }
            } else {
                usleep(UInt32(round % 2 == 0 ? rng.int(250_000) : rng.int(3_000_000)))
            }
            p.kill()
            p.wait()
            let after = try snapshotIds(repo)
            let added = after.subtracting(before)
            #expect(added.count <= 1)
            if added.isEmpty { interrupted += 1 } else { completed += 1 }
            let chk = try cairn(repo, ["check", "--read-data"])
            #expect(chk.status == 0, "round \(round): \(chk.stdout) \(chk.stderr)")
            // A recorded snapshot is complete: every file of it reads back.
            if let id = added.first {
                let ls = try cairn(repo, ["ls", "--recursive", "--json", id, "s"])
                #expect(ls.status == 0)
                #expect(try cairn(repo, ["cat", id, "s/round\(round).bin"]).stdoutBytes.count == 12 << 20)
            }
        }
        print("FIGURE kill -9 loop: \(completed) snapshots completed, \(interrupted) interrupted, all checked clean")
        let final = try cairn(repo, ["snapshot"])
        #expect(final.status == 0)
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        #expect(interrupted >= 3)
        #expect(completed >= 1)
    }

    func snapshotIds(_ repo: String) throws -> Set<String> {
        let r = try cairn(repo, ["list", "--json"])
        let arr = try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [[String: Any]] ?? []
        return Set(arr.compactMap { $0["id"] as? String })
    }
}
