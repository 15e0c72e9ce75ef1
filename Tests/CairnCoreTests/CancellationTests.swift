// One cancellation token per operation (Support/Cancellation.swift): each kind of long work
// stops at its next check when its token is cancelled, and leaves the repository and the live
// files as they were. Each test cancels from inside the operation's own progress callback, so
// the cancel lands mid-run every time (no timing).

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct CancellationTests {
    static func stop(_ t: CancellationToken) { t.cancel(CairnError(.interrupted, "cancelled by the test")) }

    func expectCancelled<T>(_ what: String, _ body: () throws -> T) {
        do {
            _ = try body()
            Issue.record("\(what) finished although its token was cancelled")
        } catch let e as CairnError {
            #expect(e.code == .interrupted && e.message == "cancelled by the test", "\(what): \(e)")
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    /// A repository with one silo of `files` small files and one snapshot of it.
    func fixture(_ t: TempDir, files: Int = 60) throws -> (Repository, Snapshot) {
        var rng = SeededBytes(seed: 5)
        for i in 0..<files { try writeFile(t.sub("live/d\(i % 4)/f\(i).bin"), rng.bytes(3000 + i)) }
        let r = try makeRepository(t, silos: ["live": t.sub("live")])
        try r.lock(.shared, command: "test")
        return (r, try #require(try snapshot(r).snapshot))
    }

    @Test func theTokenIsPerOperationAndPerThread() throws {
        let a = CancellationToken(), b = CancellationToken()
        #expect(CancellationToken.current == nil)
        try a.run {
            #expect(CancellationToken.current === a)
            b.run { #expect(CancellationToken.current === b) }
            #expect(CancellationToken.current === a)
            CancellationTests.stop(b)
            try Cancellation.check() // b is cancelled, a is not: this operation goes on
        }
        #expect(throws: CairnError.self) { try b.run { try Cancellation.check() } }
        // Another thread does not see this thread's token.
        let seen = Locked(false)
        let t = Thread { seen.set(CancellationToken.current != nil) }
        b.run {
            t.start()
            while !t.isFinished { usleep(1000) }
        }
        #expect(seen.get == false)
        // Handlers run once, on cancel, and at once when it was already cancelled.
        let calls = Locked(0)
        let c = CancellationToken()
        _ = try? c.onCancel({ calls.with { $0 += 1 } }) { CancellationTests.stop(c); CancellationTests.stop(c) }
        _ = try? c.onCancel({ calls.with { $0 += 1 } }) {}
        #expect(calls.get == 2)
    }

    @Test func aCancelledSnapshotRecordsNothing() throws {
        let t = TempDir()
        defer { t.remove() }
        let (r, _) = try fixture(t)
        try writeFile(t.sub("live/new.bin"), Array(repeating: 7, count: 5000))
        let before = try r.snapshots().map(\.id)
        let token = CancellationToken()
        let s = Snapshotter(repository: r, options: SnapshotOptions())
        s.onProgress = { p in if p.files == 10 { CancellationTests.stop(token) } }
        expectCancelled("snapshot") { try token.run { try s.run() } }
        #expect(try r.snapshots().map(\.id) == before)
        #expect(try r.check(readData: true).ok)
    }

    @Test func aCancelledRestoreLeavesTheLiveFilesWhollyOld() throws {
        let t = TempDir()
        defer { t.remove() }
        let (r, snap) = try fixture(t)
        // The live files change after the snapshot; a restore would put the old ones back.
        for i in 0..<60 { try writeFile(t.sub("live/d\(i % 4)/f\(i).bin"), Array(repeating: UInt8(i), count: 100)) }
        try writeFile(t.sub("live/added.txt"), Array("only live".utf8))
        let live = try digestTree(t.sub("live"))
        let snapshots = try r.snapshots().count
        let token = CancellationToken()
        var o = RestoreOptions()
        o.force = true
        let restorer = Restorer(repository: r, options: o)
        restorer.onProgress = { c in if c.files == 20 { CancellationTests.stop(token) } }
        expectCancelled("restore") { try token.run { try restorer.run(snap.id) } }
        #expect(try digestTree(t.sub("live")) == live, "every live file is as it was")
        #expect(try restoreLeftovers(in: t.path).isEmpty, "no staging tree is left beside the silo")
        #expect(try r.snapshots().count == snapshots, "no safety snapshot: the restore stopped while staging")
        // The next restore (not cancelled) works and puts the snapshot back.
        let done = try Restorer(repository: r, options: o).run(snap.id)
        #expect(done.silos.count == 1)
        #expect(try digestTree(t.sub("live")) != live)
    }

    @Test func aCancelledImportLeavesNoSnapshot() throws {
        let t = TempDir()
        defer { t.remove() }
        let (r, snap) = try fixture(t)
        let zip = t.sub("export.zip")
        _ = try SnapshotExporter(repository: r, snapshot: snap, options: ExportOptions(compression: .store)).export(toFile: zip)
        // Into a second repository, so that every block is new there.
        let other = try Repository.create(at: t.sub("other"))
        try other.lock(.shared, command: "test")
        let token = CancellationToken()
        let importer = SnapshotImporter(repository: other)
        importer.onProgress = { files, _ in if files >= 5 { CancellationTests.stop(token) } }
        expectCancelled("import") { try token.run { try importer.run(archive: zip) } }
        #expect(try other.snapshots().isEmpty, "nothing is recorded")
        #expect(try other.check(readData: true).ok)
        let res = try SnapshotImporter(repository: other).run(archive: zip)
        #expect(try other.snapshots().map(\.id) == [res.snapshot])
    }

    @Test func aCancelledExportStops() throws {
        let t = TempDir()
        defer { t.remove() }
        let (r, snap) = try fixture(t)
        let token = CancellationToken()
        token.cancel(CairnError(.interrupted, "cancelled by the test"))
        let zip = t.sub("export.zip")
        expectCancelled("export") {
            try token.run { try SnapshotExporter(repository: r, snapshot: snap, options: ExportOptions(compression: .store)).export(toFile: zip) }
        }
        #expect(!FS.exists(zip), "no partial archive")
    }

    @Test func aCancelledCheckStops() throws {
        let t = TempDir()
        defer { t.remove() }
        let (r, _) = try fixture(t, files: 1500)
        let token = CancellationToken()
        expectCancelled("check --read-data") {
            try token.run { try r.check(readData: true) { n, _ in if n >= 1000 { CancellationTests.stop(token) } } }
        }
        let pre = CancellationToken()
        pre.cancel(CairnError(.interrupted, "cancelled by the test"))
        expectCancelled("check") { try pre.run { try r.check(readData: false) } }
        #expect(try r.check(readData: true).ok)
    }

    @Test func aCancelledPruneLeavesTheRepositoryWhole() throws {
        let t = TempDir()
        defer { t.remove() }
        let (r, first) = try fixture(t)
        // Half the files change: the first snapshot's pack is half unused after forget, so it is repacked.
        var rng = SeededBytes(seed: 9)
        for i in 0..<30 { try writeFile(t.sub("live/d\(i % 4)/f\(i).bin"), rng.bytes(3000 + i)) }
        let second = try #require(try snapshot(r).snapshot)
        _ = try r.forget(ids: [first.id])
        try r.lock(.exclusive, command: "test")
        let token = CancellationToken()
        var repacking = false
        expectCancelled("prune") {
            try token.run {
                try r.prune(PruneOptions(maxUnusedPercent: 0)) { phase, _, _ in
                    if phase == "repack" { repacking = true; CancellationTests.stop(token) }
                }
            }
        }
        #expect(repacking, "the prune reached its repack phase")
        #expect(try r.check(readData: true).ok)
        #expect(try r.snapshots().map(\.id) == [second.id])
        _ = try r.prune(PruneOptions(maxUnusedPercent: 0))
        #expect(try r.check(readData: true).ok)
    }
}

/// A value shared between threads in these tests.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    var get: T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func with<R>(_ f: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return f(&value) }
}
