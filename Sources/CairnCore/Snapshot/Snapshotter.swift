// Snapshot: walking silos and turning them into trees and a snapshot record.
//
// Owns: the snapshot pipeline. For each silo it walks the live tree beside the same
// silo's tree in the parent snapshot; a regular file whose size, mtime (ns), ctime and
// inode match its parent entry is not read again (its content refs are reused).
// Everything else flows through `ChunkPipeline`. Directory nodes are stored bottom-up.
// Crash properties: blocks reach packs and the index first; the snapshot record is
// written last (Repository.saveSnapshot), so an interrupted snapshot leaves no record
// and only unreferenced blocks, which `check` accepts and `prune` removes.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What to snapshot.
public struct SnapshotOptions: Sendable {
    /// Silo names; empty means all registered silos.
    public var silos: [String] = []
    public var tags: [String] = []
    public var message: String = ""
    /// Override of the recorded time (tests, imports).
    public var timeNs: Int64?
    /// Walk and hash, but store nothing and record nothing (used by `diff ... live`).
    public var dryRun = false
    /// Seconds a command silo may run before its process group is killed (nil: the silo's own
    /// `timeout`, else `CommandSilo.defaultTimeout`).
    public var commandTimeout: Double?
    /// Application metadata recorded with the snapshot (validated by `SnapshotMeta`).
    public var meta: [String: String] = [:]
    public init(silos: [String] = [], tags: [String] = [], message: String = "") {
        self.silos = silos
        self.tags = tags
        self.message = message
    }
}

/// What a snapshot run did.
public struct SnapshotResult: Sendable {
    /// The recorded snapshot (nil on a dry run or when every silo failed).
    public var snapshot: Snapshot?
    /// Root trees per silo (also on a dry run).
    public var trees: [String: BlockId]
    public var warnings: [String]
    /// Silos that failed, with the reason.
    public var failedSilos: [String: String]
    public var filesRead: Int
    public var bytesRead: UInt64
    public var stats: WriteStats
    /// On a dry run: the new tree and list blocks it would have stored (raw bytes by id).
    /// With the repository behind them they hold every tree in `trees`.
    public var dryRunMetaBlocks: [BlockId: [UInt8]] = [:]
    public var partial: Bool { !warnings.isEmpty || !failedSilos.isEmpty }
}

/// Counters shown by progress displays.
public struct SnapshotProgress: Sendable {
    public var files = 0
    public var bytesSeen: UInt64 = 0
    public var bytesRead: UInt64 = 0
    /// The path being read (raw bytes; show it with `.escaped`).
    public var currentPath = FileName(bytes: [])
}

/// Runs one snapshot. Create one per snapshot.
public final class Snapshotter {
    let repo: Repository
    let writer: BlockWriter
    let reader: BlockReader
    let pipeline: ChunkPipeline
    let options: SnapshotOptions
    var warnings: [String] = []
    var filesRead = 0
    /// Live SQLite databases stored by reading the quiescent file in place (no backup copy).
    public private(set) var sqliteReadInPlace = 0
    var progress = SnapshotProgress()
    let accounts = Accounts()
    /// Called now and then with the running counters.
    public var onProgress: ((SnapshotProgress) -> Void)?
    /// Polled after each file: true stops the run with an error before anything is recorded
    /// (blocks already stored stay unreferenced until `cairn prune`). Used by `cairn serve` jobs.
    public var shouldCancel: (() -> Bool)?

    public init(repository: Repository, options: SnapshotOptions) {
        repo = repository
        self.options = options
        writer = repository.makeWriter()
        writer.dryRun = options.dryRun
        reader = repository.makeReader()
        pipeline = ChunkPipeline(chunker: FastCDC(repository.config.chunker), writer: writer)
    }

    struct Counts {
        var files = 0, dirs = 0, symlinks = 0, sqlite = 0, filesRead = 0
        var bytes: UInt64 = 0
    }

