// Restore: puts a snapshot's silos back, in place or into a new folder.
//
// Owns: pre-flight checks, staging, the safety snapshot, the atomic swap and its journal,
// partial (--include) restores and dry runs.
//
// Crash properties of an in-place restore (see RestoreJournal.swift for recovery):
//   1. pre-flight (blocks present, space, open files)      nothing written
//   2. journal "staging", then staging trees beside each target, every block verified,
//      files and directories fsynced                      live silos untouched
//   3. safety snapshot of the live silos (tag pre-restore) live silos untouched
//   4. journal "prepared" with the staging and live inodes
//   5. one renameat2(RENAME_EXCHANGE) per silo, parent fsynced
//   6. journal "committed"; old trees (now at the staging paths) removed; journal removed
// A crash before 6 rolls every silo back to its old state; a crash after it completes the
// cleanup. So every silo is wholly old or wholly new, and all silos of one restore agree.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

/// What `cairn restore` does.
public struct RestoreOptions: Sendable {
    /// Silos to restore (empty: every silo of the snapshot).
    public var silos: [String] = []
    /// Restore into DIR/SILO/... instead of in place.
    public var to: String?
    /// Restore only paths matching these globs, each file replaced atomically.
    public var include: [String] = []
    public var dryRun = false
    public var safetySnapshot = true
    /// Proceed although processes hold silo files open.
    public var force = false
    /// Seconds to wait for another restore to finish.
    public var wait: Double = 60
    /// As root, restore owners by the stored uid/gid even when the stored names exist here.
    public var numericOwner = false
    public init() {}
}

/// One silo's part of a restore report.
public struct SiloRestoreReport: Codable, Sendable, Equatable {
    public var name: String
    public var target: String
    public var kind: String
    public var changes: RestoreChanges
}

/// The outcome of a restore (or of its dry run).
public struct RestoreResult: Codable, Sendable {
    public var snapshot: String
    public var dryRun: Bool
    public var silos: [SiloRestoreReport]
    public var totals: RestoreChanges
    /// What was materialised (zero for dry runs).
    public var written: MaterializeCounts
    /// The pre-restore snapshot of the replaced state, and the command that undoes the restore.
    public var safetySnapshot: String?
    public var undo: String?
    /// Processes that held silo files open (only when --force let the restore proceed).
    public var openFiles: [OpenFileHolder]
    public var warnings: [String]
    /// A report of an interrupted earlier restore that this run completed or rolled back.
    public var recovered: String?
}

/// Runs restores. One instance per restore.
public final class Restorer {
    let repo: Repository
    let options: RestoreOptions
    let reader: BlockReader
    /// Called for every change found against the live state: marker and "SILO/path".
    public var onChange: RestoreChangeSink?
    /// Called as files are written.
    public var onProgress: ((MaterializeCounts) -> Void)?
    /// Command silos left out of an in-place restore of every silo (reported as warnings).
    var skippedCommandSilos: [String] = []

    struct Plan {
        var name: String
        var tree: BlockId
        var kind: String
        var target: String
        var excludes: ExcludeMatcher
        var bytes: UInt64 = 0
        var changes = RestoreChanges()
    }

    public init(repository: Repository, options: RestoreOptions) {
        repo = repository
        self.options = options
        reader = repository.makeReader()
    }

