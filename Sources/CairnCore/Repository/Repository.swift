// Repository: config, packs, index objects and snapshot records, reached through one
// `Backend` (a local folder or an S3 bucket), plus the local SQLite cache of what they say.
//
// Owns: opening and creating repositories, the silo registry, snapshot records and
// reference resolution. Write order for everything that reaches storage:
//   1. pack put (durable when it returns)                (Storage)
//   2. the pack's index object put                        (Storage)
//   3. cache rows for that pack, one transaction          (Index)
//   4. snapshot record put (write-once, never renamed)    (here)
//   5. snapshot row in the cache                          (here)
// A crash between 4 and 5 leaves a record the cache lacks: `open` adopts it, since
// everything it references is already durable. Records another process deleted (forget)
// leave the cache on the next open.

import Foundation
import CairnStorage
#if canImport(Glibc)
import Glibc
#endif
import CairnStorage

/// An open Cairn repository. One instance per thread of use.
public final class Repository {
    /// Where the repository's files are; changes once when `migrateFormatIfNeeded` moves a
    /// format 1 or 2 repository to format 3.
    public private(set) var layout: RepositoryLayout
    public internal(set) var config: RepositoryConfig
    /// The index: the repository's `index.sqlite` (formats 1 and 2) or the per-user cache (format 3).
    public private(set) var index: RepositoryIndex
    /// Every repository object goes through this store (and so through one `Backend`).
    public let store: RepositoryStore
    public let storage: PackStorage
    /// Shared lock held while this instance is open for writing (nil for read-only use).
    var lock: RepositoryLock?
    /// Set when opening completed or rolled back an interrupted restore (see Restore/RestoreJournal.swift).
    public private(set) var recoveryReport: String?
    /// Index objects the last cache update could not read or decode (`check` reports them).
    public internal(set) var damagedIndexObjects: [String] = []
    /// Folder overrides given to `init(backend:cache:state:)` (nil: the per-user defaults).
    let cacheOverride: String?, stateOverride: String?

    public var root: String { layout.root }
    /// True when the repository cannot be written (read-only mount, other owner):
    /// reading commands work, nothing is created, recovered or cleaned up in it.
    public private(set) var readOnly: Bool

    init(layout: RepositoryLayout, config: RepositoryConfig, index: RepositoryIndex, store: RepositoryStore, readOnly: Bool,
         cache: String? = nil, state: String? = nil) {
        self.layout = layout
        self.config = config
        self.index = index
        self.store = store
        self.storage = BackendPackStorage(store: store)
        self.readOnly = readOnly
        cacheOverride = cache
        stateOverride = state
    }

    deinit { lock?.release() }

    /// Creates a new repository at `path`: a folder (which must not exist or be empty) or an
    /// `s3:` URL (an existing bucket; the prefix must hold no repository).
    @discardableResult
    public static func create(at path: String, chunker: ChunkerParams = .default) throws -> Repository {
        if S3Repository.isURL(path) { return try create(backend: try S3Repository.backend(path), chunker: chunker) }
        let root = FS.absolute(path)
        if let st = try FS.lstatIfExists(root) {
            guard st.kind == .directory else { throw CairnError(.alreadyExists, "\(root) exists and is not a directory; choose another path for the repository", path: root) }
            if FS.exists(root + "/config.json") { throw CairnError(.alreadyExists, "a repository already exists at \(root); use it, or choose an empty folder", path: root) }
            if !(try FS.list(root)).isEmpty { throw CairnError(.alreadyExists, "\(root) is not empty; choose an empty or new folder for the repository", path: root) }
        }
        try FS.mkdirs(root)
        return try create(backend: LocalBackend(path: root), chunker: chunker)
    }

    /// Creates a new format-3 repository in `backend` (which must hold no config object). `cache`
    /// and `state` override the per-user index cache and per-host state folders (`HostFolders`).
    @discardableResult
    public static func create(backend: any Backend, chunker: ChunkerParams = .default, cache: String? = nil, state: String? = nil) throws -> Repository {
        let store = RepositoryStore(backend: backend)
        if try store.bytesIfExists(.config, limit: 1 << 20) != nil {
            throw CairnError(.alreadyExists, "a repository already exists at \(backend.location); use it, or choose another place", path: backend.location)
        }
        try chunker.validate()
        let config = RepositoryConfig.new(chunker: chunker)
        let layout = hostLayout(store, config, cache: cache, state: state)
        try FS.mkdirs(layout.state)
        try FS.atomicWrite(layout.silos, Array("[]\n".utf8))
        // The config is written last: a store without it is not a repository yet.
        try store.put(.config, bytes: try config.encoded())
        return try Repository(backend: backend, given: backend.location, cache: cache, state: state)
    }

