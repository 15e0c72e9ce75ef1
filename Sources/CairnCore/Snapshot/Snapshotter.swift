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
    /// Extra exclude patterns for this run (`--exclude-file`), after each silo's own.
    public var excludes = ExcludeMatcher([])
    /// Do not descend into other file systems (`--one-file-system`).
    public var oneFileSystem = false
    /// Record nothing when every silo's tree equals its parent's (`--skip-if-unchanged`).
    public var skipIfUnchanged = false
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
    /// With `skipIfUnchanged`: the snapshot that already holds this state (nothing was recorded).
    public var unchangedSince: Snapshot?
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
    /// What to snapshot; may be changed before `run` (except `dryRun`, fixed at init).
    public var options: SnapshotOptions
    var warnings: [String] = []
    var filesRead = 0
    /// Live SQLite databases stored by reading the quiescent file in place (no backup copy).
    public private(set) var sqliteReadInPlace = 0
    var progress = SnapshotProgress()
    let accounts = Accounts()
    /// Called now and then with the running counters.
    public var onProgress: ((SnapshotProgress) -> Void)?

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
        var allUnchanged = true
        var parentsUsed: [SiloSnapshot] = []
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
                if allUnchanged, let parent, let pt = parentTree, Self.sameState(root, id, silo: silo, parent: pt, parentId: parent.tree) {
                    parentsUsed.append(parent)
                } else {
                    allUnchanged = false
                }
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
        if options.skipIfUnchanged && allUnchanged && failed.isEmpty && warnings.isEmpty,
           let since = SnapshotOrder.sorted(snaps).last(where: { s in parentsUsed.contains { s.record.silos.contains($0) } }) {
            result.unchangedSince = since
            return result
        }
        let record = SnapshotRecord(version: 1, timeNs: time, hostname: FS.hostname(), tags: options.tags, message: options.message,
                                    parent: snaps.last?.id, silos: silos, bytesAdded: writer.stats.storedBytesAdded,
                                    blocksAdded: writer.stats.blocksAdded, partial: !warnings.isEmpty || !failed.isEmpty, program: Cairn.versionString)
        var withMeta = record
        if !options.meta.isEmpty { withMeta.meta = options.meta }
        result.snapshot = try repo.saveSnapshot(withMeta)
        return result
    }

    /// True when a silo's new root (`root`, stored as `id`) records the same state as its parent
    /// tree: the same tree, or for a command silo the same output (its entry's time is the run's).
    static func sameState(_ root: Tree, _ id: BlockId, silo: Silo, parent: Tree, parentId: String) -> Bool {
        if id.hex == parentId { return true }
        guard silo.kind == .command, root.entries.count == 1, parent.entries.count == 1 else { return false }
        let (a, b) = (root.entries[0], parent.entries[0])
        return a.name == b.name && a.size == b.size && a.content == b.content && a.indirect == b.indirect
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
        var walker = TreeWalker(excludes: ExcludeMatcher(silo.excludes).adding(options.excludes), oneFileSystem: options.oneFileSystem)
        walker.onIssue = { [unowned self] issue in self.warnings.append(issue.warning) }
        let isDir = st.kind == .directory
        // The walk runs relative to directory descriptors with byte names (Docs/Architecture.md).
        if isDir {
            counts.dirs += 1
            guard let root = try walker.openRoot(FileName(utf8: path)) else { return Tree(entries: []) }
            return try walkDirectory(root, walker: walker, parent: parent, counts: &counts)
        }
        let dirPath = FS.parent(path)
        var quiet = walker
        quiet.onIssue = { throw CairnError(.siloFailed, "silo '\(silo.name)': \($0.error.message)", path: path) }
        guard let dir = try quiet.openRoot(FileName(utf8: dirPath), followLink: true) else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': cannot open \(dirPath)", path: path)
        }
        let name = FileName(utf8: FS.basename(path))
        guard let e = try entry(WalkEntry(name: name, stat: st), in: dir, walker: walker, parent: parent?.entry(named: name), counts: &counts) else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': \(path) cannot be read", path: path)
        }
        return Tree(entries: [e])
    }

    /// Walks the directory `dir`, storing the trees below it, and returns its tree.
    func walkDirectory(_ dir: WalkDirectory, walker: TreeWalker, parent: Tree?, counts: inout Counts) throws -> Tree {
        var entries: [TreeEntry] = []
        for child in try walker.entries(of: dir) {
            if let e = try entry(child, in: dir, walker: walker, parent: parent?.entry(named: child.name), counts: &counts) {
                entries.append(e)
            }
        }
        return Tree(sortedEntries: entries)
    }

    /// Builds the entry for `name` in the directory open as `fd` (full path `dir`, silo-relative
    /// `rel`), storing its content when needed. Nil when skipped. Paths are built only when
    /// needed (directories, files read, messages): the unchanged-file path allocates none.
    func entry(_ child: WalkEntry, in d: WalkDirectory, walker: TreeWalker, parent: TreeEntry?, counts: inout Counts) throws -> TreeEntry? {
        let (name, st, fd, dir) = (child.name, child.stat, d.fd, d.path)
        var e = TreeEntry(name: name, kind: .file, mode: st.mode, mtimeNs: 0, inode: st.inode, size: st.size)
        e.mtime = st.mtime
        e.ctime = st.ctime
        e.owner = accounts.ownership(uid: st.uid, gid: st.gid)
        var path: FileName { dir.appending(name) }
        switch st.kind {
        case .directory:
            e.kind = .directory
            e.size = 0
            counts.dirs += 1
            let sub = parent.flatMap { $0.kind == .directory ? $0.subtree : nil }.map { try? repo.tree($0, reader: reader, path: d.rel(of: name).escaped) } ?? nil
            let tree = try walker.open(child, in: d).map { try walkDirectory($0, walker: walker, parent: sub, counts: &counts) } ?? Tree(entries: [])
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
            progress.currentPath = dir
            // Docs/Architecture.md "Unchanged files"; a parent whose content is lost is read again.
            if let p = parent, Unchanged.file(p, st, path: path), !repo.contentMissing(p, reader: reader) {
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
            // The operation's cancellation token (Support/Cancellation.swift), checked after each file:
            // nothing is recorded (blocks already stored stay unreferenced until `cairn prune`).
            try Cancellation.check()
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
        // SQLite opens databases by path (raw bytes, whether valid UTF-8 or not).
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
                if SQLiteCapture.hasHeader(f), try captureSQLite(path, stat: st, into: &e) { return true }
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
    func captureSQLite(_ sp: FileName, stat st: FileStat, into e: inout TreeEntry) throws -> Bool {
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
            warnings.append("\(sp.escaped): SQLite backup failed (\(err.message)); stored as a plain file")
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

/// Build facts.
public enum Cairn {
    public static let version = "0.1.0"
    public static var versionString: String { "cairn \(version)" }
}
