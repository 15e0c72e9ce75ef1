// Repository: the folder that holds config, index, packs and snapshot records.
//
// Owns: opening and creating repositories, the silo registry, snapshot records and
// reference resolution. Write order for everything that reaches disk:
//   1. pack bytes -> fsync -> rename -> fsync dir      (Storage)
//   2. index rows for that pack, one transaction        (Index)
//   3. snapshot record file -> fsync -> rename          (here)
//   4. snapshot row in the index                        (here)
// A crash between 3 and 4 leaves a record file the index lacks: `open` adopts it,
// since everything it references is already durable.

import Foundation
import CairnStorage
#if canImport(Glibc)
import Glibc
#endif

/// An open Cairn repository. One instance per thread of use.
public final class Repository {
    public let layout: RepositoryLayout
    public let config: RepositoryConfig
    public let index: RepositoryIndex
    public let storage: PackStorage
    /// Shared lock held while this instance is open for writing (nil for read-only use).
    var lock: RepositoryLock?
    /// Set when opening completed or rolled back an interrupted restore (see Restore/RestoreJournal.swift).
    public private(set) var recoveryReport: String?

    public var root: String { layout.root }
    /// True when the repository folder cannot be written (read-only mount, other owner):
    /// reading commands work, nothing is created, recovered or cleaned up.
    public var readOnly: Bool { index.readOnly }

    init(layout: RepositoryLayout, config: RepositoryConfig, index: RepositoryIndex, storage: PackStorage) {
        self.layout = layout
        self.config = config
        self.index = index
        self.storage = storage
    }

    deinit { lock?.release() }

    /// Creates a new repository at `path` (the folder must not exist or be empty).
    @discardableResult
    public static func create(at path: String, chunker: ChunkerParams = .default) throws -> Repository {
        let root = FS.absolute(path)
        let layout = RepositoryLayout(root: root)
        if let st = try FS.lstatIfExists(root) {
            guard st.kind == .directory else { throw CairnError(.alreadyExists, "\(root) exists and is not a directory; choose another path for the repository", path: root) }
            if FS.exists(layout.config) { throw CairnError(.alreadyExists, "a repository already exists at \(root); use it, or choose an empty folder", path: root) }
            if !(try FS.list(root)).isEmpty { throw CairnError(.alreadyExists, "\(root) is not empty; choose an empty or new folder for the repository", path: root) }
        }
        try chunker.validate()
        for d in [root, layout.packs, layout.snapshots, layout.locks, layout.tmp] { try FS.mkdirs(d) }
        let config = RepositoryConfig.new(chunker: chunker)
        _ = try RepositoryIndex(path: layout.index)
        try FS.atomicWrite(layout.silos, Array("[]\n".utf8))
        // The config is written last: a folder without it is not a repository yet.
        try FS.atomicWrite(layout.config, try config.encoded())
        return try open(at: root)
    }

    /// Opens the repository at `path`, checking its format version.
    public static func open(at path: String) throws -> Repository {
        let layout = RepositoryLayout(root: FS.absolute(path))
        let config = try loadConfig(layout, given: path)
        let writable = access(layout.root, W_OK) == 0 && (!FS.exists(layout.index) || access(layout.index, W_OK) == 0)
        if !writable {
            let index = try RepositoryIndex(path: layout.index, readOnly: true)
            let repo = Repository(layout: layout, config: config, index: index, storage: LocalPackStorage(root: layout.packs))
            if FS.exists(RestoreJournal.path(layout)) {
                repo.recoveryReport = "an interrupted restore is recorded in \(RestoreJournal.path(layout)); the repository is read-only, so it is left as it is (run `cairn restore --recover` with write access)"
            }
            return repo
        }
        for d in [layout.packs, layout.snapshots, layout.locks, layout.tmp] { try FS.mkdirs(d) }
        let index = try RepositoryIndex(path: layout.index)
        let repo = Repository(layout: layout, config: config, index: index, storage: LocalPackStorage(root: layout.packs))
        try repo.adoptSnapshotFiles()
        // An interrupted restore is completed or rolled back by the next command that opens the repository.
        // A journal that cannot be trusted is left alone: this command goes on, `restore --recover` explains it.
        do { repo.recoveryReport = try RestoreSwap.recover(layout, registered: try? repo.silos()) } catch let e as CairnError where e.code == .integrity {
            repo.recoveryReport = e.message
        }
        Leftovers.clean(layout)
        return repo
    }

    /// Reads and validates `config.json` (exists, parses, supported format version and algorithms).
    static func loadConfig(_ layout: RepositoryLayout, given path: String) throws -> RepositoryConfig {
        let root = layout.root
        guard FS.exists(layout.config) else {
            throw CairnError(.repositoryNotFound, "no Cairn repository at \(root); create one with `cairn init --repo \(path)` or pass --repo / CAIRN_REPO", path: root)
        }
        let bytes = try FS.readAll(layout.config)
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
        lock = try RepositoryLock.acquire(layout, mode: mode, wait: wait, command: command)
    }

    /// Removes stale lock objects (every lock object with `all`) and format 1's left-over lock info
    /// files (`cairn unlock`).
    public func removeStaleLocks(all: Bool = false) throws -> RepositoryLock.UnlockResult {
        var r = try RepositoryLock.removeStale(LocalBackend(path: layout.root), all: all)
        r.partialFiles = RepositoryLock.removeFormat1Info(layout)
        return r
    }

    /// The lock objects of this repository and their holders.
    public func lockHolders() throws -> [RepositoryLock.Holder] {
        try RepositoryLock.holders(LocalBackend(path: layout.root))
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

    /// Writes a snapshot record file durably, then its index row. Returns the snapshot.
    @discardableResult
    public func saveSnapshot(_ record: SnapshotRecord) throws -> Snapshot {
        let bytes = try record.encoded()
        let id = BlockId.hash(bytes).hex
        try FS.atomicWrite(layout.snapshot(id), bytes, mode: 0o444)
        try index.addSnapshot(id: id, timeNs: record.timeNs, recordJSON: String(decoding: bytes.dropLast(), as: UTF8.self))
        return Snapshot(id: id, record: record)
    }

    /// Removes a snapshot: its record file is renamed to a tombstone first (so `open` cannot
    /// adopt it back), then its index row goes, then the tombstone (see Retention/Forget.swift).
    public func deleteSnapshot(_ id: String) throws {
        try removeSnapshotRecord(id)
    }

    /// Adds index rows for snapshot files the index lacks (a crash between the two writes).
    func adoptSnapshotFiles() throws {
        let known = try index.snapshotIds()
        for name in try FS.list(layout.snapshots) where name.hasSuffix(".json") && name.utf8.count == 69 {
            let id = String(name.dropLast(5))
            if known.contains(id) { continue }
            let bytes = try FS.readAll(layout.snapshot(id))
            guard BlockId.hash(bytes).hex == id else { continue }
            let rec = try SnapshotRecord.decode(bytes, what: layout.snapshot(id))
            try index.addSnapshot(id: id, timeNs: rec.timeNs, recordJSON: String(decoding: bytes.dropLast(), as: UTF8.self))
        }
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
