// Walk: the one way Cairn walks a live tree. Snapshot, estimate, `diff ... live` (through a
// dry-run snapshot) and restore's comparison with the live silo all list, filter and open
// directories through `TreeWalker`, and judge files with `Unchanged`.
//
// Owns: listing a directory open as a descriptor (names as bytes, byte order), the policy
// hooks (exclude patterns, one file system, the SQLite siblings captured with their
// database) and the error policy (what could not be listed, stat'ed or opened is reported
// to `onIssue`, which decides whether the walk goes on). Every syscall is relative to a
// directory descriptor and never follows a symlink, so a tree that changes during the walk
// cannot lead it outside the root. Read-only: no crash properties of its own.

#if canImport(Glibc)
import Glibc
#endif

/// One directory open during a walk. The descriptor is closed when the value goes away.
public final class WalkDirectory {
    /// The open directory.
    public let fd: Int32
    /// Its full path (messages and path-based APIs such as SQLite).
    public let path: FileName
    /// Its path relative to the walk's root (empty for the root).
    public let rel: FileName
    /// The file system it is on (`st_dev`).
    public let device: UInt64

    init(fd: Int32, path: FileName, rel: FileName, device: UInt64) {
        self.fd = fd; self.path = path; self.rel = rel; self.device = device
    }

    deinit { Glibc.close(fd) }

    /// The full path of a child.
    public func path(of name: FileName) -> FileName { path.appending(name) }
    /// The root-relative path of a child.
    public func rel(of name: FileName) -> FileName { rel.appending(name) }
}

/// A child found in a directory: its name and `lstat`.
public struct WalkEntry: Sendable {
    public var name: FileName
    public var stat: FileStat
}

/// Something the walk could not do; the walker's `onIssue` decides what happens.
public struct WalkIssue: Error, Sendable {
    public enum Kind: Sendable { case cannotList, cannotStat, cannotOpen }
    public var kind: Kind
    /// The full path concerned.
    public var path: FileName
    /// The system error, as a one-line message.
    public var error: CairnError

    /// The warning `snapshot` prints for it (what was stored instead).
    public var warning: String {
        switch kind {
        case .cannotList, .cannotOpen: return "\(path.escaped): cannot list directory (\(error.message)); stored as empty"
        case .cannotStat: return "\(path.escaped): skipped (\(error.message))"
        }
    }
}

/// The tree walker (see the file header). A value with its policy; walks are driven by the
/// caller (`entries` then `open` for each directory to descend) or by `walk`.
public struct TreeWalker {
    /// Patterns of paths to leave out (they are neither listed nor descended into).
    public var excludes: ExcludeMatcher
    /// Do not descend into a directory on another file system than the root (a mount point
    /// is kept, as an empty directory).
    public var oneFileSystem: Bool
    /// Leave out the `-wal`, `-shm` and `-journal` files beside a live SQLite database: they
    /// are part of the database, captured with it.
    public var skipSQLiteSiblings: Bool
    /// Error policy: called for each path that cannot be listed, stat'ed or opened. Return to
    /// skip it (a directory that cannot be listed has no entries), throw to stop the walk.
    public var onIssue: (WalkIssue) throws -> Void

    /// A walker with the given policy; by default issues are skipped silently.
    public init(excludes: ExcludeMatcher = ExcludeMatcher([]), oneFileSystem: Bool = false, skipSQLiteSiblings: Bool = true,
                onIssue: @escaping (WalkIssue) throws -> Void = { _ in }) {
        self.excludes = excludes
        self.oneFileSystem = oneFileSystem
        self.skipSQLiteSiblings = skipSQLiteSiblings
        self.onIssue = onIssue
    }

