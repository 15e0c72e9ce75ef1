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

    static func path(_ layout: RepositoryLayout) -> String { layout.state + "/restore-journal.json" }
    static func lockPath(_ layout: RepositoryLayout) -> String { layout.state + "/restore.lock" }

    func save(_ layout: RepositoryLayout) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FS.atomicWrite(Self.path(layout), Array(try enc.encode(self)) + [10])
    }

    static func load(_ layout: RepositoryLayout) throws -> RestoreJournal? {
        let p = path(layout)
        guard FS.exists(p) else { return nil }
        let bytes = try FS.readAll(p)
        guard bytes.count <= 4 << 20 else { throw untrusted(layout, "it is \(bytes.count) bytes, larger than any restore plan") }
        do { return try JSONDecoder().decode(RestoreJournal.self, from: Data(bytes)) } catch {
            throw untrusted(layout, "it cannot be parsed: \(String(describing: error).prefix(120))")
        }
    }

    /// The error for a journal that is not acted upon: it is left alone, and so is every path it names.
    static func untrusted(_ layout: RepositoryLayout, _ why: String) -> CairnError {
        let p = path(layout)
        return CairnError(.integrity, "the restore journal \(p) cannot be trusted (\(why)); it and the paths it names were left alone: look beside your silos for folders named .SILO.cairn-restore-TOKEN or .SILO.cairn-aside-TOKEN, keep the state you want, remove the rest by hand, then delete the journal", path: p)
    }

    /// Refuses a journal naming anything a restore could not have created: the staging and
    /// aside paths must be `.NAME.cairn-restore-TOKEN` / `.NAME.cairn-aside-TOKEN` with this
    /// journal's token, directly beside the target, and the target must be the registered path
    /// of the silo it names. Include directories must lie inside such a target.
    func validate(_ layout: RepositoryLayout, registered: [Silo]?) throws {
        func bad(_ why: String) -> CairnError { Self.untrusted(layout, why) }
        guard version == 1 else { throw bad("version \(version)") }
        guard token.utf8.count == 12, Hex.isHex(token), token == token.lowercased() else { throw bad("the token is not 12 hex digits") }
        guard let registered else { throw bad("the silo list cannot be read to compare it with") }
        guard silos.count <= registered.count else { throw bad("it names more silos than are registered") }
        for s in silos {
            guard let reg = registered.first(where: { $0.name == s.name }), reg.kind == .path, let target = reg.path else {
                throw bad("silo '\(s.name.prefix(64))' is not a registered path silo")
            }
            guard s.target == target, FS.absolute(target) == target, target != "/" else { throw bad("the target of silo '\(s.name)' is not its registered path") }
            let parent = FS.parent(target), base = FS.basename(target)
            guard s.staging == "\(parent)/.\(base).cairn-restore-\(token)" else { throw bad("the staging path of silo '\(s.name)' is not one a restore creates") }
            guard s.aside.isEmpty || s.aside == "\(parent)/.\(base).cairn-aside-\(token)" else { throw bad("the aside path of silo '\(s.name)' is not one a restore creates") }
            guard s.method == "exchange" || s.method == "rename" else { throw bad("unknown swap method for silo '\(s.name)'") }
            guard s.siblings.allSatisfy({ SQLiteCapture.siblingSuffixes.contains($0) }) else { throw bad("unknown sibling suffix for silo '\(s.name)'") }
        }
        for d in includeDirs {
            guard FS.absolute(d) == d, registered.contains(where: { r in
                guard r.kind == .path, let t = r.path else { return false }
                // Inside a silo's directory, or beside a single-file silo.
                return d == t || d.hasPrefix(t + "/") || d == FS.parent(t)
            }) else { throw bad("include directory \(d.prefix(200)) is not inside a registered silo") }
        }
    }

    static func remove(_ layout: RepositoryLayout) throws {
        if unlink(path(layout)) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove restore journal", path: path(layout)) }
        try FS.syncDirectory(layout.state)
    }
}

/// The exclusive lock serialising restores and recovery (flock on REPO/restore.lock).
final class RestoreLock {
    let fd: Int32
    private init(fd: Int32) { self.fd = fd }
    deinit { if fd >= 0 { flock(fd, LOCK_UN); close(fd) } }

    /// Takes the lock, waiting up to `wait` seconds; nil when `wait` is 0 and it is held.
    static func acquire(_ layout: RepositoryLayout, wait: Double) throws -> RestoreLock? {
        let p = RestoreJournal.lockPath(layout)
        let fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        // A repository the user cannot write holds no journal of this user's: restores `--to`
        // elsewhere need no lock there (an in-place restore fails later, when it writes).
        if fd < 0 && (errno == EROFS || errno == EACCES) { return RestoreLock(fd: -1) }
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
    static func recover(_ layout: RepositoryLayout, registered: [Silo]?, lockHeld: Bool = false) throws -> String? {
        guard FS.exists(RestoreJournal.path(layout)) else { return nil }
        var lock: RestoreLock?
        if !lockHeld {
            lock = try RestoreLock.acquire(layout, wait: 0)
            if lock == nil { return nil }
        }
        defer { withExtendedLifetime(lock) {} }
        guard let j = try RestoreJournal.load(layout) else { return nil }
        try j.validate(layout, registered: registered)
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
