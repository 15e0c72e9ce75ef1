// The restore journal: the plan of an in-place restore, written to REPO/restore-journal.json
// before anything beside a live silo is created, and advanced through three states:
//
//   staging    staging paths may exist beside the targets; no live path has changed.
//   prepared   every staging tree is complete and durable; swaps may have happened.
//   committed  every swap is durable; what remains at the staging paths is the old state.
//
// Recovery (any later `cairn` command, or `cairn restore --recover`) reads the state:
// staging -> remove the staging paths; prepared -> swap back every silo whose target
// holds the new inode (rolled back, all silos old again), then remove the staging paths;
// committed -> remove the staging paths (all silos new). Either way the journal is
// deleted last, so recovery itself can be interrupted and repeated.
//
// The journal is only read by a process holding REPO/restore.lock (flock), so a running
// restore is never "recovered" under its own feet.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

/// One silo's part of a restore plan.
public struct JournalSilo: Codable, Sendable, Equatable {
    public var name: String
    /// The live path being replaced.
    public var target: String
    /// Where the new state is built; after the swap it holds the old state.
    public var staging: String
    /// "exchange" (renameat2 RENAME_EXCHANGE) or "rename" (fallback: target -> aside, staging -> target).
    public var method: String
    /// Fallback only: where the old state is moved before the new one is renamed in.
    public var aside: String
    /// Inode of the staging root (the new state), set when prepared.
    public var newInode: UInt64
    /// Inode of the target before the swap (0 when the target did not exist).
    public var oldInode: UInt64
    /// SQLite siblings (-wal, -shm, -journal) of a single-file silo, moved aside with it.
    public var siblings: [String]
}

/// The persisted plan of one restore.
public struct RestoreJournal: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case staging, prepared, committed, include }
    public var version = 1
    public var token: String
    public var snapshot: String
    public var pid: Int32
    public var host: String
    public var state: State
    public var silos: [JournalSilo]
    /// Include mode: directories where temporary files named `.cairn-restore-TOKEN-*` may exist.
    public var includeDirs: [String]

    static func path(_ layout: RepositoryLayout) -> String { layout.root + "/restore-journal.json" }
    static func lockPath(_ layout: RepositoryLayout) -> String { layout.root + "/restore.lock" }

    func save(_ layout: RepositoryLayout) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FS.atomicWrite(Self.path(layout), Array(try enc.encode(self)) + [10])
    }

    static func load(_ layout: RepositoryLayout) throws -> RestoreJournal? {
        let p = path(layout)
        guard FS.exists(p) else { return nil }
        do { return try JSONDecoder().decode(RestoreJournal.self, from: Data(try FS.readAll(p))) } catch {
            throw CairnError(.integrity, "the restore journal \(p) cannot be read (\(error)); inspect the staging folders named .*.cairn-restore-* beside your silos, then delete the journal", path: p)
        }
    }

    static func remove(_ layout: RepositoryLayout) throws {
        if unlink(path(layout)) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove restore journal", path: path(layout)) }
        try FS.syncDirectory(layout.root)
    }
}

/// The exclusive lock serialising restores and recovery (flock on REPO/restore.lock).
final class RestoreLock {
    let fd: Int32
    private init(fd: Int32) { self.fd = fd }
    deinit { flock(fd, LOCK_UN); close(fd) }

    /// Takes the lock, waiting up to `wait` seconds; nil when `wait` is 0 and it is held.
    static func acquire(_ layout: RepositoryLayout, wait: Double) throws -> RestoreLock? {
        let p = RestoreJournal.lockPath(layout)
        let fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw CairnError.posix("cannot open", path: p) }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if Date() >= deadline { close(fd); return nil }
            usleep(50_000)
        }
        return RestoreLock(fd: fd)
    }
}

/// Swapping and recovery over a journal.
enum RestoreSwap {
    /// Moves the staging state in and the live state to the staging path (journal must be `prepared`).
    static func swapIn(_ s: JournalSilo) throws {
        let hadTarget = s.oldInode != 0
        if !hadTarget {
            if cairn_rename_noreplace(s.staging, s.target) != 0 { throw CairnError.posix("cannot move the restored state into place at", path: s.target) }
        } else if s.method == "exchange" {
            if cairn_rename_exchange(s.staging, s.target) != 0 { throw CairnError.posix("cannot swap the restored state with", path: s.target) }
        } else {
            try FS.rename(s.target, s.aside)
            try FS.rename(s.staging, s.target)
            try FS.rename(s.aside, s.staging)
        }
        // Siblings of a single-file SQLite silo belong to the replaced state: move them with it.
        for suffix in s.siblings where FS.exists(s.target + suffix) {
            try FS.rename(s.target + suffix, s.staging + suffix)
        }
        try FS.syncDirectory(FS.parent(s.target))
    }

