// Copy: snapshots from one repository into another (`cairn copy`).
//
// Owns: choosing the snapshots to copy, walking their trees and content lists in the source,
// sending the blocks the target lacks, and writing the copied record with its origin.
//
// Only blocks the target lacks travel: every data block is looked up in the target's index
// before a byte of it is read from the source. Trees and content lists are read from the
// source (they are needed to walk), and stored when the target lacks them. Each block read
// from the source is verified by the SHA-256 of its plaintext (BlockReader) and its length
// against the reference that names it, so a damaged source block stops the copy with an
// integrity error naming the block, the file and the source pack.
//
// Crash properties: the target's write order is the usual one, data -> index -> record:
// blocks go through the target's BlockWriter (packs durable, then indexed), `flush()` is
// the barrier, and only then is the snapshot record saved. Children are stored before the
// tree or list that names them. A failure or a crash leaves no record, only unreferenced
// blocks, which `check` accepts and `prune` removes. The source is only read.
//
// A copy is a normal snapshot of the target. Its record is the source record with `copied`
// (CopyOrigin: source repository id, source snapshot id, copy time) set and `parent` mapped to
// the target's copy of the source parent (absent when the parent was not copied). Copying the
// same snapshot again finds the earlier copy by its origin and writes nothing.

import Foundation

/// Where a copied snapshot came from (the `copied` field of its record).
public struct CopyOrigin: Codable, Sendable, Equatable {
    /// The source repository's id (its `config.json` `id`).
    public var repository: String
    /// The snapshot's id in the source repository.
    public var snapshot: String
    /// When it was copied, nanoseconds since the epoch (the copying host's clock).
    public var copiedAtNs: Int64

    public init(repository: String, snapshot: String, copiedAtNs: Int64) {
        self.repository = repository
        self.snapshot = snapshot
        self.copiedAtNs = copiedAtNs
    }
}

/// Which snapshots of the source to copy.
public struct CopySelection: Sendable {
    /// Snapshot references (ids, prefixes, `latest`, `latest:TAG`). Empty: every snapshot the filters keep.
    public var refs: [String]
    /// Only snapshots holding this silo (for `latest`, the newest holding it).
    public var silo: String?
    /// Only snapshots carrying this tag (for `latest`, the newest carrying it: `latest:TAG`).
    public var tag: String?

    public init(refs: [String] = [], silo: String? = nil, tag: String? = nil) {
        self.refs = refs
        self.silo = silo
        self.tag = tag
    }
}

/// Counters of one copy run. Raw bytes are plaintext sizes; stored bytes what the target's packs hold.
public struct CopyStats: Codable, Sendable, Equatable {
    /// Blocks read from the source and stored in the target.
    public var blocksSent = 0
    public var bytesSent: UInt64 = 0
    public var storedBytesSent: UInt64 = 0
    /// Block references the target already held (or this run had already sent): not read from the source.
    public var blocksSkipped = 0
    public var bytesSkipped: UInt64 = 0
    public var packsWritten = 0
    public init() {}
}

/// One snapshot's outcome.
public struct CopiedSnapshot: Codable, Sendable, Equatable {
    /// The snapshot id in the source.
    public var source: String
    /// The id of its copy in the target.
    public var target: String
    /// False when the target already held a copy (nothing was written for it).
    public var copied: Bool
    public var silos: [String]
    public var files: Int
    public var bytes: UInt64
}

/// What a copy run did.
public struct CopyResult: Codable, Sendable, Equatable {
    public var sourceRepository: String
    public var targetRepository: String
    public var snapshots: [CopiedSnapshot]
    public var stats: CopyStats
}

/// Copies snapshots from `source` to `target`. The caller opens both and holds the target's
/// lock as a writer (shared) and the source's as a reader. Create one per run.
public final class SnapshotCopier {
    public let source: Repository
    public let target: Repository
    /// Called after each file (files walked, file bytes walked, the file's path).
    public var onProgress: ((Int, UInt64, FileName) -> Void)?
    public internal(set) var stats = CopyStats()

    var filesDone = 0
    var bytesDone: UInt64 = 0
    /// Trees already walked in this run (their blocks are handled); cleared when it grows
    /// past `visitedLimit` so memory stays bounded (a cleared set only costs a re-walk).
    var visited = Set<BlockId>()
    static let visitedLimit = 1 << 20

    public init(from source: Repository, to target: Repository) throws {
        guard source.config.id != target.config.id else {
            throw CairnError(.invalidInput, "\(source.root) and \(target.root) are the same repository (id \(source.config.id); or one is a file-level copy of the other, which holds its snapshots already); copy to another repository")
        }
        self.source = source
        self.target = target
    }