    /// Opens the repository at `path` (a folder or an `s3:` URL), checking its format version.
    public static func open(at path: String) throws -> Repository {
        if S3Repository.isURL(path) { return try Repository(backend: try S3Repository.backend(path), given: path) }
        let root = FS.absolute(path)
        guard FS.exists(root) else {
            throw CairnError(.repositoryNotFound, "no Cairn repository at \(root); create one with `cairn init --repo \(path)` or pass --repo / CAIRN_REPO", path: root)
        }
        return try Repository(backend: LocalBackend(path: root), given: path)
    }

    /// Opens the repository whose objects `backend` holds, checking its format version. `cache`
    /// is the folder of the index cache and `state` the host-local state folder of a format-3
    /// repository (nil: `HostFolders`, per user and repository id); the cache may be deleted at
    /// any time and is brought up to date from the index objects and snapshot records it has not
    /// seen. Formats 1 and 2 (local folders only) keep both in the repository folder.
    public convenience init(backend: any Backend, cache: String? = nil, state: String? = nil) throws {
        try self.init(backend: backend, given: backend.location, cache: cache, state: state)
    }

    convenience init(backend: any Backend, given path: String, cache: String? = nil, state: String? = nil) throws {
        let store = RepositoryStore(backend: backend)
        let legacy = RepositoryLayout(root: backend.location)
        let config = try Self.loadConfig(legacy, store: store, given: path)
        guard config.version >= 3 || store.local != nil else {
            throw CairnError(.unsupportedFormat, "repository \(backend.location) has format version \(config.version), which only lives in local folders; migrate it in a folder with `cairn migrate` first", path: legacy.config)
        }
        let layout = config.version >= 3 ? Self.hostLayout(store, config, cache: cache, state: state) : legacy
        try self.init(layout: layout, config: config, store: store, cache: cache, state: state)
    }

    static func hostLayout(_ store: RepositoryStore, _ config: RepositoryConfig, cache: String?, state: String?) -> RepositoryLayout {
        RepositoryLayout(root: store.location, state: state ?? HostFolders.state(id: config.id),
                         cache: cache ?? HostFolders.cache(id: config.id), remote: store.local == nil)
    }

    private convenience init(layout: RepositoryLayout, config: RepositoryConfig, store: RepositoryStore, cache: String?, state: String?) throws {
        let repoWritable = store.local == nil || access(layout.root, W_OK) == 0
        if config.version >= 3 {
            // Format 3: the index is a per-user cache and the state is per host, both outside the repository.
            try FS.mkdirs(layout.cache)
            try FS.mkdirs(layout.state)
            let index = try RepositoryIndex(path: layout.index)
            self.init(layout: layout, config: config, index: index, store: store, readOnly: !repoWritable, cache: cache, state: state)
            try updateCache()
            if repoWritable { try finishMigration() }
            try recoverAndClean()
            return
        }
        let writable = repoWritable && (!FS.exists(layout.index) || access(layout.index, W_OK) == 0)
        if !writable {
            let index = try RepositoryIndex(path: layout.index, readOnly: true)
            self.init(layout: layout, config: config, index: index, store: store, readOnly: true, cache: cache, state: state)
            if FS.exists(RestoreJournal.path(layout)) {
                recoveryReport = "an interrupted restore is recorded in \(RestoreJournal.path(layout)); the repository is read-only, so it is left as it is (run `cairn restore --recover` with write access)"
            }
            return
        }
        for d in [layout.packs, layout.snapshots, layout.locks, layout.tmp] { try FS.mkdirs(d) }
        let index = try RepositoryIndex(path: layout.index)
        self.init(layout: layout, config: config, index: index, store: store, readOnly: false, cache: cache, state: state)
        try adoptSnapshotFiles()
        try recoverAndClean()
    }

    /// Brings the cache up to date: index objects first (format 3), then snapshot records.
    func updateCache() throws {
        if config.version >= 3 { try syncIndexObjects() }
        try adoptSnapshotFiles()
    }

