// Prune: deletes blocks no snapshot references and repacks packs that are mostly dead.
//
// Owns: `cairn prune` and two-phase deletion (PruneMarker.swift: a pack found unreferenced is
// marked and deleted by a later prune once the mark is older than the grace period and the pack
// is still unreferenced). It runs only under the exclusive repository lock. Every snapshot,
// read, export and restore holds the shared lock for its whole run, so no snapshot can
// start, dedup against a block, or finish while prune runs: a block prune deletes cannot
// be wanted by a snapshot being written (impossible, not unlikely).
//
// Order (crash properties):
//   0. adopt record files the index lacks, finish interrupted forgets
//   1. mark: walk every snapshot's trees and content lists into a TEMP table   nothing written
//   2. plan: per pack, live blocks and bytes (SQL over the index)              nothing written
//   3. write new packs with the live blocks of sparse packs, each durable      new packs unindexed
//   4. put a marker object: unreferenced packs with the time first found so    nothing deleted
//   5. ONE index transaction: add new packs, repoint moved blocks, delete the
//      rows of packs whose mark aged past the grace period                     those packs unindexed
//   6. delete those pack files and aged unindexed (orphan) pack files, then older markers
// A crash before 4 leaves the old index intact and the new packs as orphans; a crash after
// 4 leaves old packs as orphans. Orphans hold only copies, `check` warns about them and the
// next prune deletes them. An index row never points at a deleted pack.

import Foundation
import CairnStorage
#if canImport(Glibc)
import Glibc
#endif

/// What `cairn prune` does.
public struct PruneOptions: Sendable {
    /// A pack is repacked when more than this percentage of its bytes is unused. With the
    /// default 10, at most 10% of the repository's pack bytes stay unused after a prune.
    public var maxUnusedPercent: Double = 10
    /// Plan and report only; change nothing.
    public var dryRun = false
    /// Seconds a pack stays marked unreferenced before it may be deleted (nil: the repository's
    /// `pruneGraceSeconds`, else `PruneGrace.defaultSeconds`; 0 deletes at once: one writer only).
    public var graceSeconds: Double?
    public init(maxUnusedPercent: Double = 10, dryRun: Bool = false, graceSeconds: Double? = nil) {
        self.maxUnusedPercent = maxUnusedPercent
        self.dryRun = dryRun
        self.graceSeconds = graceSeconds
    }
}

/// The outcome of a prune (planned figures on a dry run).
public struct PruneReport: Codable, Sendable {
    public var dryRun: Bool
    public var snapshots = 0
    public var packsBefore = 0
    public var packBytesBefore: UInt64 = 0
    public var blocksBefore = 0
    /// Blocks reachable from some snapshot.
    public var liveBlocks = 0
    /// Index rows of unreachable blocks, and their stored bytes, before prune.
    public var deadBlocks = 0
    public var deadBytes: UInt64 = 0
    /// Packs with no live block, deleted whole.
    public var packsDeleted = 0
    /// Packs whose live blocks were copied into new packs, then deleted.
    public var packsRepacked = 0
    /// New packs written by the repack.
    public var packsWritten = 0
    /// Unindexed pack files kept because they may hold the only copy of a block (run `cairn check --rebuild-index`).
    public var orphanPacksKept: [String] = []
    /// Pack files no index row named (left by an interrupted write or prune), deleted.
    public var orphanPacksDeleted = 0
    /// Stored bytes of live blocks copied into new packs.
    public var bytesRepacked: UInt64 = 0
    /// Pack bytes deleted minus new pack bytes written: what the repository shrank by.
    public var bytesFreed: UInt64 = 0
    /// Index rows deleted.
    public var blocksRemoved = 0
    public var packsAfter = 0
    public var packBytesAfter: UInt64 = 0
    /// Unused bytes left in packs that were kept (below the --max-unused threshold).
    public var unusedBytesAfter: UInt64 = 0
    /// The grace period used, in seconds.
    public var graceSeconds: Double = 0
    /// Unreferenced packs left marked (two-phase deletion): a later prune deletes them once their
    /// mark is older than the grace period, unless a snapshot uses one of their blocks again.
    public var packsMarked = 0
    public var bytesMarked: UInt64 = 0
}