    /// Restores snapshot `ref` (any reference form).
    public func run(_ ref: String) throws -> RestoreResult {
        guard let lock = try RestoreLock.acquire(repo.layout, wait: options.wait) else {
            throw CairnError(.busy, "another restore is running on repository \(repo.root) (\(RestoreJournal.lockPath(repo.layout)) is locked); wait for it, or retry with a longer --wait")
        }
        defer { withExtendedLifetime(lock) {} }
        let recovered = try RestoreSwap.recover(repo.layout, registered: try? repo.silos(), lockHeld: true)
        let snap = try repo.resolve(ref)
        var plans = try makePlans(snap)
        let includeMode = !options.include.isEmpty

        // Pre-flight: blocks, space, open files. Nothing is written before these pass.
        for i in plans.indices {
            let inc = includeMode ? IncludeMatcher(options.include, silo: plans[i].name) : nil
            plans[i].bytes = try Preflight.checkBlocks(repo, tree: plans[i].tree, display: plans[i].name, reader: reader, include: inc)
        }
        if !options.dryRun {
            try Preflight.checkSpace(plans.map { (spaceDir($0.target), $0.bytes, $0.name) })
        }
        var holders: [OpenFileHolder] = []
        var warnings = skippedCommandSilos.map { "silo '\($0)' skipped: it is a command silo (its output has no live path); restore it with --to DIR or `cairn cat`" }
        if options.to == nil {
            holders = Preflight.openFileHolders(under: plans.map(\.target))
            if !holders.isEmpty {
                let list = holders.prefix(5).map { "pid \($0.pid) (\($0.program)) has \($0.path) open" }.joined(separator: "; ")
                if !options.force && !options.dryRun {
                    throw CairnError(.filesInUse, "\(list): stop the application first (it would keep writing to the replaced files), or pass --force. Nothing was changed")
                }
                warnings.append(list)
            }
        }
        // The change summary, computed the same way for a dry run and a real restore.
        for i in plans.indices {
            var cmp = LiveCompare(repo: repo, reader: reader, silo: plans[i].name, excludes: plans[i].excludes,
                                  include: includeMode ? IncludeMatcher(options.include, silo: plans[i].name) : nil, sink: onChange)
            try cmp.compareSilo(plans[i].tree, kind: plans[i].kind, live: options.to == nil ? plans[i].target : nil)
            plans[i].changes = cmp.changes
        }
        var result = RestoreResult(snapshot: snap.id, dryRun: options.dryRun, silos: [], totals: RestoreChanges(), written: MaterializeCounts(),
                                   safetySnapshot: nil, undo: nil, openFiles: options.force ? holders : [], warnings: warnings, recovered: recovered)
        for p in plans {
            result.silos.append(SiloRestoreReport(name: p.name, target: p.target, kind: p.kind, changes: p.changes))
            result.totals.add(p.changes)
        }
        if options.dryRun { return result }

        let m = Materializer(repository: repo, reader: reader)
        m.onProgress = onProgress
        m.numericOwner = options.numericOwner
        if let to = options.to {
            try restoreTo(to, plans: plans, materializer: m)
        } else {
            result.safetySnapshot = try inPlace(plans, snap: snap, materializer: m, includeMode: includeMode)
            if let s = result.safetySnapshot {
                result.undo = "cairn restore \(String(s.prefix(12)))\(plans.filter { $0.changes.hasChanges }.map { " --silo \($0.name)" }.joined())\(includeMode ? options.include.map { " --include '\($0)'" }.joined() : "") --repo \(repo.root)"
            }
        }
        result.written = m.counts
        return result
    }

    // MARK: Planning

    func makePlans(_ snap: Snapshot) throws -> [Plan] {
        let names = options.silos.isEmpty ? snap.record.silos.map(\.name) : options.silos
        let registered = try repo.silos()
        // By identity (device, inode of every ancestor): a --to folder inside the repository or a
        // silo, or a silo that now contains the repository, would destroy what it restores from.
        if let to = options.to { try repo.checkRestoreDestination(to) }
        var plans: [Plan] = []
        for n in names where !plans.contains(where: { $0.name == n }) {
            guard let s = snap.record.silo(n), let tree = BlockId(hex: s.tree) else {
                throw CairnError(.notFound, "snapshot \(snap.shortId) has no silo '\(n)'; its silos: \(snap.record.silos.map(\.name).joined(separator: ", "))")
            }
            let kind = s.kind == "directory" ? "directory" : "file"
            let reg = registered.first { $0.name == n }
            var target: String
            if let to = options.to {
                target = FS.absolute(to) + "/" + n
            } else {
                guard let reg, reg.kind == .path, let p = reg.path else {
                    // Restoring everything: a command silo (no live path) is skipped, not fatal.
                    if options.silos.isEmpty, reg?.kind == .command, names.count > 1 { skippedCommandSilos.append(n); continue }
                    let why = reg == nil ? "is no longer registered" : "is a command silo (its output has no live path)"
                    throw CairnError(.invalidInput, "silo '\(n)' \(why); restore it elsewhere with --to DIR")
                }
                target = p
                try repo.checkNotOverlappingRepository(p, what: "silo '\(n)' path")
                if kind == "directory", let st = try FS.lstatIfExists(p), st.kind == .file {
                    throw CairnError(.invalidInput, "silo '\(n)' was a directory in snapshot \(snap.shortId) but \(p) is now a file; move it away or restore with --to DIR", path: p)
                }
            }
            if options.to == nil, let other = plans.first(where: { Overlap.overlaps($0.target, target) }) {
                throw CairnError(.invalidInput, "silos '\(other.name)' and '\(n)' overlap (\(other.target), \(target)); restore them in place one at a time (--silo NAME), or both with --to DIR", path: target)
            }
            plans.append(Plan(name: n, tree: tree, kind: kind, target: target, excludes: ExcludeMatcher(reg?.excludes ?? [])))
        }
        return plans
    }