    /// Completes or rolls back an interrupted restore and removes temporaries whose owner is gone.
    private func recoverAndClean() throws {
        // An interrupted restore is completed or rolled back by the next command that opens the repository.
        // A journal that cannot be trusted is left alone: this command goes on, `restore --recover` explains it.
        do { recoveryReport = try RestoreSwap.recover(layout, registered: try? silos()) } catch let e as CairnError where e.code == .integrity {
            recoveryReport = e.message
        }
        Leftovers.clean(layout)
        // Temporaries of puts a crash interrupted (`tmp/TYPE-NAME.N.tmp`), once an hour old.
        if !readOnly { _ = try? store.local?.removeStaleTemporaries(olderThan: 3600) }
    }

    /// Replaces the layout, config and index after a migration to format 3.
    func switchToFormat3(_ c: RepositoryConfig) throws {
        let l = Self.hostLayout(store, c, cache: cacheOverride, state: stateOverride)
        try FS.mkdirs(l.cache)
        index = try RepositoryIndex(path: l.index)
        layout = l
        config = c
        try updateCache()
    }

    /// Reads and validates the config object (exists, parses, supported format version and algorithms).
    static func loadConfig(_ layout: RepositoryLayout, store: RepositoryStore, given path: String) throws -> RepositoryConfig {
        let root = layout.root
        guard let bytes = try store.bytesIfExists(.config, limit: 1 << 20) else {
            throw CairnError(.repositoryNotFound, "no Cairn repository at \(root); create one with `cairn init --repo \(path)` or pass --repo / CAIRN_REPO", path: root)
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], let version = obj["version"] as? Int else {
            throw CairnError(.integrity, "\(layout.config) cannot be parsed; restore it from a copy of the repository", path: layout.config)
        }
        guard RepositoryConfig.readableVersions.contains(version), obj["format"] as? String == "cairn-repository" else {
            throw CairnError(.unsupportedFormat, "repository \(root) has format version \(version); this cairn reads versions \(RepositoryConfig.readableVersions.lowerBound) to \(RepositoryConfig.readableVersions.upperBound): use a matching cairn release", path: layout.config)
        }
        let config: RepositoryConfig
        do { config = try JSONDecoder().decode(RepositoryConfig.self, from: Data(bytes)) } catch {
            throw CairnError(.integrity, "\(layout.config) is incomplete (\(error)); restore it from a copy of the repository", path: layout.config)
        }
        try config.chunker.validate()
        guard config.packTargetSize >= 1 << 16, config.packTargetSize <= 1 << 30 else {
            throw CairnError(.integrity, "\(layout.config) has packTargetSize \(config.packTargetSize), out of range (64 KiB to 1 GiB); restore it from a copy of the repository", path: layout.config)
        }
        guard config.hash == "sha256", config.compression == "lz4" else {
            throw CairnError(.unsupportedFormat, "repository \(root) uses hash \(config.hash) and compression \(config.compression); this cairn supports sha256 and lz4", path: layout.config)
        }
        return config
    }

    /// Takes the repository lock for this instance (shared for writers, exclusive for prune/rebuild).
    public func lock(_ mode: RepositoryLock.Mode, wait: Double = 0, command: String) throws {
        if let l = lock, l.mode == mode { return }
        lock?.release()
        lock = nil
        lock = try RepositoryLock.acquire(store.backend, mode: mode, wait: wait, command: command)
        // What this instance dedups against is read under the lock: a prune that ran while we
        // waited may have deleted packs (and their index objects) the cache still names.
        if config.version >= 3 { try syncIndexObjects() }
    }

    /// Removes stale lock objects (every lock object with `all`) and format 1's left-over lock info
    /// files (`cairn unlock`).
    public func removeStaleLocks(all: Bool = false) throws -> RepositoryLock.UnlockResult {
        var r = try RepositoryLock.removeStale(store.backend, all: all)
        if store.local != nil { r.partialFiles = RepositoryLock.removeFormat1Info(layout) }
        return r
    }

    /// The lock objects of this repository and their holders.
    public func lockHolders() throws -> [RepositoryLock.Holder] {
        try RepositoryLock.holders(store.backend)
    }

    public func unlock() {
        lock?.release()
        lock = nil
    }

    // MARK: Silos

