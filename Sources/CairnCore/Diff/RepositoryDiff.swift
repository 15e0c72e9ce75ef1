// Diff against a repository: resolving the two references, `live` through a dry-run
// snapshot, and the manifests the engine reads (the dry run's new blocks in memory over
// the repository's blocks).
//
// Crash properties: read-only. A `live` diff stores nothing and records nothing; its only
// writes are the consistent copies of live SQLite databases in the repository's tmp
// folder, removed as soon as they are hashed (as during a snapshot).
// Memory: the changes found, plus for `live` the new tree and list blocks of the dry run
// (proportional to the directories and large files that changed; data is never kept).

/// A `TreeSource` that serves blocks held in memory first (a dry run's new tree and list
/// blocks), then the repository's blocks through a `BlockReader`.
public final class OverlayTreeSource: TreeSource {
    let blocks: [BlockId: [UInt8]]
    let base: BlockReaderTreeSource
    /// Trees served from memory (the reader counts those it read from packs).
    public private(set) var memoryTreesRead = 0

    /// `blocks` are raw block bytes by id, as `SnapshotResult.dryRunMetaBlocks` holds them.
    public init(blocks: [BlockId: [UInt8]], reader: BlockReader) {
        self.blocks = blocks
        base = BlockReaderTreeSource(reader: reader)
    }

    public func tree(_ id: BlockId) throws -> Tree {
        guard let b = blocks[id] else { return try base.tree(id) }
        memoryTreesRead += 1
        return try Tree.decode(b, what: "tree \(id.hex) (live)")
    }

    public func list(_ id: BlockId) throws -> [ContentRef] {
        guard let b = blocks[id] else { return try base.list(id) }
        return try ContentList.decode(b, what: "list block \(id.hex) (live)")
    }
}

/// The outcome of `Repository.diff`.
public struct RepositoryDiff: Sendable {
    /// The changes and totals; `repositoryBytesAdded` and `treeBlocksRead` are filled.
    public var report: DiffReport
    /// Full id of snapshot A.
    public var a: String
    /// Full id of snapshot B, or `live`.
    public var b: String
    /// For `live`: what the dry run warned about (files skipped or torn), as `snapshot` would.
    public var warnings: [String]
    /// For `live`: silos the dry run could not read, with the reason. They are left out of
    /// the comparison on both sides.
    public var failedSilos: [String: String]
}

extension Repository {
    /// The reference that means "what a snapshot taken now would record".
    public static let liveReference = "live"

    /// Compares snapshot `a` with snapshot `b`, or with the live silos when `b` is `live`.
    ///
    /// Both take every snapshot reference form (full id, unique prefix of 6+ hex digits,
    /// `latest`). `silos` restricts the comparison to those silos; each must be in A or in
    /// B (for `live`: registered). For `live` the silos (all registered ones, or those in
    /// `silos`) are walked by a dry-run `Snapshotter`: files whose size, mtime, ctime and
    /// inode match their latest snapshot are not read; nothing is stored.
    /// `report.repositoryBytesAdded` is what B's snapshot added to the repository (its
    /// record's `bytesAdded`), or for `live` what the snapshot would add.
    public func diff(_ a: String, _ b: String, silos: [String] = [], options: DiffOptions = DiffOptions(),
                     onProgress: ((SnapshotProgress) -> Void)? = nil) throws -> RepositoryDiff {
        guard a != Repository.liveReference else {
            throw CairnError(.invalidInput, "`live` can only be the second snapshot; use `cairn diff SNAPSHOT live`")
        }
        let snapA = try resolve(a)
        var rootsA = try roots(snapA)
        if b == Repository.liveReference {
            let registered = try self.silos().map(\.name)
            try checkSiloNames(silos, known: Set(rootsA.keys).union(registered), where: "snapshot \(snapA.shortId) or the registered silos")
            let chosen = silos.isEmpty ? registered : registered.filter { silos.contains($0) }
            var rootsB: [String: BlockId] = [:]
            var blocks: [BlockId: [UInt8]] = [:]
            var warnings: [String] = []
            var failed: [String: String] = [:]
            var stored: UInt64 = 0
            if !chosen.isEmpty {
                var opts = SnapshotOptions(silos: chosen)
                opts.dryRun = true
                let s = Snapshotter(repository: self, options: opts)
                s.onProgress = onProgress
                let res = try s.run()
                rootsB = res.trees
                blocks = res.dryRunMetaBlocks
                warnings = res.warnings
                failed = res.failedSilos
                stored = res.stats.storedBytesAdded
            }
            for name in failed.keys { rootsA[name] = nil }
            return try finish(a: snapA.id, b: Repository.liveReference, rootsA: rootsA, rootsB: rootsB, silos: silos, blocks: blocks,
                              options: options, bytesAdded: stored, warnings: warnings, failed: failed)
        }
        let snapB = try resolve(b)
        let rootsB = try roots(snapB)
        try checkSiloNames(silos, known: Set(rootsA.keys).union(rootsB.keys), where: "snapshot \(snapA.shortId) or \(snapB.shortId)")
        return try finish(a: snapA.id, b: snapB.id, rootsA: rootsA, rootsB: rootsB, silos: silos, blocks: [:], options: options,
                          bytesAdded: snapB.record.bytesAdded, warnings: [], failed: [:])
    }

    private func finish(a: String, b: String, rootsA: [String: BlockId], rootsB: [String: BlockId], silos: [String],
                        blocks: [BlockId: [UInt8]], options: DiffOptions, bytesAdded: UInt64, warnings: [String],
                        failed: [String: String]) throws -> RepositoryDiff {
        func only(_ m: [String: BlockId]) -> [String: BlockId] { silos.isEmpty ? m : m.filter { silos.contains($0.key) } }
        let reader = makeReader()
        let source = OverlayTreeSource(blocks: blocks, reader: reader)
        var report = try diffSnapshots(a: only(rootsA), b: only(rootsB), source: source, options: options, repositoryBytesAdded: bytesAdded)
        report.treeBlocksRead = reader.treeBlocksRead + source.memoryTreesRead
        return RepositoryDiff(report: report, a: a, b: b, warnings: warnings, failedSilos: failed)
    }

    /// Silo name -> root tree of a snapshot.
    private func roots(_ s: Snapshot) throws -> [String: BlockId] {
        var out: [String: BlockId] = [:]
        for silo in s.record.silos {
            guard let id = BlockId(hex: silo.tree) else {
                throw CairnError(.integrity, "snapshot \(s.shortId): silo '\(silo.name)' has a malformed tree id '\(silo.tree)'; run `cairn check`")
            }
            out[silo.name] = id
        }
        return out
    }

    private func checkSiloNames(_ names: [String], known: Set<String>, where place: String) throws {
        for n in names where !known.contains(n) {
            throw CairnError(.notFound, "unknown silo '\(n)': it is in neither \(place); known silos: \(known.sorted().joined(separator: ", "))")
        }
    }
}
