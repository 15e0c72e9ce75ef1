import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two-phase deletion: a prune only marks the packs it finds unreferenced; a later prune deletes
/// them once the mark is older than the grace period, unless a snapshot reused their blocks
/// meanwhile (which un-marks them).
@Suite struct PruneGraceTests {
    func prune(_ repo: String, grace: String) throws -> [String: Any] {
        let p = try cairn(repo, ["prune", "--grace", grace, "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        return jsonFields(p)
    }

    @Test func unreferencedPacksAreMarkedFirstAndDeletedByALaterPruneAfterTheGracePeriod() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        var rng = SeededBytes(seed: 3)
        let data = rng.bytes(3 << 20)
        try writeFile(t.sub("s/one.bin"), data)
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        let first = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--json"])))
        #expect(try cairn(repo, ["forget", first]).status == 0)
        let before = try packBytesOnDisk(repo)

        // 1. The first prune marks and deletes nothing.
        let p1 = try prune(repo, grace: "3")
        #expect(p1["packsMarked"] as? Int ?? 0 >= 1 && p1["bytesFreed"] as? UInt64 == 0, "\(p1)")
        #expect(try packBytesOnDisk(repo) == before)
        #expect(try FS.list(repo + "/markers").count == 1)
        // 2. A snapshot of the same data again reuses the marked pack's blocks (their index rows
        //    stay until the pack goes): nothing new is stored, and the next prune un-marks it.
        let again = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--json"])))
        #expect(try packBytesOnDisk(repo) - before < 64 << 10, "the marked blocks were reused")
        sleep(4)
        let p2 = try prune(repo, grace: "3")
        #expect(p2["packsMarked"] as? Int == 0 && p2["bytesFreed"] as? UInt64 == 0, "\(p2)")
        let dir = t.sub("restored")
        #expect(try cairn(repo, ["restore", again, "--to", dir]).status == 0)
        #expect(try FS.readAll(dir + "/s/one.bin") == data)
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)

        // 3. Forgotten again: marked now (a fresh mark), not deleted though the grace period is short...
        #expect(try cairn(repo, ["forget", again]).status == 0)
        let p3 = try prune(repo, grace: "3")
        #expect(p3["packsMarked"] as? Int ?? 0 >= 1 && p3["bytesFreed"] as? UInt64 == 0, "\(p3)")
        // ...nor by a prune before the mark is 3 s old...
        let p4 = try prune(repo, grace: "3")
        #expect(p4["bytesFreed"] as? UInt64 == 0, "\(p4)")
        // ...and deleted by the first prune after it.
        sleep(4)
        let p5 = try prune(repo, grace: "3")
        #expect(p5["packsMarked"] as? Int == 0 && (p5["bytesFreed"] as? UInt64 ?? 0) >= UInt64(data.count), "\(p5)")
        #expect(try packBytesOnDisk(repo) < 64 << 10)
        #expect(try FS.list(repo + "/markers").count == 1, "superseded markers are removed")
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        print("FIGURE prune grace: marked \(p1["bytesMarked"] ?? 0) B, un-marked by a reusing snapshot, deleted \(p5["bytesFreed"] ?? 0) B after 3 s")
    }
}
