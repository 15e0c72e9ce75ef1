// `cairn estimate`: what the silos hold now and how much changed since their latest
// snapshot, from metadata only (lstat), never reading file content.

/// Per-silo estimate.
public struct SiloEstimate: Codable, Sendable {
    public var silo: String
    public var files: Int
    public var dirs: Int
    public var bytes: UInt64
    /// Files whose metadata differs from the latest snapshot (or all, when there is none).
    public var changedFiles: Int
    public var changedBytes: UInt64
    public var hasSnapshot: Bool
}

/// The parent snapshot's tree for the directory being walked (nil: no parent there).
private struct ParentLevel {
    var tree: Tree?
}

extension Repository {
    /// Walks the silos' metadata beside their latest snapshot trees, with the walk options
    /// (`excludes`, `oneFileSystem`) of `options` that a snapshot would use.
    public func estimate(silos names: [String] = [], options: SnapshotOptions = SnapshotOptions()) throws -> [SiloEstimate] {
        let all = try silos()
        let chosen = try names.isEmpty ? all : names.map { try silo($0) }
        let snaps = try snapshots()
        let reader = makeReader()
        var out: [SiloEstimate] = []
        for s in chosen {
            let parent = snaps.last(where: { $0.record.silo(s.name) != nil })?.record.silo(s.name)
            let ptree = try parent.flatMap { BlockId(hex: $0.tree) }.map { try tree($0, reader: reader) }
            var est = SiloEstimate(silo: s.name, files: 0, dirs: 0, bytes: 0, changedFiles: 0, changedBytes: 0, hasSnapshot: parent != nil)
            if s.kind == .command {
                est.files = 1
                est.changedFiles = 1
                out.append(est)
                continue
            }
            let path = s.path ?? ""
            // The same walk and the same "unchanged" rule as a snapshot (Docs/Architecture.md).
            let walker = TreeWalker(excludes: ExcludeMatcher(s.excludes).adding(options.excludes), oneFileSystem: options.oneFileSystem)
            if let st = try FS.lstatIfExists(path) {
                if st.kind == .directory {
                    est.dirs = 1
                    if let root = try walker.openRoot(FileName(utf8: path)) {
                        try walker.walk(root, context: ParentLevel(tree: ptree)) { dir, e, parent in
                            let pe = parent.tree?.entry(named: e.name)
                            switch e.stat.kind {
                            case .directory:
                                est.dirs += 1
                                return ParentLevel(tree: pe.flatMap { $0.kind == .directory ? $0.subtree : nil }.flatMap { try? tree($0, reader: reader) })
                            case .file:
                                countFile(e.stat, parent: pe, path: dir.path(of: e.name), into: &est)
                            default: break
                            }
                            return nil
                        }
                    }
                } else {
                    countFile(st, parent: ptree?.entry(named: FileName(utf8: FS.basename(path))), path: FileName(utf8: path), into: &est)
                }
            }
            out.append(est)
        }
        return out
    }

    func countFile(_ st: FileStat, parent: TreeEntry?, path: FileName, into est: inout SiloEstimate) {
        est.files += 1
        est.bytes += st.size
        if let p = parent, Unchanged.file(p, st, path: path) { return }
        est.changedFiles += 1
        est.changedBytes += st.size
    }
}