    /// Opens the directory at `path` as a walk's root (following a final symlink only when
    /// `followLink`). Nil when it cannot be opened (reported to `onIssue`).
    public func openRoot(_ path: FileName, followLink: Bool = false) throws -> WalkDirectory? {
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followLink ? 0 : O_NOFOLLOW)) }
        if fd < 0 {
            try onIssue(WalkIssue(kind: .cannotOpen, path: path, error: CairnError.posix("cannot open directory", path: path.escaped)))
            return nil
        }
        var st = Glibc.stat()
        let device: UInt64 = fstat(fd, &st) == 0 ? UInt64(st.st_dev) : 0
        return WalkDirectory(fd: fd, path: path, rel: FileName(bytes: []), device: device)
    }

    /// The children of `dir` in byte order, with their `lstat`, without excluded paths and
    /// (when asked) SQLite siblings. A directory that cannot be listed has none.
    public func entries(of dir: WalkDirectory) throws -> [WalkEntry] {
        let names: [FileName]
        do { names = try FS.At.names(dir.fd, display: dir.path.escaped) } catch let e as CairnError {
            try onIssue(WalkIssue(kind: .cannotList, path: dir.path, error: e))
            return []
        }
        var out: [WalkEntry] = []
        out.reserveCapacity(names.count)
        for name in names {
            if skipSQLiteSiblings && isSQLiteSibling(name, among: names, in: dir) { continue }
            let st: FileStat
            do { st = try FS.At.lstat(dir.fd, name, display: dir.path(of: name).escaped) } catch let e as CairnError {
                if e.errno == ENOENT { continue } // vanished since the listing
                try onIssue(WalkIssue(kind: .cannotStat, path: dir.path(of: name), error: e))
                continue
            }
            if excludes.active && excludes.excludes(dir.rel(of: name), name: name, isDirectory: st.kind == .directory) { continue }
            out.append(WalkEntry(name: name, stat: st))
        }
        return out
    }

    /// Opens the child directory `entry` of `dir` to descend into it. Nil when its contents
    /// are not walked: another file system under `oneFileSystem` (silently), or it cannot be
    /// opened (reported to `onIssue`).
    public func open(_ entry: WalkEntry, in dir: WalkDirectory) throws -> WalkDirectory? {
        if oneFileSystem && entry.stat.device != dir.device { return nil }
        let fd = entry.name.withCString { openat(dir.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 {
            let path = dir.path(of: entry.name)
            try onIssue(WalkIssue(kind: .cannotOpen, path: path, error: CairnError.posix("cannot open", path: path.escaped)))
            return nil
        }
        return WalkDirectory(fd: fd, path: dir.path(of: entry.name), rel: dir.rel(of: entry.name), device: entry.stat.device)
    }

    /// Walks depth-first from `dir`: `visit` sees each entry with its directory and the
    /// context of that directory; for a directory it returns the context to descend with, or
    /// nil to skip its contents.
    public func walk<Context>(_ dir: WalkDirectory, context: Context, _ visit: (WalkDirectory, WalkEntry, Context) throws -> Context?) throws {
        for e in try entries(of: dir) {
            guard let sub = try visit(dir, e, context), e.stat.kind == .directory else { continue }
            if let d = try open(e, in: dir) { try walk(d, context: sub, visit) }
        }
    }

    /// A "-wal", "-shm" or "-journal" file beside a live SQLite database in the same directory.
    public func isSQLiteSibling(_ name: FileName, among names: [FileName], in dir: WalkDirectory) -> Bool {
        guard name.bytes.last.map({ $0 == 0x6C || $0 == 0x6D }) ?? false else { return false } // "-wal", "-shm", "-journal"
        for suffix in SQLiteCapture.siblingSuffixBytes where name.hasSuffix(suffix) {
            let base = FileName(bytes: name.bytes.dropLast(suffix.count))
            guard Self.contains(names, base) else { continue }
            if SQLiteCapture.isDatabase(dir.path(of: base)) { return true }
        }
        return false
    }

    /// Binary search in byte-sorted names.
    static func contains(_ names: [FileName], _ name: FileName) -> Bool {
        var lo = 0, hi = names.count - 1
        while lo <= hi {
            let mid = lo + (hi - lo) / 2
            if names[mid] == name { return true }
            if names[mid] < name { lo = mid + 1 } else { hi = mid - 1 }
        }
        return false
    }
}