    /// True when the target currently holds the new (staged) state.
    static func isSwapped(_ s: JournalSilo) -> Bool {
        guard s.newInode != 0, let st = try? FS.lstatIfExists(s.target) else { return false }
        return st.inode == s.newInode
    }

    /// Puts the old state back where the new one was swapped in. Idempotent: it finds the
    /// old state by its inode wherever an interrupted swap (or swap back) left it.
    static func swapBack(_ s: JournalSilo) throws {
        func inode(_ p: String) -> UInt64? { (try? FS.lstatIfExists(p))?.inode }
        if s.method == "exchange", s.oldInode != 0, isSwapped(s), inode(s.staging) == s.oldInode {
            if cairn_rename_exchange(s.staging, s.target) != 0 { throw CairnError.posix("cannot swap back", path: s.target) }
        } else if s.oldInode == 0 {
            if isSwapped(s) { try FS.rename(s.target, s.staging + ".new") }
        } else if inode(s.target) != s.oldInode {
            guard let src = [s.staging, s.aside].first(where: { !$0.isEmpty && inode($0) == s.oldInode }) else {
                throw CairnError(.integrity, "cannot find the previous state of \(s.target) to roll back to (looked at \(s.staging) and \(s.aside)); check those paths by hand", path: s.target)
            }
            if FS.exists(s.target) { try FS.rename(s.target, s.staging + ".new") }
            try FS.rename(src, s.target)
        }
        for suffix in s.siblings where FS.exists(s.staging + suffix) && !FS.exists(s.target + suffix) {
            try FS.rename(s.staging + suffix, s.target + suffix)
        }
        try FS.syncDirectory(FS.parent(s.target))
    }

    /// Removes whatever is left at the staging paths (and fallback aside paths).
    static func cleanup(_ s: JournalSilo) throws {
        for p in [s.staging, s.aside, s.staging + ".new"] + s.siblings.map({ s.staging + $0 }) where !p.isEmpty {
            try FS.removeTree(p)
        }
        if FS.exists(FS.parent(s.target)) { try FS.syncDirectory(FS.parent(s.target)) }
    }

    /// Completes or rolls back an interrupted restore. Returns a one-line report, or nil when
    /// there was nothing to do (or another process is restoring right now).
    static func recover(_ layout: RepositoryLayout, lockHeld: Bool = false) throws -> String? {
        guard FS.exists(RestoreJournal.path(layout)) else { return nil }
        var lock: RestoreLock?
        if !lockHeld {
            lock = try RestoreLock.acquire(layout, wait: 0)
            if lock == nil { return nil }
        }
        defer { withExtendedLifetime(lock) {} }
        guard let j = try RestoreJournal.load(layout) else { return nil }
        let report: String
        switch j.state {
        case .staging:
            for s in j.silos { try cleanup(s) }
            report = "an interrupted restore of snapshot \(j.snapshot.prefix(12)) was rolled back before any silo changed; staging removed"
        case .prepared:
            for s in j.silos { try swapBack(s) }
            for s in j.silos { try cleanup(s) }
            report = "an interrupted restore of snapshot \(j.snapshot.prefix(12)) was rolled back: silos \(j.silos.map(\.name).joined(separator: ", ")) hold their previous state"
        case .committed:
            for s in j.silos { try cleanup(s) }
            report = "an interrupted restore of snapshot \(j.snapshot.prefix(12)) was completed: silos \(j.silos.map(\.name).joined(separator: ", ")) hold the restored state"
        case .include:
            let prefix = ".cairn-restore-\(j.token)-"
            for d in j.includeDirs where FS.exists(d) {
                for n in (try? FS.list(d)) ?? [] where n.hasPrefix(prefix) { try FS.removeTree(d + "/" + n) }
            }
            report = "an interrupted partial (--include) restore of snapshot \(j.snapshot.prefix(12)) was cleaned up: each file is wholly old or new"
        }
        try RestoreJournal.remove(layout)
        return report
    }
}