    /// The nearest existing directory where staging for `target` goes.
    func spaceDir(_ target: String) -> String {
        var d = FS.parent(target)
        while !FS.exists(d) && d != "/" { d = FS.parent(d) }
        return d
    }

    // MARK: --to DIR

    func restoreTo(_ to: String, plans: [Plan], materializer m: Materializer) throws {
        let dir = FS.absolute(to)
        let existed = FS.exists(dir)
        if existed {
            guard (try FS.lstat(dir)).kind == .directory else { throw CairnError(.alreadyExists, "\(dir) exists and is not a directory; give a new or empty folder to --to", path: dir) }
            if !(try FS.list(dir)).isEmpty && options.include.isEmpty {
                throw CairnError(.alreadyExists, "\(dir) is not empty; give a new or empty folder to --to", path: dir)
            }
        }
        var created: [String] = []
        do {
            try FS.mkdirs(dir)
            if !existed { created.append(dir) }
            for p in plans {
                if FS.exists(p.target) { throw CairnError(.alreadyExists, "\(p.target) already exists; give a new or empty folder to --to", path: p.target) }
                if mkdir(p.target, 0o755) != 0 { throw CairnError.posix("cannot create directory", path: p.target) }
                created.append(p.target)
                if options.include.isEmpty {
                    try m.writeTree(p.tree, into: p.target, display: p.name)
                } else {
                    try writeIncluded(p, root: p.target, token: nil, materializer: m)
                }
            }
            try m.finishSync(root: dir)
            try FS.syncDirectory(dir)
        } catch {
            for c in created.reversed() { try? FS.removeTree(c) }
            throw error
        }
    }

    // MARK: In place

