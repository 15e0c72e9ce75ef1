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

extension Repository {
    /// Walks the silos' metadata beside their latest snapshot trees.
    public func estimate(silos names: [String] = []) throws -> [SiloEstimate] {
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
            let matcher = ExcludeMatcher(s.excludes)
            if let st = try FS.lstatIfExists(path) {
                if st.kind == .directory {
                    est.dirs = 1
                    try estimateDir(FileName(utf8: path), rel: FileName(bytes: []), parent: ptree, matcher: matcher, reader: reader, into: &est)
                } else {
                    countFile(st, parent: ptree?.entry(named: FileName(utf8: FS.basename(path))), into: &est)
                }
            }
            out.append(est)
        }
        return out
    }

    func countFile(_ st: FileStat, parent: TreeEntry?, into est: inout SiloEstimate) {
        est.files += 1
        est.bytes += st.size
        if let p = parent, p.kind == .file, p.size == st.size, p.mtime == st.mtime, p.ctime == st.ctime, p.inode == st.inode { return }
        est.changedFiles += 1
        est.changedBytes += st.size
    }

    func estimateDir(_ path: FileName, rel: FileName, parent: Tree?, matcher: ExcludeMatcher, reader: BlockReader, into est: inout SiloEstimate) throws {
        guard let names = try? FS.list(path) else { return }
        for n in names {
            let rp = rel.appending(n)
            if matcher.excludes(rp, name: n) { continue }
            let full = path.appending(n)
            guard let st = try? FS.lstat(full) else { continue }
            let pe = parent?.entry(named: n)
            switch st.kind {
            case .directory:
                est.dirs += 1
                let sub = pe.flatMap { $0.kind == .directory ? $0.subtree : nil }.flatMap { try? tree($0, reader: reader) }
                try estimateDir(full, rel: rp, parent: sub, matcher: matcher, reader: reader, into: &est)
            case .file:
                countFile(st, parent: pe, into: &est)
            default:
                continue
            }
        }
    }
}
