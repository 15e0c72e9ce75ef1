// `cairn find`: entries whose silo-relative path matches a pattern, across snapshots, from
// the trees only (no file content is read). The pattern language is the exclude patterns'
// (ExcludeMatcher): `*.db` matches a name at any depth, `notes/**/draft*` is anchored.
// Read-only.

/// One match of `find`.
public struct FoundEntry: Sendable {
    public var snapshot: Snapshot
    public var silo: String
    /// Silo-relative path (raw bytes).
    public var path: FileName
    public var entry: TreeEntry
}

extension Repository {
    /// Calls `body` for every entry matching `pattern` in the snapshots `refs` (all when
    /// empty, in snapshot order), restricted to `silos` when given. A tree already searched
    /// under the same path (the same subtree in a later snapshot) is searched again, so each
    /// snapshot's matches are complete.
    public func find(_ pattern: [UInt8], silos: [String] = [], snapshots refs: [String] = [], reader: BlockReader,
                     _ body: (FoundEntry) throws -> Void) throws {
        let matcher = ExcludeMatcher(patterns: [pattern])
        guard matcher.active else { throw CairnError(.invalidInput, "give a pattern to find, e.g. '*.db' or 'notes/**/draft*'") }
        let chosen = refs.isEmpty ? SnapshotOrder.sorted(try snapshots()) : try refs.map { try resolve($0) }
        for snap in chosen {
            for s in snap.record.silos where silos.isEmpty || silos.contains(s.name) {
                guard let root = BlockId(hex: s.tree) else {
                    throw CairnError(.integrity, "snapshot \(snap.shortId): silo '\(s.name)' has a malformed tree id; run `cairn check`")
                }
                try findIn(root, rel: FileName(bytes: []), matcher: matcher, snap: snap, silo: s.name, reader: reader, body)
            }
        }
    }

    private func findIn(_ id: BlockId, rel: FileName, matcher: ExcludeMatcher, snap: Snapshot, silo: String, reader: BlockReader,
                        _ body: (FoundEntry) throws -> Void) throws {
        for e in try tree(id, reader: reader, path: FileName(utf8: silo).appending(rel).escaped).entries {
            let p = rel.appending(e.name)
            if matcher.excludes(p, name: e.name, isDirectory: e.kind == .directory) {
                try body(FoundEntry(snapshot: snap, silo: silo, path: p, entry: e))
            }
            if e.kind == .directory, let sub = e.subtree { try findIn(sub, rel: p, matcher: matcher, snap: snap, silo: silo, reader: reader, body) }
        }
    }
}
