// Overlap by identity: whether two paths are the same directory, or one lies inside the
// other, decided by the (st_dev, st_ino) of the real path and of every one of its
// ancestors, never by spelling. A symlinked path, a bind mount, `..` or `/` cannot hide
// that a silo contains the repository (whose in-place restore would then swap the
// repository away and delete it) or lies inside it.

#if canImport(Glibc)
import Glibc
#endif

/// The identity of a file: device and inode.
struct FileIdentity: Hashable, Sendable {
    var dev: UInt64
    var ino: UInt64
}

enum Overlap {
    /// The real path of `path` (symlinks resolved), or of its nearest existing ancestor
    /// followed by the components that do not exist yet.
    static func realPath(_ path: String) -> String {
        // Relative to the working directory, but `..` is left to the kernel (after a symlink it is not the textual parent).
        var abs = path
        if !abs.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: 4096)
            abs = (getcwd(&buf, 4096) != nil ? FS.string(cBuffer: buf) : "") + "/" + path
        }
        if let r = realpath(abs, nil) {
            defer { free(r) }
            return String(cString: r)
        }
        let parent = FS.parent(abs)
        if parent == abs || abs == "/" { return abs }
        return FS.join(realPath(parent), FS.basename(abs))
    }

    static func identity(_ path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    /// Identities of the real path of `path` and of each of its ancestors up to `/`
    /// (components that do not exist yet are skipped).
    static func chain(_ path: String) -> [FileIdentity] {
        var out: [FileIdentity] = []
        var p = realPath(path)
        while true {
            if let id = identity(p) { out.append(id) }
            let up = FS.parent(p)
            if up == p || p == "/" { break }
            p = up.isEmpty ? "/" : up
        }
        return out
    }

    /// True when `inner` is `outer` or lies somewhere below it.
    static func isInside(_ inner: String, _ outer: String) -> Bool {
        guard let o = identity(realPath(outer)) else { return false }
        return chain(inner).contains(o)
    }

    /// True when either path is the other or lies inside it.
    static func overlaps(_ a: String, _ b: String) -> Bool { isInside(a, b) || isInside(b, a) }
}

extension Repository {
    /// Refuses a silo path that contains the repository or lies inside it (by identity).
    func checkNotOverlappingRepository(_ path: String, what: String) throws {
        if Overlap.overlaps(path, root) {
            throw CairnError(.invalidInput, "\(what) \(path) overlaps the repository \(root) (compared by device and inode, through symlinks and mounts); keep the repository outside its silos", path: path)
        }
    }

    /// Checks, at snapshot or restore time, that a registered path silo still does not overlap
    /// the repository: a symlink along its path may have changed since `silo add`.
    public func checkSiloOverlap(_ silo: Silo) throws {
        guard silo.kind == .path, let p = silo.path else { return }
        if Overlap.overlaps(p, root) {
            throw CairnError(.siloFailed, "silo '\(silo.name)': its path \(p) now overlaps the repository \(root) (a symlink or mount along the path changed); the silo was not snapshotted. Move the repository out of it or `cairn silo remove \(silo.name)`", path: p)
        }
    }

    /// Refuses a `restore --to` folder that lies inside (or contains) the repository or a registered silo.
    func checkRestoreDestination(_ dir: String) throws {
        try checkNotOverlappingRepository(dir, what: "restore destination")
        for s in try silos() where s.kind == .path {
            guard let p = s.path else { continue }
            if Overlap.overlaps(dir, p) {
                throw CairnError(.invalidInput, "restore destination \(dir) overlaps silo '\(s.name)' (\(p)); restore it in place (without --to), or choose a folder outside every silo", path: dir)
            }
        }
    }
}
