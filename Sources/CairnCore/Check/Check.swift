// Check: verifies that every snapshot's trees and blocks are present and intact, and
// rebuilds the index from the repository's files alone.
//
// Crash properties: check only reads. `rebuildIndex` builds a new database beside the
// old one and swaps it in by rename while holding the exclusive repository lock; a
// crash leaves either the old index or none, and a missing index is re-created empty
// and can be rebuilt again.

#if canImport(Glibc)
import Glibc
#endif
import CairnStorage

/// A damaged or missing block and where it is used.
public struct DamagedBlock: Codable, Sendable {
    public var block: String
    public var pack: String?
    public var offset: UInt64?
    public var problem: String
    /// "SNAPSHOT-SHORT-ID:SILO/path" for every file or tree that uses the block.
    public var usedBy: [String]
}

/// The outcome of `cairn check`.
public struct CheckReport: Codable, Sendable {
    public var snapshots = 0
    public var trees = 0
    public var packs = 0
    public var blocksRead = 0
    public var errors: [String] = []
    public var warnings: [String] = []
    public var damaged: [DamagedBlock] = []
    /// Short ids of the snapshots that use a damaged or lost block (they stay damaged; newer
    /// snapshots of intact live data store the lost blocks again).
    public var damagedSnapshots: [String] = []
    public var ok: Bool { errors.isEmpty && damaged.isEmpty }
}

extension Repository {
    /// Checks structure (and with `readData`, every block's bytes).
    public func check(readData: Bool, progress: ((Int, Int) -> Void)? = nil) throws -> CheckReport {
        var report = CheckReport()
        let reader = makeReader()
        // Packs on disk against the index.
        let indexed = try index.packList()
        let onDisk = Set(try storage.list())
        report.packs = indexed.count
        var lostPacks: [String] = []
        for p in indexed {
            if !onDisk.contains(p.name) {
                lostPacks.append(p.name)
                report.errors.append("pack \(storage.displayPath(p.name)) is in the index but missing on disk; the snapshots that use its blocks are damaged")
            } else if let sz = try? storage.size(of: p.name), sz != p.size {
                report.errors.append("pack \(storage.displayPath(p.name)) is \(sz) bytes, the index says \(p.size)")
            }
        }
        let known = Set(indexed.map(\.name))
        for n in onDisk where !known.contains(n) {
            report.warnings.append("pack \(storage.displayPath(n)) is not indexed (left by an interrupted write or prune; `cairn prune` deletes it when every block it holds is indexed elsewhere, `cairn check --rebuild-index` adopts it")
        }
        // Self-healing: the blocks of a lost pack are recorded as missing, so that dedup no
        // longer counts them as stored and the next snapshot of live data stores them again.
        var bad: [BlockId: String] = [:]
        if !readOnly {
            for p in lostPacks {
                try index.markPackLost(p)
                // Its index object names a pack that is gone: every machine's cache would add it back.
                if config.version >= 3 { try store.delete(try .make(.index, p)) }
            }
        }
        for d in damagedIndexObjects { report.errors.append(d) }
        if config.version >= 3 {
            for n in Set(try storage.list()).subtracting(Set(try store.list(.index).map(\.handle.name))).sorted() where known.contains(n) {
                report.errors.append("pack \(storage.displayPath(n)) has no index object; run `cairn check --rebuild-index` to write it")
            }
        }
        // Snapshot records and trees.
        if readData {
            var n = 0
            var buf: [UInt8] = []
            let total = indexed.reduce(0) { $0 + $1.blocks }
            try index.forEachBlock { loc in
                n += 1
                if n % 1000 == 0 { progress?(n, total); try Cancellation.check() }
                do { try reader.read(loc, into: &buf) } catch let e as CairnError {
                    bad[loc.entry.id] = e.message
                }
            }
            report.blocksRead = n
        }
        var seenTrees = Set<BlockId>()
        var usage: [BlockId: [String]] = [:]
        for snap in try snapshots() {
            try Cancellation.check()
            report.snapshots += 1
            let handle = try ObjectHandle.make(.snapshot, snap.id)
            let file = store.display(handle)
            if let bytes = try store.bytesIfExists(handle, limit: SnapshotRecord.maxSize) {
                if BlockId.hash(bytes).hex != snap.id { report.errors.append("snapshot record \(file) does not match its id") }
            } else if forgetInProgress(snap.id) {
                report.warnings.append("snapshot \(snap.shortId) was being forgotten when a process stopped; the next `cairn forget` or `cairn prune` completes it")
            } else {
                report.errors.append("snapshot record \(file) is missing")
            }
            for s in snap.record.silos {
                guard let root = BlockId(hex: s.tree) else { report.errors.append("snapshot \(snap.shortId) silo \(s.name) has no valid tree id"); continue }
                try checkTree(root, path: s.name, snap: snap, reader: reader, seen: &seenTrees, bad: &bad, usage: &usage, report: &report)
            }
        }
        report.trees = seenTrees.count
        // Damaged or unindexed blocks are as good as lost: recorded as missing, the next
        // snapshot of live data that holds them stores a good copy (dedup and the
        // unchanged-file fast path both consult the record).
        if !readOnly { try index.markMissing(Array(bad.keys)) }
        if !bad.isEmpty {
            // Name every file that uses a damaged block (walks all snapshots again, only when damage exists).
            for snap in try snapshots() {
                for s in snap.record.silos {
                    guard let root = BlockId(hex: s.tree) else { continue }
                    var seen = Set<BlockId>()
                    collectUsers(root, prefix: s.name, snap: snap, reader: reader, bad: bad, seen: &seen, usage: &usage)
                }
            }
            for (id, problem) in bad.sorted(by: { $0.key < $1.key }) {
                let used = Array(Set(usage[id] ?? [])).sorted()
                let loc = try? index.lookup(id)
                report.damaged.append(DamagedBlock(block: id.hex, pack: loc.map { storage.displayPath($0.pack) }, offset: loc?.entry.offset,
                                                   problem: problem, usedBy: used))
            }
            report.damagedSnapshots = Array(Set(report.damaged.flatMap { $0.usedBy.map { String($0.prefix { $0 != ":" }) } })).sorted()
        }
        return report
    }

