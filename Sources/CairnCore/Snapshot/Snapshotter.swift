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
    public var currentPath = ""
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
    var progress = SnapshotProgress()
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
        let time = options.timeNs ?? Int64(Date().timeIntervalSince1970 * 1e9)
        var silos: [SiloSnapshot] = []
        var trees: [String: BlockId] = [:]
        var failed: [String: String] = [:]
        for silo in chosen {
            let parent = snaps.last(where: { $0.record.silo(silo.name) != nil })?.record.silo(silo.name)
            let parentTree = try parent.flatMap { BlockId(hex: $0.tree) }.map { try repo.tree($0, reader: reader, path: silo.name) }
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
        guard let st = try FS.lstatIfExists(path) else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': its path \(path) no longer exists; re-create it or `cairn silo remove \(silo.name)`", path: path)
        }
        let matcher = ExcludeMatcher(silo.excludes)
        if st.kind == .directory {
            counts.dirs += 1
            return try walkDirectory(path, rel: "", parent: parent, matcher: matcher, counts: &counts, siloName: silo.name)
        }
        let name = FS.basename(path)
        guard let e = try entry(for: path, name: name, rel: name, stat: st, parent: parent?.entry(named: name), counts: &counts, matcher: matcher, siloName: silo.name) else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': \(path) cannot be read", path: path)
        }
        return Tree(entries: [e])
    }

    func walkDirectory(_ path: String, rel: String, parent: Tree?, matcher: ExcludeMatcher, counts: inout Counts, siloName: String) throws -> Tree {
        let names: [String]
        do { names = try FS.list(path) } catch let e as CairnError {
            warnings.append("\(path): cannot list directory (\(e.message)); stored as empty")
            return Tree(entries: [])
        }
        let nameSet = Set(names)
        var entries: [TreeEntry] = []
        entries.reserveCapacity(names.count)
        for name in names {
            let full = path + "/" + name
            let relPath = rel.isEmpty ? name : rel + "/" + name
            if matcher.excludes(relPath, name: name) { continue }
            if let base = SQLiteCapture.siblingSuffixes.lazy.compactMap({ name.hasSuffix($0) ? String(name.dropLast($0.count)) : nil }).first,
               nameSet.contains(base), SQLiteCapture.isDatabase(path + "/" + base) {
                continue
            }
            let st: FileStat
            do { st = try FS.lstat(full) } catch let e as CairnError {
                warnings.append("\(full): skipped (\(e.message))")
                continue
            }
            if let e = try entry(for: full, name: name, rel: relPath, stat: st, parent: parent?.entry(named: name), counts: &counts, matcher: matcher, siloName: siloName) {
                entries.append(e)
            }
        }
        return Tree(entries: entries)
    }

    /// Builds the entry for one path, storing its content when needed. Nil when skipped.
    func entry(for path: String, name: String, rel: String, stat st: FileStat, parent: TreeEntry?, counts: inout Counts,
               matcher: ExcludeMatcher, siloName: String) throws -> TreeEntry? {
        var e = TreeEntry(name: name, kind: .file, mode: st.mode, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, inode: st.inode, size: st.size)
        progress.currentPath = path
        switch st.kind {
        case .directory:
            e.kind = .directory
            e.size = 0
            counts.dirs += 1
            let sub = parent.flatMap { $0.kind == .directory ? $0.subtree : nil }.map { try? repo.tree($0, reader: reader, path: rel) } ?? nil
            let tree = try walkDirectory(path, rel: rel, parent: sub, matcher: matcher, counts: &counts, siloName: siloName)
            e.subtree = try writer.put(kind: .tree, bytes: tree.encode())
        case .symlink:
            e.kind = .symlink
            do { e.target = try FS.readlink(path) } catch let err as CairnError {
                warnings.append("\(path): skipped (\(err.message))")
                return nil
            }
            counts.symlinks += 1
        case .file:
            let wasSQLite = parent.map { $0.flags & TreeEntry.flagSQLite != 0 } ?? false
            let fp = wasSQLite ? SQLiteCapture.fingerprint(path) : 0
            if let p = parent, p.kind == .file, p.size == st.size, p.mtimeNs == st.mtimeNs, p.ctimeNs == st.ctimeNs,
               p.inode == st.inode, p.fingerprint == fp, p.flags & TreeEntry.flagChangedWhileReading == 0 {
                e = p
                e.name = name
            } else {
                do {
                    guard try readFile(path, stat: st, into: &e, counts: &counts) else { return nil }
                } catch let err as CairnError where err.code == .io {
                    warnings.append("\(path): skipped, cannot be read (\(err.message))")
                    return nil
                }
            }
            if e.flags & TreeEntry.flagSQLite != 0 { counts.sqlite += 1 }
            counts.files += 1
            counts.bytes += e.size
            progress.files += 1
            progress.bytesSeen += e.size
            onProgress?(progress)
        case .other:
            warnings.append("\(path): skipped (not a regular file, directory or symlink)")
            return nil
        }
        return e
    }

    /// Reads a file through the pipeline, re-reading when it changes underneath. False when it vanished.
    func readFile(_ path: String, stat st: FileStat, into e: inout TreeEntry, counts: inout Counts) throws -> Bool {
        counts.filesRead += 1
        filesRead += 1
        if st.size >= 16, SQLiteCapture.isDatabase(path) {
            let tmp = try repo.temporaryPath("sqlite")
            defer { unlink(tmp); unlink(tmp + "-journal"); unlink(tmp + "-wal") }
            let fp = SQLiteCapture.fingerprint(path)
            do {
                try SQLiteCapture.backup(source: path, destination: tmp)
                let f = try PosixFile.open(tmp, O_RDONLY)
                defer { f.close() }
                let r = try pipeline.process { try f.read(into: $0, count: $1) }
                let now = (try? FS.lstat(path)) ?? st
                e.size = r.length
                e.mtimeNs = now.mtimeNs
                e.ctimeNs = now.ctimeNs
                e.inode = now.inode
                e.fingerprint = fp
                e.flags |= TreeEntry.flagSQLite
                (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
                progress.bytesRead += r.length
                return true
            } catch let err as CairnError {
                warnings.append("\(path): SQLite backup failed (\(err.message)); stored as a plain file")
            }
        }
        var attempt = 0
        while true {
            attempt += 1
            let f: PosixFile
            do { f = try PosixFile.open(path, O_RDONLY | O_NOFOLLOW) } catch let err as CairnError where err.errno == ENOENT {
                _ = err
                return false
            }
            defer { f.close() }
            let before = try f.stat()
            let r = try pipeline.process { try f.read(into: $0, count: $1) }
            let after = try f.stat()
            progress.bytesRead += r.length
            let stable = before.size == after.size && before.mtimeNs == after.mtimeNs && r.length == after.size
            if stable || attempt >= 3 {
                e.size = r.length
                e.mode = after.mode
                e.mtimeNs = after.mtimeNs
                e.ctimeNs = after.ctimeNs
                e.inode = after.inode
                if !stable {
                    e.flags |= TreeEntry.flagChangedWhileReading
                    warnings.append("\(path): changed while being read \(attempt) times; stored the last read, which may be torn")
                }
                (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
                return true
            }
        }
    }

    // MARK: Command silos

    func snapshotCommand(_ silo: Silo, counts: inout Counts) throws -> Tree {
        let cmd = silo.command ?? ""
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw CairnError(.siloFailed, "silo '\(silo.name)': cannot start command `\(cmd)`: \(error)")
        }
        let fd = pipe.fileHandleForReading.fileDescriptor
        let src = PosixFile(fd: dup(fd), path: "output of `\(cmd)`")
        try? pipe.fileHandleForReading.close()
        defer { src.close() }
        let pid = p.processIdentifier  // Foundation starts it in its own process group: stop the group on Ctrl-C/SIGTERM
        let r = try Cancellation.onRequest({ kill(-pid, SIGTERM); kill(pid, SIGTERM) }) { try pipeline.process { try src.read(into: $0, count: $1) } }
        p.waitUntilExit()
        guard p.terminationReason == .exit, p.terminationStatus == 0 else {
            throw CairnError(.siloFailed, "silo '\(silo.name)': command `\(cmd)` exited with status \(p.terminationStatus); the silo was not snapshotted, fix the command and run `cairn snapshot --silo \(silo.name)`")
        }
        counts.files = 1
        counts.filesRead = 1
        counts.bytes = r.length
        filesRead += 1
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        var e = TreeEntry(name: silo.filename ?? "output", kind: .file, mode: 0o644, mtimeNs: now, size: r.length)
        (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
        return Tree(entries: [e])
    }
}

/// Exclude globs (fnmatch): a pattern with '/' matches the silo-relative path, otherwise the base name.
public struct ExcludeMatcher: Sendable {
    let patterns: [String]
    public init(_ patterns: [String]) { self.patterns = patterns }
    public func excludes(_ rel: String, name: String) -> Bool {
        for p in patterns {
            if p.contains("/") {
                if fnmatch(p, rel, FNM_PATHNAME) == 0 || fnmatch(p, rel, 0) == 0 { return true }
            } else if fnmatch(p, name, 0) == 0 {
                return true
            }
        }
        return false
    }
}

/// Build facts.
public enum Cairn {
    public static let version = "0.1.0"
    public static var versionString: String { "cairn \(version)" }
}
