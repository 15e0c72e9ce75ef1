// Forget: removing snapshot records (by id or by policy) and the stored policy file.
//
// Removal order per snapshot (see Policy.swift): delete the record object (never renamed, no
// tombstone), then the cache row. Because the record disappears before the row,
// `Repository.open` (which adopts records the cache lacks and drops rows whose record is gone)
// can never resurrect a snapshot half-way through removal, even from another machine.
// Format 2's tombstones (`ID.json.forgotten`) left by an older cairn are completed by
// `finishForgets`.

import Foundation
import CairnStorage
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a forget run.
public struct ForgetResult: Sendable {
    /// Every considered snapshot with its verdict (named snapshots: keep = false, reason "named").
    public var decisions: [RetentionDecision]
    /// Ids removed (empty on a dry run).
    public var removed: [String]
    public var dryRun: Bool
}

extension RepositoryLayout {
    /// REPO/policy.json: the stored retention policy (a local folder's file; the state folder
    /// for a repository that is not a local folder).
    public var policy: String { (remote ? state : root) + "/policy.json" }
    /// Tombstone of a snapshot record being removed.
    func forgottenSnapshot(_ id: String) -> String { snapshot(id) + ".forgotten" }
}

extension Repository {
    // MARK: Stored policy

    /// The policy stored by `cairn policy set`, or nil.
    public func storedPolicy() throws -> RetentionPolicy? {
        guard FS.exists(layout.policy) else { return nil }
        do { return try JSONDecoder().decode(RetentionPolicy.self, from: Data(try FS.readAll(layout.policy))) } catch let e as CairnError { throw e } catch {
            throw CairnError(.integrity, "\(layout.policy) cannot be parsed (\(error)); set the policy again with `cairn policy set`", path: layout.policy)
        }
    }

    /// Stores `policy` (atomically replacing REPO/policy.json); nil removes it.
    public func setStoredPolicy(_ policy: RetentionPolicy?) throws {
        guard let policy else {
            if unlink(layout.policy) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove", path: layout.policy) }
            try FS.syncDirectory(FS.parent(layout.policy))
            return
        }
        try policy.validate()
        if let s = policy.silo { _ = try silo(s) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FS.atomicWrite(layout.policy, Array(try enc.encode(policy)) + [10])
    }

    // MARK: Forget

    /// Applies `policy` to the repository's snapshots, removing those it does not keep
    /// (nothing when `dryRun`). Calendar rules use `timeZone` (default: the local zone).
    @discardableResult
    public func forget(policy: RetentionPolicy, dryRun: Bool = false, timeZone: TimeZone = .current, now: Date = Date()) throws -> ForgetResult {
        try policy.validate()
        if let s = policy.silo, try !snapshots().contains(where: { $0.record.silo(s) != nil }) { _ = try silo(s) }
        if !dryRun { try finishForgets() }
        // Order times, not record times: a record cannot steer retention with a future time (SnapshotOrder).
        let nowNs = Int64(now.timeIntervalSince1970 * 1e9)
        let items = try snapshots().map {
            RetentionItem(id: $0.id, timeNs: SnapshotOrder.orderTime($0, now: nowNs), tags: $0.record.tags, silos: $0.record.silos.map(\.name))
        }
        let decisions = policy.select(items, timeZone: timeZone, now: now)
        var removed: [String] = []
        if !dryRun {
            for d in decisions where !d.keep {
                try removeSnapshotRecord(d.id)
                removed.append(d.id)
            }
        }
        return ForgetResult(decisions: decisions, removed: removed, dryRun: dryRun)
    }

    /// Removes the named snapshots (any reference `resolve` accepts), safety snapshots included.
    @discardableResult
    public func forget(ids refs: [String], dryRun: Bool = false) throws -> ForgetResult {
        var snaps: [Snapshot] = []
        for r in refs {
            let s = try resolve(r)
            if !snaps.contains(where: { $0.id == s.id }) { snaps.append(s) }
        }
        if !dryRun { try finishForgets() }
        var removed: [String] = []
        let decisions = snaps.map { RetentionDecision(id: $0.id, timeNs: $0.record.timeNs, group: $0.record.silos.map(\.name).sorted().joined(separator: ","),
                                                      keep: false, reasons: []) }
        if !dryRun {
            for s in snaps {
                try removeSnapshotRecord(s.id)
                removed.append(s.id)
            }
        }
        return ForgetResult(decisions: decisions, removed: removed, dryRun: dryRun)
    }

    /// Applies the stored policy, if any (called after a successful `cairn snapshot`). Nil when no policy is set.
    public func applyStoredPolicy(timeZone: TimeZone = .current, now: Date = Date()) throws -> ForgetResult? {
        guard let p = try storedPolicy() else { return nil }
        return try forget(policy: p, timeZone: timeZone, now: now)
    }

    /// Removes one snapshot record: the record object is deleted (never renamed), then its index
    /// row. A crash in between leaves a row without a record, which the next open drops.
    /// A snapshot already gone (another process removed it) is fine.
    func removeSnapshotRecord(_ id: String) throws {
        try store.delete(try .make(.snapshot, id))
        try index.removeSnapshot(id: id)
    }

    /// Completes removals a crash interrupted: deletes the index rows of tombstoned records
    /// and the tombstones. Returns how many it completed.
    @discardableResult
    public func finishForgets() throws -> Int {
        // Only formats 1 and 2 made tombstones; a folder without `snapshots/` (nothing saved yet,
        // or another process just created the repository) has none.
        guard store.local != nil, FS.exists(layout.snapshots) else { return 0 }
        var n = 0
        for name in try FS.list(layout.snapshots) where name.hasSuffix(".json.forgotten") {
            let id = String(name.dropLast(".json.forgotten".count))
            if FS.exists(layout.snapshot(id)) {
                // Saved again after it was forgotten (same bytes, same id): keep it, drop the tombstone.
                unlink(layout.forgottenSnapshot(id))
                continue
            }
            try index.removeSnapshot(id: id)
            if unlink(layout.forgottenSnapshot(id)) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove", path: layout.forgottenSnapshot(id)) }
            n += 1
        }
        return n
    }
}