extension Repository {
    /// Prunes the repository. The caller must hold the exclusive lock (`lock(.exclusive, ...)`).
    /// `progress` gets (phase, done, total) now and then.
    public func prune(_ options: PruneOptions, progress: ((String, Int, Int) -> Void)? = nil) throws -> PruneReport {
        guard lock?.mode == .exclusive else {
            throw CairnError(.internalError, "prune needs the exclusive repository lock; take it with lock(.exclusive, ...) first")
        }
        guard options.maxUnusedPercent >= 0, options.maxUnusedPercent <= 100 else {
            throw CairnError(.invalidInput, "--max-unused must be a percentage from 0 to 100, not \(options.maxUnusedPercent)")
        }
        let grace = options.graceSeconds ?? config.pruneGraceSeconds ?? PruneGrace.defaultSeconds
        guard grace.isFinite, grace >= 0, grace <= 1e9 else {
            throw CairnError(.invalidInput, "the prune grace period must be 0 to 1e9 seconds, not \(grace)")
        }
        var report = PruneReport(dryRun: options.dryRun)
        report.graceSeconds = grace
        if !options.dryRun {
            // Records written by a snapshot that died before indexing them are adopted now,
            // under the exclusive lock, so that their blocks are marked.
            try adoptSnapshotFiles()
            try finishForgets()
            (storage as? BackendPackStorage)?.cleanTemporaries()
        }
        let indexed = try index.packList()
        let onDisk = Set(try storage.list())
        for p in indexed where !onDisk.contains(p.name) {
            throw CairnError(.integrity, "pack \(storage.displayPath(p.name)) is in the index but missing; prune changes nothing in a damaged repository: run `cairn check --read-data` first", path: storage.displayPath(p.name))
        }
        // An unindexed pack is deleted only when its trailer reads and every block it holds is
        // indexed elsewhere: one with a damaged trailer, or with a block found nowhere else,
        // may hold the only copy of a referenced block (`check --rebuild-index` salvages it).
        var orphans: [String] = []
        for o in onDisk.subtracting(indexed.map(\.name)).sorted() {
            guard let entries = try? PackFormat.readTrailer(storage, pack: o),
                  try entries.allSatisfy({ try index.contains($0.id) }) else {
                report.orphanPacksKept.append(storage.displayPath(o))
                continue
            }
            orphans.append(o)
        }
        report.packsBefore = indexed.count
        report.packBytesBefore = indexed.reduce(0) { $0 + $1.size } + orphans.reduce(0) { $0 + ((try? storage.size(of: $1)) ?? 0) }

        try index.pruneCreateTables()
        defer { index.pruneDropTables() }
        let snaps = try snapshots()
        report.snapshots = snaps.count
        try markLive(snaps, progress: progress)
        let missing = try index.pruneMissingLive(limit: 5)
        if !missing.isEmpty {
            throw CairnError(.integrity, "snapshots need blocks the index lacks (\(missing.map { String($0.hex.prefix(16)) }.joined(separator: ", "))...); prune changed nothing: run `cairn check --read-data`")
        }

        let usage = try index.prunePackUsage()
        let dead = try index.pruneDeadTotals()
        report.deadBlocks = dead.blocks
        report.deadBytes = dead.stored
        report.blocksBefore = usage.reduce(0) { $0 + $1.rows }
        report.liveBlocks = usage.reduce(0) { $0 + $1.liveBlocks }
        var deleteWhole: [PackUsage] = []
        var repack: [PackUsage] = []
        var keep: [PackUsage] = []
        for u in usage {
            if u.liveBlocks == 0 {
                deleteWhole.append(u)
            } else if Double(u.unusedBytes) * 100 > options.maxUnusedPercent * Double(u.size) {
                repack.append(u)
            } else {
                keep.append(u)
            }
        }
        // Two-phase deletion (PruneMarker.swift): unreferenced packs are deleted only once their
        // mark is older than the grace period; repacked packs are unreferenced from now on.
        let now = Date().timeIntervalSince1970
        let (previous, oldMarkers) = try loadPruneMarks()
        let sizes = Dictionary(usage.map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        let orphanSizes = Dictionary(orphans.map { ($0, (try? storage.size(of: $0)) ?? 0) }, uniquingKeysWith: { a, _ in a })
        var (deleteNow, marks) = PruneMarker.plan(candidates: Set(deleteWhole.map(\.name) + orphans), previous: previous, now: now, grace: grace)
        let repackMarks = PruneMarker.plan(candidates: Set(repack.map(\.name)), previous: [:], now: now, grace: grace)
        marks.merge(repackMarks.keep) { a, _ in a }
        let deleteRepacked = repackMarks.delete
        deleteWhole = deleteWhole.filter { deleteNow[$0.name] != nil }
        orphans = orphans.filter { deleteNow[$0] != nil }
        deleteNow.merge(deleteRepacked) { a, _ in a }
        report.packsMarked = marks.count
        report.bytesMarked = marks.keys.reduce(0) { $0 + (sizes[$1] ?? orphanSizes[$1] ?? 0) }
        report.packsDeleted = deleteWhole.count
        report.packsRepacked = repack.count
        report.orphanPacksDeleted = orphans.count
        report.unusedBytesAfter = keep.reduce(0) { $0 + $1.unusedBytes }
        let deletedBytes = deleteWhole.reduce(0) { $0 + $1.size } + repack.filter { deleteRepacked[$0.name] != nil }.reduce(0) { $0 + $1.size }
            + orphans.reduce(0) { $0 + (orphanSizes[$1] ?? 0) }
        let liveInRepacked = repack.reduce(UInt64(0)) { $0 + $1.liveStored }
        report.bytesRepacked = liveInRepacked

        if options.dryRun {
            // Planned figures: new packs hold the live bytes plus their trailers.
            let liveCount = repack.reduce(0) { $0 + $1.liveBlocks }
            let estimate = liveInRepacked + UInt64(liveCount * PackFormat.entrySize)
            report.bytesFreed = deletedBytes > estimate ? deletedBytes - estimate : 0
            report.blocksRemoved = (deleteWhole + repack.filter { deleteRepacked[$0.name] != nil }).reduce(0) { $0 + $1.rows - $1.liveBlocks }
            report.packsAfter = keep.count + (liveInRepacked > 0 ? Int((liveInRepacked + UInt64(config.packTargetSize) - 1) / UInt64(config.packTargetSize)) : 0)
            report.packBytesAfter = report.packBytesBefore - report.bytesFreed
            return report
        }

        // 3. Copy live blocks of sparse packs into new, durable packs.
        let copier = PackCopier(storage: storage, index: index, targetSize: config.packTargetSize)
        for (i, u) in repack.enumerated() {
            progress?("repack", i, repack.count)
            try Cancellation.check()
            try copier.copyLive(from: u)
        }
        try copier.seal()
        report.packsWritten = copier.written.count
        let writtenBytes = copier.written.reduce(0) { $0 + $1.size }

        // 4. The marks (with the packs about to be deleted, so that a crash before their files go
        // leaves orphans the next prune deletes at once) are durable before anything is deleted.
        let gone = deleteWhole + repack.filter { deleteRepacked[$0.name] != nil }
        var newMarker: ObjectHandle?
        if !marks.isEmpty || !deleteNow.isEmpty {
            newMarker = try writePruneMarker(marks.merging(deleteNow) { a, _ in a }, now: now)
        }
        // 5. One transaction switches the index to the new packs; rows of marked packs stay, so
        // a snapshot can still reuse their blocks (which un-marks them).
        report.blocksRemoved = try index.pruneCommit(newPacks: copier.written, oldPacks: gone.map(\.id))

        // 6. Only now delete files no index row names, then the superseded markers.
        for u in gone { try storage.remove(u.name) }
        for o in orphans { try storage.remove(o) }
        removePruneMarkers(oldMarkers.filter { $0 != newMarker })
        report.bytesFreed = deletedBytes > writtenBytes ? deletedBytes - writtenBytes : 0
        let after = try index.packList()
        report.packsAfter = after.count
        report.packBytesAfter = after.reduce(0) { $0 + $1.size }
        progress?("done", 1, 1)
        return report
    }

    /// Marks every block reachable from `snaps`: trees, content lists and data blocks.
    /// A subtree or list already marked is not read again, so shared history costs one visit.
    private func markLive(_ snaps: [Snapshot], progress: ((String, Int, Int) -> Void)?) throws {
        let reader = makeReader()
        let mark = try index.pruneMarkStatement()
        func insert(_ id: BlockId) throws -> Bool {
            mark.reset()
            mark.bind(1, id)
            try mark.run()
            return index.db.changes > 0
        }
        func markTree(_ id: BlockId, path: String, snap: Snapshot) throws {
            guard try insert(id) else { return }
            // A tree `check` recorded as lost holds nothing prune could keep.
            if try index.isMissing(id) { return }
            let t: Tree
            do { t = try tree(id, reader: reader, path: path) } catch let e as CairnError {
                throw CairnError(.integrity, "snapshot \(snap.shortId) cannot be read at \(path)/ (\(e.message)); prune changed nothing: run `cairn check --read-data`")
            }
            for e in t.entries {
                switch e.kind {
                case .directory:
                    if let s = e.subtree { try markTree(s, path: path + "/" + e.name.escaped, snap: snap) }
                case .file:
                    for r in e.content {
                        guard try insert(r.id), e.indirect, try !index.isMissing(r.id) else { continue }
                        let refs: [ContentRef]
                        do { refs = try ContentList.decode(try reader.readMeta(r.id), what: "list block \(r.id.hex)") } catch let err as CairnError {
                            throw CairnError(.integrity, "snapshot \(snap.shortId) cannot be read at \(path)/\(e.name) (\(err.message)); prune changed nothing: run `cairn check --read-data`")
                        }
                        for d in refs { _ = try insert(d.id) }
                    }
                case .symlink:
                    continue
                }
            }
        }
        try index.db.exec("BEGIN")
        do {
            for (i, s) in snaps.enumerated() {
                progress?("mark", i, snaps.count)
                for silo in s.record.silos {
                    guard let root = BlockId(hex: silo.tree) else {
                        throw CairnError(.integrity, "snapshot \(s.shortId) silo \(silo.name) has no valid tree id; prune changed nothing: run `cairn check`")
                    }
                    try markTree(root, path: silo.name, snap: s)
                }
            }
            try index.db.exec("COMMIT")
        } catch {
            try? index.db.exec("ROLLBACK")
            throw error
        }
    }
}

/// Copies verified live blocks into new packs (stored bytes copied as they are).
final class PackCopier {
    let storage: PackStorage
    let index: RepositoryIndex
    let targetSize: Int
    private var buffer: [UInt8] = []
    private var entries: [PackEntry] = []
    private var scratch: [UInt8] = []
    private var plain: [UInt8] = []
    private let hasher = SHA256Hasher()
    /// Packs written so far (durable, recorded in temp.prune_moved, not yet in `packs`).
    private(set) var written: [(name: String, size: UInt64, blocks: Int)] = []