    public func silos() throws -> [Silo] {
        guard FS.exists(layout.silos) else { return [] }
        let bytes = try FS.readAll(layout.silos)
        guard bytes.count <= 16 << 20 else {
            throw CairnError(.integrity, "\(layout.silos) is \(bytes.count) bytes, larger than any silo list; fix or re-create it", path: layout.silos)
        }
        let list: [Silo]
        do { list = try JSONDecoder().decode([Silo].self, from: Data(bytes)) } catch {
            throw CairnError(.integrity, "\(layout.silos) cannot be parsed (\(String(describing: error).prefix(160))); fix or re-create the silo list", path: layout.silos)
        }
        var seen = Set<String>()
        for (i, s) in list.enumerated() {
            func bad(_ why: String) -> CairnError {
                CairnError(.integrity, "\(layout.silos) entry \(i) (\(s.name.prefix(64))) \(why); fix or re-create the silo list", path: layout.silos)
            }
            do { try Silo.validate(name: s.name) } catch { throw bad("has an invalid name") }
            if !seen.insert(s.name).inserted { throw bad("repeats a silo name") }
            switch s.kind {
            case .path:
                guard let p = s.path, p.hasPrefix("/"), !p.utf8.contains(0) else { throw bad("has no absolute path") }
            case .command:
                guard let c = s.command, !c.isEmpty, !c.utf8.contains(0), let f = s.filename, !f.isEmpty, !f.contains("/"), f != ".", f != ".." else {
                    throw bad("is a command silo without a command or a plain file name")
                }
            }
        }
        return list
    }