    private func checkTree(_ id: BlockId, path: String, snap: Snapshot, reader: BlockReader, seen: inout Set<BlockId>,
                           bad: inout [BlockId: String], usage: inout [BlockId: [String]], report: inout CheckReport) throws {
        if seen.contains(id) || bad[id] != nil { return }
        seen.insert(id)
        let t: Tree
        do { t = try tree(id, reader: reader, path: path) } catch let e as CairnError {
            bad[id] = e.message
            usage[id, default: []].append("\(snap.shortId):\(path)/")
            return
        }
        for e in t.entries {
            let p = path + "/" + e.name.escaped
            switch e.kind {
            case .directory:
                if let s = e.subtree { try checkTree(s, path: p, snap: snap, reader: reader, seen: &seen, bad: &bad, usage: &usage, report: &report) }
            case .file:
                for r in e.content {
                    if try index.contains(r.id) == false { bad[r.id] = "missing from the index" }
                    if e.indirect {
                        if bad[r.id] != nil { continue }
                        do {
                            for d in try ContentList.decode(try reader.readMeta(r.id), what: "list block \(r.id.hex)") where try !index.contains(d.id) {
                                bad[d.id] = "missing from the index"
                            }
                        } catch let err as CairnError { bad[r.id] = err.message }
                    }
                }
            case .symlink:
                continue
            }
        }
    }