    /// Walks the silos, stores what is new and records the snapshot.
    public func run() throws -> SnapshotResult {
        let all = try repo.silos()
        var chosen: [Silo] = []
        if options.silos.isEmpty {
            chosen = all
        } else {
            for n in options.silos {
                guard let s = all.first(where: { $0.name == n }) else { throw repo.unknownSilo(n, known: all) }
                if !chosen.contains(s) { chosen.append(s) }
            }
        }
        guard !chosen.isEmpty else { throw CairnError(.notFound, "no silos registered; add one with `cairn silo add NAME PATH`") }
        let snaps = try repo.snapshots()
        // New trees are CTR2: a format-1 repository becomes format 2 before the first one is written.
        if !options.dryRun { try repo.migrateFormatIfNeeded() }
        let time = options.timeNs ?? Int64(Date().timeIntervalSince1970 * 1e9)
        var silos: [SiloSnapshot] = []
        var trees: [String: BlockId] = [:]
        var failed: [String: String] = [:]
        for silo in chosen {
            let parent = ParentSelection.parent(for: silo, in: snaps)
            // A parent whose root tree is lost (recorded missing by `check`) is no parent: read everything.
            let parentTree = parent.flatMap { BlockId(hex: $0.tree) }.flatMap { try? repo.tree($0, reader: reader, path: silo.name) }
            let before = warnings.count
            do {
                var c = Counts()
                let root: Tree
                switch silo.kind {
                case .path:
                    root = try snapshotPath(silo, parent: parentTree, counts: &c)
                case .command:
                    root = try snapshotCommand(silo, counts: &c)
                }
                let id = try writer.put(kind: .tree, bytes: root.encode())
                trees[silo.name] = id
                silos.append(SiloSnapshot(name: silo.name, kind: siloKind(silo), tree: id.hex, source: silo.path ?? silo.command ?? "",
                                          files: c.files, dirs: c.dirs, symlinks: c.symlinks, bytes: c.bytes, filesRead: c.filesRead,
                                          sqliteDatabases: c.sqlite, warnings: Array(warnings[before...])))
            } catch let e as CairnError where e.code == .siloFailed {
                failed[silo.name] = e.message
            } catch { writer.discard(); throw error }  // wait for the pack being written: no pack.tmp left behind
        }
        try writer.flush()
        var result = SnapshotResult(snapshot: nil, trees: trees, warnings: warnings, failedSilos: failed, filesRead: filesRead,
                                    bytesRead: pipeline.bytesRead, stats: writer.stats)
        if options.dryRun { result.dryRunMetaBlocks = writer.dryRunMetaBlocks }
        if options.dryRun || silos.isEmpty { return result }
        let record = SnapshotRecord(version: 1, timeNs: time, hostname: FS.hostname(), tags: options.tags, message: options.message,
                                    parent: snaps.last?.id, silos: silos, bytesAdded: writer.stats.storedBytesAdded,
                                    blocksAdded: writer.stats.blocksAdded, partial: !warnings.isEmpty || !failed.isEmpty, program: Cairn.versionString)
        var withMeta = record
        if !options.meta.isEmpty { withMeta.meta = options.meta }
        result.snapshot = try repo.saveSnapshot(withMeta)
        return result
    }

    func siloKind(_ s: Silo) -> String {
        if s.kind == .command { return "command" }
        return (try? FS.lstat(s.path ?? ""))?.kind == .directory ? "directory" : "file"
    }

    // MARK: Walking