    func saveSilos(_ silos: [Silo]) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FS.atomicWrite(layout.silos, Array(try enc.encode(silos)) + [10])
    }

    /// Registers a silo. Paths are stored absolute.
    public func addSilo(_ silo: Silo) throws {
        try Silo.validate(name: silo.name)
        var s = silo
        var all = try silos()
        if all.contains(where: { $0.name == silo.name }) {
            throw CairnError(.alreadyExists, "silo '\(silo.name)' already exists; remove it first or choose another name")
        }
        if s.kind == .path {
            let p = FS.absolute(s.path ?? "")
            guard let st = try FS.lstatIfExists(p), st.kind == .directory || st.kind == .file else {
                throw CairnError(.notFound, "silo path \(p) does not exist or is not a directory or regular file", path: p)
            }
            try checkNotOverlappingRepository(p, what: "silo path")
            // A silo inside another silo is allowed (a database file inside an application folder);
            // an in-place restore of both at once is refused (Restore.makePlans).
            s.path = p
        } else {
            guard let f = s.filename, !f.isEmpty, !f.contains("/"), f != ".", f != ".." else {
                throw CairnError(.invalidInput, "a command silo needs --filename NAME (a plain file name) for its output")
            }
        }
        all.append(s)
        try saveSilos(all)
    }

    public func removeSilo(_ name: String) throws {
        var all = try silos()
        guard all.contains(where: { $0.name == name }) else { throw unknownSilo(name, known: all) }
        all.removeAll { $0.name == name }
        try saveSilos(all)
    }

    public func silo(_ name: String) throws -> Silo {
        let all = try silos()
        guard let s = all.first(where: { $0.name == name }) else { throw unknownSilo(name, known: all) }
        return s
    }

    func unknownSilo(_ name: String, known: [Silo]) -> CairnError {
        CairnError(.notFound, "unknown silo '\(name)'; known silos: \(known.map(\.name).joined(separator: ", ").ifEmpty("none (add one with `cairn silo add`)"))")
    }

    // MARK: Snapshots

    /// All snapshots, oldest first.
    public func snapshots() throws -> [Snapshot] {
        try index.snapshotRecords().map { Snapshot(id: $0.id, record: try SnapshotRecord.decode(Array($0.json.utf8), what: $0.id)) }
    }

    /// Stores a snapshot record object durably (write-once), then its index row. Returns the snapshot.
    @discardableResult
    public func saveSnapshot(_ record: SnapshotRecord) throws -> Snapshot {
        let bytes = try record.encoded()
        let id = BlockId.hash(bytes).hex
        try store.put(try .make(.snapshot, id), bytes: bytes, existingIsFine: true)
        try index.addSnapshot(id: id, timeNs: record.timeNs, recordJSON: String(decoding: bytes.dropLast(), as: UTF8.self))
        return Snapshot(id: id, record: record)
    }

    /// Removes a snapshot: its record object is deleted, then its index row (see Retention/Forget.swift).
    public func deleteSnapshot(_ id: String) throws {
        try removeSnapshotRecord(id)
    }

    /// Brings the index's snapshot rows up to date with the record objects: adds rows for records
    /// it lacks (a crash between the two writes, or another machine's snapshot), reading only those,
    /// and drops rows whose record is gone (forgotten by another process).
    func adoptSnapshotFiles() throws {
        let known = try index.snapshotIds()
        var listed = Set<String>()
        for o in try store.list(.snapshot) where o.handle.name.utf8.count == 64 && Hex.isHex(o.handle.name) {
            let id = o.handle.name
            listed.insert(id)
            if known.contains(id) { continue }
            guard let bytes = try store.bytesIfExists(o.handle, limit: SnapshotRecord.maxSize), BlockId.hash(bytes).hex == id else { continue }
            let rec = try SnapshotRecord.decode(bytes, what: store.display(o.handle))
            try index.addSnapshot(id: id, timeNs: rec.timeNs, recordJSON: String(decoding: bytes.dropLast(), as: UTF8.self))
        }
        for id in known.subtracting(listed) where !forgetInProgress(id) { try index.removeSnapshot(id: id) }
    }

    /// True when a format-2 tombstone (`ID.json.forgotten`) says a removal is in progress: the
    /// next forget or prune completes it (and check reports it).
    func forgetInProgress(_ id: String) -> Bool {
        store.local != nil && FS.exists(layout.forgottenSnapshot(id))
    }

    /// Resolves a snapshot reference: full id, unique prefix of at least 6 hex digits, `latest` or `latest:TAG` (SnapshotOrder).
    public func resolve(_ ref: String, silo: String? = nil) throws -> Snapshot {
        let all = try snapshots()
        if SnapshotOrder.isLatestReference(ref) { return try SnapshotOrder.resolveLatest(ref, in: all, silo: silo) }
        let r = ref.lowercased()
        guard r.utf8.count >= 6, Hex.isHex(r) else {
            throw CairnError(.invalidInput, "'\(ref)' is not a snapshot reference; use a full id, a prefix of at least 6 hex digits, or `latest`")
        }
        let m = all.filter { $0.id.hasPrefix(r) }
        if m.count == 1 { return m[0] }
        if m.isEmpty { throw CairnError(.notFound, "no snapshot matches '\(ref)'; list them with `cairn list`") }
        throw CairnError(.ambiguous, "'\(ref)' matches \(m.count) snapshots (\(m.prefix(4).map(\.shortId).joined(separator: ", "))); give more digits")
    }

    // MARK: Blocks

    public func makeReader() -> BlockReader { BlockReader(storage: storage, index: index) }
    public func makeWriter() -> BlockWriter { BlockWriter(storage: storage, index: index, targetSize: config.packTargetSize) }

    /// Reads and decodes a tree block.
    public func tree(_ id: BlockId, reader: BlockReader, path: String = "") throws -> Tree {
        try Tree.decode(try reader.readMeta(id, context: path.isEmpty ? "" : "(tree of \(path)) "), what: "tree \(id.hex)")
    }

    /// A fresh temporary path inside the repository (same filesystem as packs).
    /// Named `PREFIX-PID-STARTTIME-RANDOM` so that a later command can prove its owner is gone
    /// and remove it (see Leftovers.swift). A read-only repository uses `$TMPDIR` (or /tmp) instead.
    public func temporaryPath(_ prefix: String) throws -> String {
        let dir: String
        if readOnly {
            dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        } else {
            try FS.mkdirs(layout.tmp)
            dir = layout.tmp
        }
        return "\(dir)/\(Leftovers.ownedName(prefix))"
    }

    /// True when the content of file entry `e` uses a block the index knows to be lost
    /// (directly, or through one of its content lists). Such an entry's refs must not be
    /// reused by the unchanged-file fast path: the file is read and its blocks stored again.
    public func contentMissing(_ e: TreeEntry, reader: BlockReader) -> Bool {
        guard index.hasMissing else { return false }
        let refs = e.content.map(\.id)
        if (try? index.anyMissing(refs)) ?? true { return true }
        guard e.indirect else { return false }
        for l in refs {
            guard let list = try? ContentList.decode(try reader.readMeta(l), what: "list block \(l.hex)") else { return true }
            if (try? index.anyMissing(list.map(\.id))) ?? true { return true }
        }
        return false
    }
}

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