    private func collectUsers(_ id: BlockId, prefix: String, snap: Snapshot, reader: BlockReader, bad: [BlockId: String],
                              seen: inout Set<BlockId>, usage: inout [BlockId: [String]]) {
        if seen.contains(id) { return }
        seen.insert(id)
        guard let t = try? tree(id, reader: reader, path: prefix) else { return }
        for e in t.entries {
            let p = prefix + "/" + e.name.escaped
            if e.kind == .directory, let s = e.subtree {
                if bad[s] != nil { usage[s, default: []].append("\(snap.shortId):\(p)/") }
                collectUsers(s, prefix: p, snap: snap, reader: reader, bad: bad, seen: &seen, usage: &usage)
            } else if e.kind == .file {
                var refs = e.content
                if e.indirect {
                    for l in e.content where bad[l.id] != nil { usage[l.id, default: []].append("\(snap.shortId):\(p)") }
                    refs = (try? dataRefs(e, reader: reader, path: p)) ?? []
                }
                for r in refs where bad[r.id] != nil { usage[r.id, default: []].append("\(snap.shortId):\(p)") }
            }
        }
    }

    /// Every block id reachable from the snapshots in `index` (trees, lists, data) that it lacks.
    static func referencedButAbsent(_ index: RepositoryIndex, storage: PackStorage) throws -> [BlockId] {
        let reader = BlockReader(storage: storage, index: index)
        var seen = Set<BlockId>()
        var absent: [BlockId] = []
        func visit(_ id: BlockId, isTree: Bool) {
            guard seen.insert(id).inserted else { return }
            guard (try? index.contains(id)) == true else { absent.append(id); return }
            guard isTree, let bytes = try? reader.readMeta(id), let t = try? Tree.decode(bytes, what: "tree \(id.hex)") else { return }
            for e in t.entries {
                if let sub = e.subtree { visit(sub, isTree: true) }
                for r in e.content {
                    if e.indirect {
                        guard seen.insert(r.id).inserted else { continue }
                        guard (try? index.contains(r.id)) == true else { absent.append(r.id); continue }
                        for d in (try? ContentList.decode(try reader.readMeta(r.id), what: "list block \(r.id.hex)")) ?? [] { visit(d.id, isTree: false) }
                    } else {
                        visit(r.id, isTree: false)
                    }
                }
            }
        }
        for rec in try index.snapshotRecords() {
            guard let r = try? SnapshotRecord.decode(Array(rec.json.utf8), what: rec.id) else { continue }
            for s in r.silos { if let root = BlockId(hex: s.tree) { visit(root, isTree: true) } }
        }
        return absent
    }