    init(storage: PackStorage, index: RepositoryIndex, targetSize: Int) {
        self.storage = storage
        self.index = index
        self.targetSize = targetSize
    }

    /// Copies the live blocks of one pack, verifying each block's SHA-256 before copying it.
    func copyLive(from pack: PackUsage) throws {
        let path = storage.displayPath(pack.name)
        for e in try index.pruneLiveEntries(pack: pack.id) {
            let n = Int(e.storedLength)
            if scratch.count < n { scratch = [UInt8](repeating: 0, count: n) }
            try scratch.withUnsafeMutableBytes { try storage.read(pack: pack.name, offset: e.offset, count: n, into: $0.baseAddress!) }
            let ok: Bool = scratch.withUnsafeBytes { s in
                let stored = UnsafeRawBufferPointer(rebasing: s[0..<n])
                if e.codec == .none { return e.storedLength == e.rawLength && hasher.hash(stored) == e.id }
                if plain.count < Int(e.rawLength) { plain = [UInt8](repeating: 0, count: Int(e.rawLength)) }
                return plain.withUnsafeMutableBytes { p in
                    guard LZ4.decompress(stored, into: p.baseAddress!, rawLength: Int(e.rawLength)) else { return false }
                    return hasher.hash(UnsafeRawBufferPointer(rebasing: p[0..<Int(e.rawLength)])) == e.id
                }
            }
            guard ok else {
                throw CairnError(.integrity, "block \(e.id.hex) in pack \(path) at byte offset \(e.offset) is damaged; prune changed nothing in the index: run `cairn check --read-data`", path: path, offset: e.offset)
            }
            if buffer.isEmpty { buffer.append(contentsOf: PackFormat.headerMagic) }
            var moved = e
            moved.offset = UInt64(buffer.count)
            buffer.append(contentsOf: scratch[0..<n])
            entries.append(moved)
            if buffer.count >= targetSize || entries.count >= BlockWriter.maxBlocksPerPack { try seal() }
        }
    }

    /// Writes the open pack durably and records where its blocks now are.
    func seal() throws {
        guard !entries.isEmpty else { return }
        buffer.append(contentsOf: PackFormat.encodeTrailer(entries))
        let name = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
        try buffer.withUnsafeBytes { try storage.writePack(name: name, bytes: $0) }
        try storage.writeIndex(pack: name, size: UInt64(buffer.count), entries: entries)
        try index.pruneRecordMoved(pack: name, entries: entries)
        written.append((name, UInt64(buffer.count), entries.count))
        buffer.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }
}
