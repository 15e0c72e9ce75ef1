// The index cache of a format-3 repository lives outside it and is rebuilt from the index
// objects alone: with an empty cache, opening, listing, diffing and restoring read no pack
// trailer and no whole pack, only the index objects, the snapshot records and the ranges of
// the blocks an operation needs (counted by type through `CountingBackend`).

import CairnCore
import CairnStorage
import CairnTestSupport
import Foundation
import Testing

@Suite struct CacheTests {
    /// A format-3 repository over a local folder with two snapshots of silo "s"; returns the
    /// backend, the snapshot ids and the total pack bytes.
    func twoSnapshots(_ t: TempDir) throws -> (LocalBackend, [String], UInt64) {
        var rng = SeededBytes(seed: 12)
        try writeFile(t.sub("s/big.bin"), rng.bytes(600_000))
        try writeFile(t.sub("s/small.txt"), Array("one\n".utf8))
        try FS.mkdirs(t.sub("repo"))
        let local = LocalBackend(path: t.sub("repo"))
        let r = try Repository.create(backend: local, cache: t.sub("cache1"), state: t.sub("state"))
        try r.addSilo(Silo(name: "s", path: t.sub("s")))
        let first = try Snapshotter(repository: r, options: SnapshotOptions()).run().snapshot!.id
        try writeFile(t.sub("s/small.txt"), Array("two\n".utf8))
        try writeFile(t.sub("s/new.txt"), Array("new\n".utf8))
        let second = try Snapshotter(repository: r, options: SnapshotOptions()).run().snapshot!.id
        let packBytes = try r.index.packList().reduce(UInt64(0)) { $0 + $1.size }
        return (local, [first, second], packBytes)
    }

    @Test func emptyCacheListsDiffsAndRestoresFromIndexObjects() throws {
        let t = TempDir(); defer { t.remove() }
        let (local, ids, packBytes) = try twoSnapshots(t)
        let packs = try BlockingBridge.run { try await local.listAll(.pack) }.count
        let counting = CountingBackend(local)
        let r = try Repository(backend: counting, cache: t.sub("cache-empty"), state: t.sub("state"))
        // Opening with an empty cache read every index object and snapshot record, no pack.
        #expect(counting.reads(.index).whole == packs)
        #expect(counting.reads(.snapshot).whole == 2)
        #expect(counting.reads(.pack).whole == 0 && counting.reads(.pack).bytes == 0)
        #expect(try r.snapshots().map(\.id) == ids)
        #expect(counting.reads(.pack).bytes == 0, "list reads no pack data")

        let d = try r.diff(ids[0], ids[1])
        #expect(d.report.totals.filesAdded == 1 && d.report.totals.filesModified == 1, "\(d.report.totals)")
        let afterDiff = counting.reads(.pack)
        #expect(afterDiff.whole == 0 && afterDiff.bytes < packBytes / 4, "diff reads tree blocks only: \(afterDiff.bytes) of \(packBytes) bytes")

        var o = RestoreOptions()
        o.to = t.sub("out")
        _ = try Restorer(repository: r, options: o).run(ids[1])
        #expect(try fileSHA(t.sub("out/s/big.bin")) == fileSHA(t.sub("s/big.bin")))
        #expect(try FS.readAll(t.sub("out/s/small.txt")) == Array("two\n".utf8))
        #expect(counting.reads(.pack).whole == 0, "blocks are read by range, never whole packs")

        // The cache is now up to date: the next open reads no index object or record again.
        counting.reset()
        let again = try Repository(backend: counting, cache: t.sub("cache-empty"), state: t.sub("state"))
        #expect(try again.snapshots().count == 2)
        #expect(counting.reads(.index).whole == 0 && counting.reads(.snapshot).whole == 0)
    }

    @Test func packsPrunedByAnotherMachineLeaveTheCache() throws {
        let t = TempDir(); defer { t.remove() }
        let (local, ids, _) = try twoSnapshots(t)
        // Machine B's cache knows both snapshots and every pack.
        let b = try Repository(backend: local, cache: t.sub("cache-b"), state: t.sub("state-b"))
        #expect(try b.snapshots().count == 2)
        // Machine A forgets the first snapshot and prunes.
        let a = try Repository(backend: local, cache: t.sub("cache1"), state: t.sub("state"))
        try a.lock(.exclusive, command: "test")
        _ = try a.forget(ids: [ids[0]])
        _ = try a.prune(PruneOptions(maxUnusedPercent: 0, dryRun: false))
        a.unlock()
        // B's next open drops the forgotten record and the pruned packs, and still restores.
        let b2 = try Repository(backend: local, cache: t.sub("cache-b"), state: t.sub("state-b"))
        #expect(try b2.snapshots().map(\.id) == [ids[1]])
        #expect(try Set(b2.index.packList().map(\.name)) == Set(try BlockingBridge.run { try await local.listAll(.index) }.map(\.handle.name)))
        #expect(try b2.check(readData: true).ok)
    }
}
