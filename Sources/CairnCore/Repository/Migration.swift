// Migration of a format 1 or 2 repository (a local folder) to format 3, crash-safely and
// idempotently (Docs/Format.md, "Format versions and migration"):
//   1. an index object for every pack (from its trailer; for a damaged trailer, from the
//      verified entries the old index and salvage give): put-if-absent, so a rerun skips them;
//   2. host-local files copied to the state folder: silos.json;
//   3. config.json rewritten with version 3 (temp file, fsync, rename, folder fsync) - the one
//      point where the format changes; the config is never replaced again after that;
//   4. (`finishMigration`, also on every later open) the leftovers of format 2 removed:
//      REPO/silos.json, REPO/index.sqlite (+ -wal, -shm), record tombstones, restore.lock.
// A crash before 3 leaves a format-2 repository (plus index objects and a state copy an older
// cairn ignores); after 3, format 3 with leftovers the next open removes. Either version
// opens it and `check` passes at every point.

import Foundation
import CairnStorage
#if canImport(Glibc)
import Glibc
#endif

/// What a migration did.
public struct MigrationReport: Sendable {
    public var fromVersion: Int
    public var toVersion: Int
    public var indexObjectsWritten = 0
    public var packsSkipped: [String] = []
}

extension Repository {
    /// Migrates a format 1 or 2 repository to format 3 before its first write (snapshot, in-place
    /// restore, import) or on `cairn migrate`. Nothing happens for format 3. Never called by
    /// read-only commands.
    @discardableResult
    public func migrateFormatIfNeeded() throws -> MigrationReport? {
        guard config.version < RepositoryConfig.currentVersion else { return nil }
        guard !readOnly, store.local != nil else {
            throw CairnError(.io, "repository \(root) has format \(config.version) and cannot be written, so it cannot be migrated to format \(RepositoryConfig.currentVersion); run `cairn migrate` with write access", path: root)
        }
        if FS.exists(RestoreJournal.path(layout)) {
            throw CairnError(.busy, "an interrupted restore is recorded in \(RestoreJournal.path(layout)); finish it with `cairn restore --recover` before the repository is migrated", path: RestoreJournal.path(layout))
        }
        var report = MigrationReport(fromVersion: config.version, toVersion: RepositoryConfig.currentVersion)
        // 1. Index objects, from the pack trailers (salvaged entries where a trailer is damaged).
        for name in try storage.list().sorted() {
            try Cancellation.check()
            let size = try storage.size(of: name)
            var entries: [PackEntry]
            do { entries = try PackFormat.readTrailer(storage, pack: name) } catch let e as CairnError where e.code == .integrity {
                var r = PackSalvage.salvage(storage, pack: name) ?? SalvageResult(entries: [], unverified: 0)
                let have = Set(r.entries.map(\.id))
                r.entries += PackSalvage.fromIndex(index, storage: storage, pack: name).filter { !have.contains($0.id) }
                entries = r.entries.sorted { $0.offset < $1.offset }
                report.packsSkipped.append("\(e.message): \(entries.count) verified blocks listed")
                if entries.isEmpty { continue }
            }
            try storage.writeIndex(pack: name, size: size, entries: entries)
            report.indexObjectsWritten += 1
            MigrationPause.step()
        }
        // 2. Host-local state: the silos move to the per-host state folder.
        var next = config
        next.version = RepositoryConfig.currentVersion
        let target = Self.hostLayout(store, next, cache: cacheOverride, state: stateOverride)
        try FS.mkdirs(target.state)
        if FS.exists(layout.silos) { try FS.atomicWrite(target.silos, try FS.readAll(layout.silos)) }
        MigrationPause.step()
        // 3. The format changes here, in one rename.
        try FS.atomicWrite(layout.config, try next.encoded())
        MigrationPause.step()
        let legacy = layout
        try switchToFormat3(next)
        try finishMigration(legacy: legacy)
        return report
    }

    /// Removes what format 2 kept in the repository folder once the config says format 3 (called
    /// by every open of a writable local format-3 repository; cheap when there is nothing to do).
    /// The silo list of the repository folder moves to this host's state folder unless it
    /// already has one.
    func finishMigration(legacy: RepositoryLayout? = nil) throws {
        guard store.local != nil else { return }
        let old = legacy ?? RepositoryLayout(root: root)
        if FS.exists(old.silos) {
            if !FS.exists(layout.silos) { try FS.atomicWrite(layout.silos, try FS.readAll(old.silos)) }
            unlink(old.silos)
            MigrationPause.step()
        }
        for s in ["", "-wal", "-shm", "-journal"] where FS.exists(old.index + s) { unlink(old.index + s) }
        for name in (try? FS.list(old.snapshots)) ?? [] where name.hasSuffix(".json.forgotten") { unlink(old.snapshots + "/" + name) }
        if FS.exists(root + "/restore.lock") { unlink(root + "/restore.lock") }
    }
}

/// A test hook: `CAIRN_TEST_MIGRATION_PAUSE_MS` makes each migration step sleep, so a test can
/// kill the process between steps (FormatMigrationTests). Unset in normal use.
enum MigrationPause {
    static let ms: UInt32 = ProcessInfo.processInfo.environment["CAIRN_TEST_MIGRATION_PAUSE_MS"].flatMap { UInt32($0) }.map { min($0, 1000) } ?? 0
    static func step() { if ms > 0 { usleep(ms * 1000) } }
}