    /// The source snapshots `selection` names, each once, in the order given (all: oldest first).
    public func select(_ selection: CopySelection) throws -> [Snapshot] {
        var out: [Snapshot] = []
        if selection.refs.isEmpty {
            let all = try source.snapshots()
            out = all.filter { s in
                selection.silo.map { s.record.silo($0) != nil } ?? true && (selection.tag.map { s.record.tags.contains($0) } ?? true)
            }
            if out.isEmpty {
                let what = [selection.silo.map { "holding silo '\($0)'" }, selection.tag.map { "tagged '\($0)'" }].compactMap { $0 }.joined(separator: " and ")
                throw CairnError(.notFound, "the source repository \(source.root) has no snapshot\(what.isEmpty ? "" : " " + what); list them with `cairn list --repo \(source.root)`")
            }
            return out
        }
        for r in selection.refs {
            let ref = r == "latest" ? selection.tag.map { "latest:\($0)" } ?? r : r
            let s = try source.resolve(ref, silo: selection.silo)
            if !out.contains(where: { $0.id == s.id }) { out.append(s) }
        }
        return out
    }

    /// Files and bytes a snapshot's record claims (a record is data: sums saturate, never trap).
    public static func size(of snapshots: [Snapshot]) -> (files: Int, bytes: UInt64) {
        var files = 0, bytes: UInt64 = 0
        for s in snapshots {
            for silo in s.record.silos {
                let f = files.addingReportingOverflow(max(0, silo.files)), b = bytes.addingReportingOverflow(silo.bytes)
                files = f.overflow ? Int.max : f.partialValue
                bytes = b.overflow ? UInt64.max : b.partialValue
            }
        }
        return (files, bytes)
    }

    static func size(of s: Snapshot) -> (files: Int, bytes: UInt64) { size(of: [s]) }

    /// The target's copy of source snapshot `s`, if it has one: a record whose origin names it,
    /// or (when `s` is itself a copy of a target snapshot) that snapshot.
    func existingCopy(of s: Snapshot, in targets: [Snapshot]) -> Snapshot? {
        if let t = targets.first(where: { $0.record.copied?.repository == source.config.id && $0.record.copied?.snapshot == s.id }) { return t }
        if let o = s.record.copied, o.repository == target.config.id, let t = targets.first(where: { $0.id == o.snapshot }) { return t }
        return targets.first { $0.id == s.id }
    }

    /// Copies `snapshots` (from `select`). Each snapshot's blocks are durable and indexed in the
    /// target before its record is written; a failure leaves no record of the snapshot it hit.
    public func copy(_ snapshots: [Snapshot]) throws -> CopyResult {
        var done: [CopiedSnapshot] = []
        var targets = try target.snapshots()
        let sources = try source.snapshots()
        var wroteBlocks = false
        for s in snapshots {
            let rec = s.record
            let size = Self.size(of: s)
            let summary = { (id: String, copied: Bool) in
                CopiedSnapshot(source: s.id, target: id, copied: copied, silos: rec.silos.map(\.name), files: size.files, bytes: size.bytes)
            }
            if let t = existingCopy(of: s, in: targets) {
                done.append(summary(t.id, false))
                filesDone = filesDone.addingReportingOverflow(size.files).overflow ? Int.max : filesDone + size.files
                bytesDone = bytesDone.addingReportingOverflow(size.bytes).overflow ? UInt64.max : bytesDone + size.bytes
                continue
            }
            if !wroteBlocks {
                // A format-1 target learns format 2 before it receives a format-2 tree.
                _ = try target.migrateFormatIfNeeded()
                wroteBlocks = true
            }
            try sendBlocks(of: s)
            var copy = rec
            copy.copied = CopyOrigin(repository: source.config.id, snapshot: s.id, copiedAtNs: SnapshotOrder.nowNs())
            copy.parent = rec.parent.flatMap { p in sources.first { $0.id == p } }.flatMap { existingCopy(of: $0, in: targets)?.id }
            let saved = try target.saveSnapshot(copy)
            targets.append(saved)
            done.append(summary(saved.id, true))
        }
        return CopyResult(sourceRepository: source.config.id, targetRepository: target.config.id, snapshots: done, stats: stats)
    }

    /// Sends every block of `s` the target lacks, then flushes the target's writer.
    func sendBlocks(of s: Snapshot) throws {
        let reader = source.makeReader()
        let writer = target.makeWriter()
        let walk = CopyWalk(copier: self, snapshot: s, reader: reader, writer: writer)
        do {
            for silo in s.record.silos {
                guard let root = BlockId(hex: silo.tree) else {
                    throw CairnError(.integrity, "snapshot \(s.id) of \(source.root) names silo '\(silo.name)' with root tree '\(silo.tree.prefix(80))', not a block id; run `cairn check --repo \(source.root)`")
                }
                try walk.tree(root, path: FileName(utf8: silo.name))
            }
            try writer.flush()
        } catch {
            writer.discard()
            throw error
        }
        stats.blocksSent += writer.stats.blocksAdded
        stats.bytesSent += writer.stats.rawBytesAdded
        stats.storedBytesSent += writer.stats.storedBytesAdded
        stats.packsWritten += writer.stats.packsWritten
    }
}