    func snapshotPath(_ silo: Silo, parent: Tree?, counts: inout Counts) throws -> Tree {
        let path = silo.path ?? ""
        try repo.checkSiloOverlap(silo)
        guard let st = try FS.lstatIfExists(path) else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': its path \(path) no longer exists; re-create it or `cairn silo remove \(silo.name)`", path: path)
        }
        let matcher = ExcludeMatcher(silo.excludes)
        let isDir = st.kind == .directory
        // The walk runs relative to directory descriptors with byte names (Docs/Architecture.md).
        let dirPath = isDir ? path : FS.parent(path)
        let fd = Glibc.open(dirPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (isDir ? O_NOFOLLOW : 0))
        if fd < 0 {
            let err = CairnError.posix("cannot open directory", path: dirPath)
            if isDir {
                warnings.append("\(path): cannot list directory (\(err.message)); stored as empty")
                counts.dirs += 1
                return Tree(entries: [])
            }
            throw CairnError(.siloFailed, "silo '\(silo.name)': \(err.message)", path: path)
        }
        defer { Glibc.close(fd) }
        if isDir {
            counts.dirs += 1
            return try walkDirectory(fd, path: FileName(utf8: path), rel: FileName(bytes: []), parent: parent, matcher: matcher, counts: &counts)
        }
        let name = FileName(utf8: FS.basename(path))
        guard let e = try entry(in: fd, name: name, dir: FileName(utf8: dirPath), rel: FileName(bytes: []), stat: st, parent: parent?.entry(named: name),
                                counts: &counts, matcher: matcher) else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': \(path) cannot be read", path: path)
        }
        return Tree(entries: [e])
    }

    /// Walks the directory open as `fd` (full path `path`, silo-relative `rel`).
    func walkDirectory(_ fd: Int32, path: FileName, rel: FileName, parent: Tree?, matcher: ExcludeMatcher, counts: inout Counts) throws -> Tree {
        let names: [FileName]
        do { names = try FS.At.names(fd, display: path.escaped) } catch let e as CairnError {
            warnings.append("\(path.escaped): cannot list directory (\(e.message)); stored as empty")
            return Tree(entries: [])
        }
        var entries: [TreeEntry] = []
        entries.reserveCapacity(names.count)
        for name in names {
            if matcher.active && matcher.excludes(rel.appending(name), name: name) { continue }
            if isSQLiteSibling(name, among: names, in: fd, dir: path) { continue }
            let st: FileStat
            do { st = try FS.At.lstat(fd, name, display: path.appending(name).escaped) } catch let e as CairnError {
                warnings.append("\(path.appending(name).escaped): skipped (\(e.message))")
                continue
            }
            if let e = try entry(in: fd, name: name, dir: path, rel: rel, stat: st, parent: parent?.entry(named: name), counts: &counts, matcher: matcher) {
                entries.append(e)
            }
        }
        return Tree(sortedEntries: entries)
    }

    /// A "-wal", "-shm" or "-journal" file beside a live SQLite database (captured with it).
    func isSQLiteSibling(_ name: FileName, among names: [FileName], in fd: Int32, dir: FileName) -> Bool {
        guard name.bytes.last.map({ $0 == 0x6C || $0 == 0x6D }) ?? false else { return false } // "-wal", "-shm", "-journal"
        for suffix in SQLiteCapture.siblingSuffixBytes where name.hasSuffix(suffix) {
            let base = FileName(bytes: name.bytes.dropLast(suffix.count))
            guard Self.contains(names, base), let p = dir.appending(base).utf8String else { continue }
            if SQLiteCapture.isDatabase(p) { return true }
        }
        return false
    }

    /// Binary search in byte-sorted names.
    static func contains(_ names: [FileName], _ name: FileName) -> Bool {
        var lo = 0, hi = names.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if names[mid] == name { return true }
            if names[mid] < name { lo = mid + 1 } else { hi = mid - 1 }
        }
        return false
    }

    /// Builds the entry for `name` in the directory open as `fd` (full path `dir`, silo-relative
    /// `rel`), storing its content when needed. Nil when skipped. Paths are built only when
    /// needed (directories, files read, messages): the unchanged-file path allocates none.
    func entry(in fd: Int32, name: FileName, dir: FileName, rel parentRel: FileName, stat st: FileStat, parent: TreeEntry?, counts: inout Counts,
               matcher: ExcludeMatcher) throws -> TreeEntry? {
        var e = TreeEntry(name: name, kind: .file, mode: st.mode, mtimeNs: 0, inode: st.inode, size: st.size)
        e.mtime = st.mtime
        e.ctime = st.ctime
        e.owner = accounts.ownership(uid: st.uid, gid: st.gid)
        var path: FileName { dir.appending(name) }
        switch st.kind {
        case .directory:
            let rel = parentRel.appending(name)
            let path = path
            e.kind = .directory
            e.size = 0
            counts.dirs += 1
            let sub = parent.flatMap { $0.kind == .directory ? $0.subtree : nil }.map { try? repo.tree($0, reader: reader, path: rel.escaped) } ?? nil
            let dfd = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            let tree: Tree
            if dfd < 0 {
                warnings.append("\(path.escaped): cannot list directory (\(CairnError.posix("cannot open", path: path.escaped).message)); stored as empty")
                tree = Tree(entries: [])
            } else {
                defer { Glibc.close(dfd) }
                tree = try walkDirectory(dfd, path: path, rel: rel, parent: sub, matcher: matcher, counts: &counts)
            }
            e.subtree = try writer.put(kind: .tree, bytes: tree.encode())
        case .symlink:
            e.kind = .symlink
            do { e.target = try FS.At.readlink(fd, name, display: path.escaped) } catch let err as CairnError {
                warnings.append("\(path.escaped): skipped (\(err.message))")
                return nil
            }
            counts.symlinks += 1
        case .file:
            e.links = st.links
            if st.links > 1 { e.device = st.device }
            let wasSQLite = parent.map { $0.flags & TreeEntry.flagSQLite != 0 } ?? false
            let fp = wasSQLite ? path.utf8String.map { SQLiteCapture.fingerprint($0) } ?? 0 : 0
            progress.currentPath = dir
            if let p = parent, p.kind == .file, p.size == st.size, p.mtime == st.mtime, p.ctime == st.ctime,
               p.inode == st.inode, p.fingerprint == fp, p.flags & TreeEntry.flagChangedWhileReading == 0,
               !repo.contentMissing(p, reader: reader) {
                // Unchanged: reuse the content refs; the metadata is this stat's.
                let (owner, links, device) = (e.owner, e.links, e.device)
                e = p
                e.name = name
                e.owner = owner
                e.links = links
                e.device = device
            } else {
                let path = path
                progress.currentPath = path
                do {
                    guard try readFile(in: fd, name: name, path: path, stat: st, into: &e, counts: &counts) else { return nil }
                } catch let err as CairnError where err.code == .io {
                    warnings.append("\(path.escaped): skipped, cannot be read (\(err.message))")
                    return nil
                }
            }
            if e.flags & TreeEntry.flagSQLite != 0 { counts.sqlite += 1 }
            counts.files += 1
            counts.bytes += e.size
            progress.files += 1
            progress.bytesSeen += e.size
            onProgress?(progress)
            if shouldCancel?() == true {
                throw CairnError(.partial, "the snapshot was cancelled at \(path); nothing was recorded")
            }
        case .other:
            warnings.append("\(path.escaped): skipped (not a regular file, directory or symlink)")
            return nil
        }
        return e
    }

    /// Reads a file through the pipeline, re-reading when it changes underneath. False when it vanished.
    func readFile(in dirfd: Int32, name: FileName, path: FileName, stat st: FileStat, into e: inout TreeEntry, counts: inout Counts) throws -> Bool {
        counts.filesRead += 1
        filesRead += 1
        // SQLite opens databases by path: only paths that are valid UTF-8 are captured live.
        // The header is read (pread) from the descriptor the plain read then uses: no second open.
        var headerChecked = st.size < 16
        var attempt = 0
        while true {
            attempt += 1
            let f: PosixFile
            do { f = try FS.At.open(dirfd, name, O_RDONLY | O_NOFOLLOW, display: path.escaped) } catch let err as CairnError where err.errno == ENOENT {
                _ = err
                return false
            }
            defer { f.close() }
            if !headerChecked {
                headerChecked = true
                if SQLiteCapture.hasHeader(f), let sp = path.utf8String, try captureSQLite(sp, stat: st, into: &e) { return true }
            }
            let before = try f.stat()
            let r = try pipeline.process { try f.read(into: $0, count: $1) }
            let after = try f.stat()
            progress.bytesRead += r.length
            let stable = before.size == after.size && before.mtime == after.mtime && r.length == after.size
            if stable || attempt >= 3 {
                e.size = r.length
                e.mode = after.mode
                e.mtime = after.mtime
                e.ctime = after.ctime
                e.inode = after.inode
                if !stable {
                    e.flags |= TreeEntry.flagChangedWhileReading
                    warnings.append("\(path.escaped): changed while being read \(attempt) times; stored the last read, which may be torn")
                }
                (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
                return true
            }
        }
    }

    /// Stores the live SQLite database at `sp` (quiescent: the file itself; else a backup copy).
    /// False, with a warning, when SQLite cannot capture it: the caller stores it as a plain file.
    func captureSQLite(_ sp: String, stat st: FileStat, into e: inout TreeEntry) throws -> Bool {
        let tmp = try repo.temporaryPath("sqlite")
        defer { unlink(tmp); unlink(tmp + "-journal"); unlink(tmp + "-wal") }
        let fp = SQLiteCapture.fingerprint(sp)
        do {
            // Quiescent: the file itself, byte for byte; otherwise a backup copy.
            let r: ChunkPipeline.Result
            if let q = try SQLiteCapture.readQuiescent(sp, { f in try pipeline.process { try f.read(into: $0, count: $1) } }) {
                r = q
                sqliteReadInPlace += 1
            } else {
                try SQLiteCapture.backup(source: sp, destination: tmp)
                let f = try PosixFile.open(tmp, O_RDONLY)
                defer { f.close() }
                r = try pipeline.process { try f.read(into: $0, count: $1) }
            }
            let now = (try? FS.lstat(sp)) ?? st
            e.size = r.length
            e.mtime = now.mtime
            e.ctime = now.ctime
            e.inode = now.inode
            e.fingerprint = fp
            e.flags |= TreeEntry.flagSQLite
            (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
            progress.bytesRead += r.length
            return true
        } catch let err as CairnError {
            warnings.append("\(sp): SQLite backup failed (\(err.message)); stored as a plain file")
            return false
        }
    }

    // MARK: Command silos

    func snapshotCommand(_ silo: Silo, counts: inout Counts) throws -> Tree {
        let r = try CommandSilo.run(silo, timeout: options.commandTimeout, pipeline: pipeline)
        counts.files = 1
        counts.filesRead = 1
        counts.bytes = r.length
        filesRead += 1
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        var e = TreeEntry(name: FileName(utf8: silo.filename ?? "output"), kind: .file, mode: 0o644, mtimeNs: now, size: r.length)
        (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
        return Tree(entries: [e])
    }
}

/// Exclude globs (fnmatch): a pattern with '/' matches the silo-relative path, otherwise the base name.
/// Paths are matched as bytes (fnmatch works on bytes in the C locale).
public struct ExcludeMatcher: Sendable {
    let patterns: [String]
    public init(_ patterns: [String]) { self.patterns = patterns }
    /// False when there are no patterns (nothing is excluded).
    public var active: Bool { !patterns.isEmpty }

    public func excludes(_ rel: FileName, name: FileName) -> Bool {
        if patterns.isEmpty { return false }
        return rel.withCString { r in
            name.withCString { n in
                for p in patterns {
                    if p.contains("/") {
                        if fnmatch(p, r, FNM_PATHNAME) == 0 || fnmatch(p, r, 0) == 0 { return true }
                    } else if fnmatch(p, n, 0) == 0 {
                        return true
                    }
                }
                return false
            }
        }
    }

    /// String form for paths Cairn built from valid UTF-8.
    public func excludes(_ rel: String, name: String) -> Bool { excludes(FileName(utf8: rel), name: FileName(utf8: name)) }
}

/// Build facts.
public enum Cairn {
    public static let version = "0.1.0"
    public static var versionString: String { "cairn \(version)" }
}
