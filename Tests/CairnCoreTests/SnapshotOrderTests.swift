// Imports are data, not authority: an imported snapshot is never a parent (ParentSelection),
// cannot order itself after its import or in the future (SnapshotOrder: `latest`, retention),
// and `latest` skips pre-restore safety snapshots while `latest:TAG` reaches them.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SnapshotOrderTests {
    /// A record like a local one, with the given time, host, tags and import origin.
    func record(_ base: Snapshot, timeNs: Int64, host: String? = nil, tags: [String] = [], imported: ImportOrigin? = nil, source: String? = nil) -> SnapshotRecord {
        var r = base.record
        r.timeNs = timeNs
        r.hostname = host ?? r.hostname
        r.tags = tags
        r.imported = imported
        r.message = "test \(timeNs) \(tags)"
        if let source { r.silos[0].source = source }
        return r
    }

    @Test func importedSnapshotsAreNeverParents() throws {
        let t = TempDir("cairn-parent"); defer { t.remove() }
        for i in 0..<20 { try writeFile(t.sub("live/f\(i).txt"), Array("file \(i)\n".utf8)) }
        let repo = try makeRepository(t, silos: ["s": t.sub("live")])
        let first = try snapshot(repo)
        #expect(first.filesRead == 20)
        // A foreign ZIP imported as the same silo name: newer, but its inodes and ctimes are zero.
        try writeFile(t.sub("s.zip"), ZipRaw((0..<20).map { ZipRaw.Entry("s/f\($0).txt", "file \($0)\n") }).build())
        let imported = try SnapshotImporter(repository: repo).run(archive: t.sub("s.zip"))
        #expect(try repo.resolve(imported.snapshot).record.imported?.archive == "s.zip")
        // The next snapshot still compares against the local one: nothing is read again.
        let second = try snapshot(repo)
        #expect(second.filesRead == 0, "files read again: the imported snapshot was used as parent")

        let snaps = try repo.snapshots()
        let local = try #require(first.snapshot)
        let silo = try repo.silo("s")
        let now = SnapshotOrder.nowNs()
        // Not from an import, another host, or another source path, however new.
        try repo.saveSnapshot(record(local, timeNs: now - 1, imported: ImportOrigin(archive: "x.zip", importedAtNs: now - 1)))
        try repo.saveSnapshot(record(local, timeNs: now - 2, host: "elsewhere"))
        try repo.saveSnapshot(record(local, timeNs: now - 3, source: "/somewhere/else"))
        let parent = ParentSelection.parent(for: silo, in: try repo.snapshots())
        #expect(parent?.tree == second.snapshot?.record.silos[0].tree)
        #expect(ParentSelection.parent(for: silo, in: snaps.filter { $0.record.imported != nil }) == nil)
    }

    @Test func futureTimesDoNotSteerLatestOrRetention() throws {
        let t = TempDir("cairn-order"); defer { t.remove() }
        try writeFile(t.sub("live/a.txt"), Array("a\n".utf8))
        let repo = try makeRepository(t, silos: ["s": t.sub("live")])
        let local = try #require(try snapshot(repo).snapshot)
        let now = SnapshotOrder.nowNs()
        let hour: Int64 = 3_600_000_000_000
        // An import that claims the year 2255 but was imported an hour before the local snapshot.
        let forged = try repo.saveSnapshot(record(local, timeNs: 9_000_000_000_000_000_000,
                                                  imported: ImportOrigin(archive: "forged.zip", importedAtNs: local.record.timeNs - hour)))
        #expect(try repo.resolve("latest").id == local.id)
        #expect(SnapshotOrder.orderTime(forged, now: now) == local.record.timeNs - hour)
        // A non-imported record from the future is clamped to now.
        let skewed = Snapshot(id: "x", record: record(local, timeNs: .max))
        #expect(SnapshotOrder.orderTime(skewed, now: now) == now)
        // Retention keeps the real snapshot: the forged one is ordered at its import.
        let kept = try repo.forget(policy: RetentionPolicy(keepLast: 1), dryRun: true)
        #expect(kept.decisions.first { $0.id == local.id }?.keep == true)
        #expect(kept.decisions.first { $0.id == forged.id }?.keep == false)
        // `within` is measured from the newest order time, not from 2255.
        let within = try repo.forget(policy: RetentionPolicy(keepWithin: KeepDuration(days: 1)), dryRun: true)
        let allKept = within.decisions.allSatisfy { $0.keep }
        #expect(allKept, "\(within.decisions)")
    }

    @Test func latestSkipsSafetySnapshotsAndLatestTagReachesThem() throws {
        let t = TempDir("cairn-latest"); defer { t.remove() }
        try writeFile(t.sub("live/a.txt"), Array("a\n".utf8))
        let repo = try makeRepository(t, silos: ["s": t.sub("live")])
        let local = try #require(try snapshot(repo, tags: ["hourly"]).snapshot)
        let safety = try repo.saveSnapshot(record(local, timeNs: local.record.timeNs + 1, tags: [RetentionPolicy.safetyTag]))
        #expect(try repo.resolve("latest").id == local.id)
        #expect(try repo.resolve("latest:\(RetentionPolicy.safetyTag)").id == safety.id)
        #expect(try repo.resolve("latest:hourly", silo: "s").id == local.id)
        #expect(throws: CairnError.self) { try repo.resolve("latest:nope") }
        #expect(throws: CairnError.self) { try repo.resolve("latest:") }
        // Only safety snapshots: `latest` says how to reach them.
        try repo.deleteSnapshot(local.id)
        do {
            _ = try repo.resolve("latest")
            Issue.record("latest resolved to a safety snapshot")
        } catch let e as CairnError {
            #expect(e.code == .notFound && e.message.contains("latest:pre-restore"), "\(e.message)")
        }
    }
}