    /// Rebuilds the index from pack trailers and snapshot records. Needs no working index.
    /// Format 3: every pack's index object is written again from its trailer (salvaged entries
    /// for a damaged trailer; a differing or damaged index object is replaced, one whose pack is
    /// gone deleted), then the cache is built from them.
    public static func rebuildIndex(at path: String, wait: Double = 0, cache: String? = nil, state: String? = nil) throws -> (packs: Int, blocks: Int, snapshots: Int, skipped: [String]) {
        let backend: any Backend
        if S3Repository.isURL(path) { backend = try S3Repository.backend(path) } else {
            let root = FS.absolute(path)
            guard FS.exists(root) else {
                throw CairnError(.repositoryNotFound, "no Cairn repository at \(root); create one with `cairn init --repo \(path)` or pass --repo / CAIRN_REPO", path: root)
            }
            backend = LocalBackend(path: root)
        }
        let store = RepositoryStore(backend: backend)
        let config = try loadConfig(RepositoryLayout(root: backend.location), store: store, given: path)
        let layout = config.version >= 3 ? hostLayout(store, config, cache: cache, state: state) : RepositoryLayout(root: backend.location)
        let lock = try RepositoryLock.acquire(backend, mode: .exclusive, wait: wait, command: "check --rebuild-index")
        defer { lock.release() }
        let storage = BackendPackStorage(store: store)
        storage.cleanTemporaries()
        try FS.mkdirs(layout.cache)
        let tmp = layout.cache + "/index.sqlite.rebuild"
        for s in ["", "-wal", "-shm", "-journal"] { unlink(tmp + s) }
        var packs = 0, blocks = 0, snaps = 0
        var skipped: [String] = []
        // The index being replaced, when it still opens: a second source of block locations for
        // packs whose trailer is damaged (every location it gives is verified before use).
        var previous = FS.exists(layout.index) ? try? RepositoryIndex(path: layout.index, readOnly: true) : nil
        do {
            let fresh = try RepositoryIndex(path: tmp)
            for name in try storage.list().sorted() {
                do {
                    let entries = try PackFormat.readTrailer(storage, pack: name)
                    blocks += try fresh.addPack(name: name, size: try storage.size(of: name), entries: entries)
                    if config.version >= 3 { try rewriteIndexObject(storage, pack: name, entries: entries) }
                    packs += 1
                } catch let e as CairnError {
                    // A damaged trailer: salvage every block whose bytes verify. The pack file is
                    // kept whatever happens (it may hold the only copy of a block).
                    // Blocks the previous index located in it are verified and kept too.
                    var r = PackSalvage.salvage(storage, pack: name) ?? SalvageResult(entries: [], unverified: 0)
                    if let old = previous {
                        let have = Set(r.entries.map(\.id))
                        r.entries += PackSalvage.fromIndex(old, storage: storage, pack: name).filter { !have.contains($0.id) }
                    }
                    if !r.entries.isEmpty {
                        let sorted = r.entries.sorted { $0.offset < $1.offset }
                        blocks += try fresh.addPack(name: name, size: try storage.size(of: name), entries: sorted)
                        if config.version >= 3 { try rewriteIndexObject(storage, pack: name, entries: sorted) }
                        packs += 1
                        skipped.append("\(e.message): salvaged \(r.entries.count) verified blocks\(r.unverified > 0 ? ", \(r.unverified) trailer entries could not be verified" : "")")
                    } else {
                        skipped.append("\(e.message): no block could be salvaged; the pack file is kept")
                    }
                }
            }
            if config.version >= 3 {
                // Index objects whose pack is gone name nothing.
                let present = Set(try storage.list())
                for o in try store.list(.index) where !present.contains(o.handle.name) { try store.delete(o.handle) }
            }
            for o in try store.list(.snapshot) {
                let id = o.handle.name, f = id + ".json"
                guard let bytes = try store.bytesIfExists(o.handle, limit: SnapshotRecord.maxSize) else { continue }
                guard BlockId.hash(bytes).hex == id else { skipped.append("snapshot file \(f) does not match its name; left out"); continue }
                guard let rec = try? SnapshotRecord.decode(bytes, what: store.display(o.handle)) else {
                    skipped.append("snapshot file \(f) cannot be decoded; left out"); continue
                }
                try fresh.addSnapshot(id: id, timeNs: rec.timeNs, recordJSON: String(decoding: bytes.dropLast(), as: UTF8.self))
                snaps += 1
            }
            // Blocks the snapshots reference but no pack holds are recorded as missing, so the
            // next snapshot of live data stores them again (see `check`).
            try fresh.markMissing(try referencedButAbsent(fresh, storage: storage))
            try fresh.db.exec("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        previous = nil
        for s in ["-wal", "-shm"] { unlink(layout.index + s); unlink(tmp + s) }
        try FS.rename(tmp, layout.index)
        try FS.syncDirectory(layout.cache)
        return (packs, blocks, snaps, skipped)
    }

    /// Makes pack `name`'s index object list exactly `entries`: written when missing, replaced
    /// (delete, then put) when it differs or is damaged.
    static func rewriteIndexObject(_ storage: BackendPackStorage, pack name: String, entries: [PackEntry]) throws {
        let h = try ObjectHandle.make(.index, name)
        let size = try storage.size(of: name)
        let want = IndexObject(pack: name, packSize: size, entries: entries)
        if let have = try storage.store.bytesIfExists(h, limit: IndexObject.maxSize + 1) {
            if (try? IndexObject.decode(have, name: name, what: name)) == want { return }
            try storage.store.delete(h)
        }
        try storage.writeIndex(pack: name, size: size, entries: entries)
    }
}
