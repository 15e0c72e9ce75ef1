// Partial restores (`--include GLOB`): only matching paths are written, each one
// atomically (built at a temporary name in its directory, then renamed over the live
// path, or exchanged with it when the type changes). Nothing else in the silo changes:
// live paths outside the selection, and live files the snapshot lacks, are left alone.
// Temporary names carry the journal's token so recovery can remove leftovers.

#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

extension Restorer {
    /// In-place partial restore: journal of the touched directories, safety snapshot, then
    /// one atomic replacement per included path.
    func includeInPlace(_ plans: [Plan], snap: Snapshot, token: String, materializer m: Materializer) throws -> String? {
        var dirs = Set<FileName>()
        for p in plans { try walkIncluded(p, root: p.target, token: token, materializer: nil, dirs: &dirs) }
        let journal = RestoreJournal(token: token, snapshot: snap.id, pid: getpid(), host: FS.hostname(), state: .include,
                                     silos: [], includeDirs: dirs.sorted())
        try journal.save(repo.layout)
        let safety = try takeSafetySnapshot(plans, snap: snap)
        // Each replaced file must be durable before its rename: fsync one by one here.
        m.fsyncEach = true
        var ignored = Set<FileName>()
        for p in plans { try walkIncluded(p, root: p.target, token: token, materializer: m, dirs: &ignored) }
        try RestoreJournal.remove(repo.layout)
        return safety
    }

    /// Writes the included entries of one silo below `root` (used by --to with --include too).
    func writeIncluded(_ p: Plan, root: String, token: String?, materializer m: Materializer) throws {
        var dirs = Set<FileName>()
        try walkIncluded(p, root: root, token: token ?? "to", materializer: m, dirs: &dirs)
    }

    /// Walks the silo's tree; with a materializer, writes included entries, otherwise only
    /// collects the directories that would receive temporary files. Paths are bytes, and so
    /// are the journal's directories (names in JSON, Docs/Format.md).
    func walkIncluded(_ p: Plan, root: String, token: String, materializer m: Materializer?, dirs: inout Set<FileName>) throws {
        let matcher = IncludeMatcher(options.include, silo: p.name)
        let rootPath = FileName(utf8: root)
        if p.kind == "file" {
            let t = try repo.tree(p.tree, reader: reader, path: p.name)
            guard let e = t.entries.first, matcher.includes(e.name) else { return }
            let target = options.to == nil ? rootPath : rootPath.appending(e.name)
            dirs.insert(FileName(utf8: options.to == nil ? FS.parent(root) : root))
            if let m { try place(e, at: target, display: p.name + "/" + e.name.escaped, token: token, materializer: m) }
            return
        }
        try walkDir(p.tree, liveDir: rootPath, rel: FileName(bytes: []), silo: p.name, matcher: matcher, token: token, materializer: m, dirs: &dirs)
    }

    private func walkDir(_ id: BlockId, liveDir: FileName, rel: FileName, silo: String, matcher: IncludeMatcher, token: String,
                         materializer m: Materializer?, dirs: inout Set<FileName>) throws {
        let t = try repo.tree(id, reader: reader, path: silo + (rel.isEmpty ? "" : "/" + rel.escaped))
        for e in t.entries {
            let r = rel.appending(e.name)
            let path = liveDir.appending(e.name)
            let display = silo + "/" + r.escaped
            let live = try FS.lstatIfExists(path)
            if e.kind == .directory, let sub = e.subtree {
                if let live, live.kind == .directory {
                    try walkDir(sub, liveDir: path, rel: r, silo: silo, matcher: matcher, token: token, materializer: m, dirs: &dirs)
                    if matcher.includes(r), m != nil {
                        if path.withCString({ chmod($0, mode_t(e.mode & 0o7777)) }) != 0 { throw CairnError.posix("cannot set mode of", path: path.escaped) }
                        try? FS.setTimes(path, e.mtime)
                    }
                } else if matcher.includes(r) {
                    dirs.insert(liveDir)
                    if let m { try place(e, at: path, display: display, token: token, materializer: m) }
                } else if try subtreeHasMatch(sub, rel: r, matcher: matcher, silo: silo) {
                    // A parent of included paths that the live silo lacks: create it with the snapshot's mode.
                    dirs.insert(liveDir)
                    if m != nil {
                        if live != nil { continue } // a non-directory sits there and is not selected: leave it
                        if path.withCString({ mkdir($0, mode_t(e.mode & 0o7777)) }) != 0 { throw CairnError.posix("cannot create directory", path: path.escaped) }
                    }
                    try walkDir(sub, liveDir: path, rel: r, silo: silo, matcher: matcher, token: token, materializer: m, dirs: &dirs)
                }
            } else if matcher.includes(r) {
                dirs.insert(liveDir)
                if let m { try place(e, at: path, display: display, token: token, materializer: m) }
            }
        }
    }

    private func subtreeHasMatch(_ id: BlockId, rel: FileName, matcher: IncludeMatcher, silo: String) throws -> Bool {
        let t = try repo.tree(id, reader: reader, path: silo + "/" + rel.escaped)
        for e in t.entries {
            let r = rel.appending(e.name)
            if matcher.includes(r) { return true }
            if e.kind == .directory, let s = e.subtree, try subtreeHasMatch(s, rel: r, matcher: matcher, silo: silo) { return true }
        }
        return false
    }

    /// Builds `e` at a temporary name beside `path`, then moves it into place atomically.
    private func place(_ e: TreeEntry, at path: FileName, display: String, token: String, materializer m: Materializer) throws {
        let base = path.lastComponent
        let dir = FileName(bytes: path.bytes.dropLast(base.bytes.count + 1))
        let tmp = dir.appending(bytes: Array(".cairn-restore-\(token)-".utf8) + base.bytes)
        try FS.removeTree(tmp)
        do {
            try m.writeEntry(e, at: tmp, display: display)
            if let live = try FS.lstatIfExists(path) {
                if live.kind == .directory || e.kind == .directory {
                    if tmp.withCString({ t in path.withCString { cairn_rename_exchange(t, $0) } }) != 0 {
                        throw CairnError.posix("cannot swap the restored path with", path: path.escaped)
                    }
                    try FS.removeTree(tmp)
                } else {
                    try FS.rename(tmp, path)
                }
            } else {
                try FS.rename(tmp, path)
            }
            try FS.syncDirectory(dir)
        } catch {
            try? FS.removeTree(tmp)
            throw error
        }
    }
}
