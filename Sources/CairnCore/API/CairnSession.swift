// The library entry point for Swift applications: what the `cairn` CLI does around an
// operation, in one object. It opens the repository (completing an interrupted restore),
// holds the shared lock, runs the hooks (Hooks/) and, after a snapshot, applies the stored
// retention policy. The CLI's `snapshot` and `restore` commands call it too, so an
// application and the command line behave the same.
// Crash properties: those of the operations it calls; a failing "before" hook stops the
// operation before anything is written.

import Foundation

/// An open Cairn repository, ready for snapshots and restores from an application.
///
/// ```swift
/// let cairn = try CairnSession(repository: URL(fileURLWithPath: "/var/lib/myapp/cairn"))
/// try cairn.snapshot(tags: ["startup"], meta: ["app_version": "1.4"])
/// ```
///
/// The session holds the repository's shared lock until it is closed or deinitialised, so
/// `prune` (which needs the exclusive lock) waits meanwhile. Not for concurrent use from
/// several threads: use one session per thread, or serialise calls.
public final class CairnSession {
    /// The open repository, for operations the session does not wrap (list, diff, export).
    public let repository: Repository
    /// Receives warnings: failing "after" hooks, a policy that could not be applied.
    /// Defaults to writing `cairn: warning: ...` lines to standard error.
    public var onWarning: (String) -> Void = { FileHandle.standardError.write(Data("cairn: warning: \($0)\n".utf8)) }

    /// Opens the repository at `url` and takes its shared lock, waiting up to `wait` seconds
    /// for a holder of the exclusive lock. `command` names the holder in `cairn unlock`.
    /// Throws `CairnError` (`repositoryNotFound`, `locked`, ...).
    public init(repository url: URL, wait: Double = 60, command: String = "app") throws {
        repository = try Repository.open(at: url.path)
        try repository.lock(.shared, wait: wait, command: command)
    }

    /// Wraps an already open (and locked) repository. With `keepsLock`, closing or
    /// deinitialising the session leaves the repository's lock to its owner (a server
    /// that lends one open repository to one operation after another).
    public init(opened repository: Repository, keepsLock: Bool = false) {
        self.repository = repository
        self.keepsLock = keepsLock
    }

    private var keepsLock = false

    /// Releases the lock (unless the session was made with `keepsLock`). The session must not be used afterwards.
    public func close() { if !keepsLock { repository.unlock() } }

    deinit { close() }

    /// What `snapshot` did.
    public struct SnapshotOutcome: Sendable {
        /// The snapshotter's result (the snapshot, warnings, failed silos).
        public var result: SnapshotResult
        /// Snapshots the stored policy removed afterwards (nil: no policy, or not applied
        /// because the snapshot was partial).
        public var policy: ForgetResult?
        /// Warnings from "after" hooks and from applying the policy.
        public var warnings: [String]
        /// The recorded snapshot (nil when every silo failed).
        public var snapshot: Snapshot? { result.snapshot }
    }

    /// Snapshots `silos` (all when empty): runs the before-snapshot hooks (a failure throws
    /// `hookFailed`, nothing is written), the snapshot, the after-snapshot hooks (failures
    /// become warnings), then applies the stored retention policy when the snapshot is
    /// complete. `configure` may set progress callbacks on the snapshotter before it runs.
    @discardableResult
    public func snapshot(silos: [String] = [], tags: [String] = [], message: String = "", meta: [String: String] = [:],
                         commandTimeout: Double? = nil, configure: ((Snapshotter) -> Void)? = nil) throws -> SnapshotOutcome {
        try SnapshotMeta.validate(meta, what: "snapshot metadata")
        let names = silos.isEmpty ? try repository.silos().map(\.name) : silos
        _ = try repository.runHooks(.beforeSnapshot, silos: names, snapshotId: nil)
        var options = SnapshotOptions(silos: silos, tags: tags, message: message)
        options.meta = meta
        options.commandTimeout = commandTimeout
        let s = Snapshotter(repository: repository, options: options)
        configure?(s)
        let result = try s.run()
        var out = SnapshotOutcome(result: result, policy: nil, warnings: [])
        guard let snap = result.snapshot else { return out }
        out.warnings += try repository.runHooks(.afterSnapshot, silos: snap.record.silos.map(\.name), snapshotId: snap.id)
        if !result.partial {
            do { out.policy = try repository.applyStoredPolicy() } catch {
                out.warnings.append("the snapshot is saved, but applying the stored policy failed: \(error)")
            }
        }
        for w in out.warnings { onWarning(w) }
        return out
    }

    /// What `restore` did.
    public struct RestoreOutcome: Sendable {
        public var result: RestoreResult
        /// Warnings from "after" hooks.
        public var warnings: [String]
    }

    /// Restores snapshot `ref` (an id, a unique prefix or `latest`) with `options`. An
    /// in-place restore (no `to`, not a dry run) runs the before-restore hooks of the
    /// repository and of each restored silo first (a failure throws `hookFailed`, nothing
    /// is changed) and the after-restore hooks afterwards (failures become warnings).
    /// `configure` may set progress and change callbacks on the restorer.
    @discardableResult
    public func restore(_ ref: String, options: RestoreOptions = RestoreOptions(),
                        configure: ((Restorer) -> Void)? = nil) throws -> RestoreOutcome {
        let snap = try repository.resolve(ref)
        let inPlace = options.to == nil && !options.dryRun
        let names = options.silos.isEmpty ? snap.record.silos.map(\.name) : options.silos
        if inPlace { _ = try repository.runHooks(.beforeRestore, silos: names, snapshotId: snap.id) }
        let r = Restorer(repository: repository, options: options)
        configure?(r)
        let result = try r.run(snap.id)
        var out = RestoreOutcome(result: result, warnings: [])
        if inPlace { out.warnings = try repository.runHooks(.afterRestore, silos: result.silos.map(\.name), snapshotId: snap.id) }
        for w in out.warnings { onWarning(w) }
        return out
    }
}