    func inPlace(_ plans: [Plan], snap: Snapshot, materializer m: Materializer, includeMode: Bool) throws -> String? {
        let token = Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255) })
        if includeMode { return try includeInPlace(plans, snap: snap, token: token, materializer: m) }
        var silos: [JournalSilo] = plans.map { p in
            let parent = FS.parent(p.target), base = FS.basename(p.target)
            return JournalSilo(name: p.name, target: p.target, staging: "\(parent)/.\(base).cairn-restore-\(token)", method: "exchange",
                               aside: "\(parent)/.\(base).cairn-aside-\(token)", newInode: 0, oldInode: 0, siblings: [])
        }
        var journal = RestoreJournal(token: token, snapshot: snap.id, pid: getpid(), host: FS.hostname(), state: .staging, silos: silos, includeDirs: [])
        try journal.save(repo.layout)
        var safety: String?
        do {
            for (i, p) in plans.enumerated() {
                try FS.mkdirs(FS.parent(p.target))
                try stage(p, at: silos[i].staging, materializer: m)
            }
            safety = try takeSafetySnapshot(plans, snap: snap)
            for i in silos.indices {
                silos[i].newInode = try FS.lstat(silos[i].staging).inode
                silos[i].oldInode = try FS.lstatIfExists(silos[i].target)?.inode ?? 0
                silos[i].method = Self.supportsExchange(FS.parent(silos[i].target), token: token) ? "exchange" : "rename"
                if plans[i].kind == "file" {
                    silos[i].siblings = SQLiteCapture.siblingSuffixes.filter { FS.exists(silos[i].target + $0) }
                }
            }
            journal.silos = silos
            journal.state = .prepared
            try journal.save(repo.layout)
        } catch {
            for s in silos { try? RestoreSwap.cleanup(s) }
            try? RestoreJournal.remove(repo.layout)
            throw error
        }
        do {
            for s in silos { try RestoreSwap.swapIn(s) }
        } catch {
            for s in silos.reversed() { try? RestoreSwap.swapBack(s) }
            for s in silos { try? RestoreSwap.cleanup(s) }
            try? RestoreJournal.remove(repo.layout)
            throw error
        }
        journal.state = .committed
        try journal.save(repo.layout)
        for s in silos { try RestoreSwap.cleanup(s) }
        try RestoreJournal.remove(repo.layout)
        return safety
    }

    /// Builds the new state of one silo at `staging`.
    func stage(_ p: Plan, at staging: String, materializer m: Materializer) throws {
        // Unchanged live files are linked into staging instead of rewritten, unless --force let
        // the restore run while processes hold silo files open (they may still be writing).
        m.reuse = options.force ? nil : (FileName(utf8: staging), FileName(utf8: p.target))
        defer { m.reuse = nil }
        if p.kind == "directory" {
            let liveMode = (try? FS.lstatIfExists(p.target))??.mode ?? 0o755
            if mkdir(staging, 0o700) != 0 { throw CairnError.posix("cannot create staging directory", path: staging) }
            try m.writeTree(p.tree, into: staging, display: p.name)
            try carryExcluded(from: p.target, to: staging, excludes: p.excludes, rel: "")
            if chmod(staging, mode_t(liveMode)) != 0 { throw CairnError.posix("cannot set mode of", path: staging) }
        } else {
            let root = try repo.tree(p.tree, reader: reader, path: p.name)
            guard let e = root.entries.first else { throw CairnError(.integrity, "silo '\(p.name)' of this snapshot holds no file") }
            try m.writeEntry(e, at: staging, display: p.name + "/" + e.name.escaped)
        }
        // Every file and directory of the staging tree is durable before the swap.
        try m.finishSync(root: staging)
        if p.kind == "directory" { try FS.syncDirectory(staging) }
        try FS.syncDirectory(FS.parent(staging))
    }

    /// Live paths the silo excludes are not in the snapshot; they are hard-linked into the
    /// staging tree so that a restore never deletes them.
    func carryExcluded(from live: String, to staging: String, excludes: ExcludeMatcher, rel: String) throws {
        try carryExcluded(from: FileName(utf8: live), to: FileName(utf8: staging), excludes: excludes, rel: FileName(bytes: []))
    }

    /// `carryExcluded` over byte paths (names are bytes).
    func carryExcluded(from live: FileName, to staging: FileName, excludes: ExcludeMatcher, rel: FileName) throws {
        guard excludes.active, let names = try? FS.list(live) else { return }
        for n in names {
            let r = rel.appending(n)
            let src = live.appending(n), dst = staging.appending(n)
            guard let st = try FS.lstatIfExists(src) else { continue }
            if excludes.excludes(r, name: n, isDirectory: st.kind == .directory) {
                if try FS.lstatIfExists(dst) == nil { try Self.linkTree(src, dst, st) }
            } else if st.kind == .directory, let d = try FS.lstatIfExists(dst), d.kind == .directory {
                try carryExcluded(from: src, to: dst, excludes: excludes, rel: r)
            }
        }
    }

    static func linkTree(_ src: FileName, _ dst: FileName, _ st: FileStat) throws {
        func both(_ f: (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Int32) -> Int32 { src.withCString { s in dst.withCString { f(s, $0) } } }
        switch st.kind {
        case .file:
            if both({ link($0, $1) }) != 0 { throw CairnError.posix("cannot link excluded file into staging", path: src.escaped) }
        case .symlink:
            let t = try FS.readlink(src)
            if t.withCString({ t in dst.withCString { symlink(t, $0) } }) != 0 { throw CairnError.posix("cannot copy excluded symlink", path: src.escaped) }
        case .directory:
            if dst.withCString({ mkdir($0, mode_t(st.mode)) }) != 0 { throw CairnError.posix("cannot create directory", path: dst.escaped) }
            for n in try FS.list(src) {
                if let s = try FS.lstatIfExists(src.appending(n)) { try linkTree(src.appending(n), dst.appending(n), s) }
            }
            try? FS.setTimes(dst, st.mtime)
        case .other:
            break
        }
    }

    /// Takes the pre-restore snapshot of the silos about to be replaced; nil when disabled.
    func takeSafetySnapshot(_ plans: [Plan], snap: Snapshot) throws -> String? {
        guard options.safetySnapshot else { return nil }
        // A silo the restore leaves as it is needs no copy of its state.
        let live = plans.filter { FS.exists($0.target) && $0.changes.hasChanges }.map(\.name)
        guard !live.isEmpty else { return nil }
        let o = SnapshotOptions(silos: live, tags: ["pre-restore"], message: "state before restoring snapshot \(snap.shortId)")
        let r = try Snapshotter(repository: repo, options: o).run()
        guard let s = r.snapshot, r.failedSilos.isEmpty else {
            throw CairnError(.siloFailed, "the safety snapshot of \(live.joined(separator: ", ")) failed (\(r.failedSilos.values.joined(separator: "; "))); nothing was changed. Fix the silo, or pass --no-safety-snapshot")
        }
        return s.id
    }

    /// Whether renameat2(RENAME_EXCHANGE) works in `dir` (probed with two empty files).
    static func supportsExchange(_ dir: String, token: String) -> Bool {
        if ProcessInfo.processInfo.environment["CAIRN_RESTORE_NO_EXCHANGE"] == "1" { return false }
        let a = "\(dir)/.cairn-probe-a-\(token)", b = "\(dir)/.cairn-probe-b-\(token)"
        defer { unlink(a); unlink(b) }
        for p in [a, b] {
            let fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            if fd < 0 { return false }
            close(fd)
        }
        return cairn_rename_exchange(a, b) == 0
    }
}
