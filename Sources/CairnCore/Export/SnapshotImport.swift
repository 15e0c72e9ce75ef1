// ZIP -> snapshot. A Cairn export (it carries `cairn-snapshot.json`) comes back as the same
// snapshot: same tree ids, time, host, tags and message, every file's SHA-256 checked against
// the manifest. Any other ZIP becomes a snapshot whose top-level folders are silos (or one
// silo holding the whole archive, `--as-silo NAME`).
//
// Nothing is trusted: the whole central directory is parsed and checked (ZipReader, ZipSafety)
// and, for Cairn exports, matched against the manifest entry by entry before the first block
// is written. Content then flows through the normal ChunkPipeline/BlockWriter path, trees are
// encoded exactly as the Snapshotter encodes them, and the record is saved last. A failure on
// the way discards the open pack and records no snapshot; packs sealed before it hold only
// unreferenced blocks, which `check` accepts and `prune` removes.
//
// Names are bytes: entries are matched, sorted and split as `FileName`s; the one place that
// turns an entry name into a tree entry name is `treeName` (and `treeTarget` for links).
// Imports are data, not authority: the record carries `imported` (ImportOrigin), so it never
// becomes a parent (ParentSelection) and its time cannot order it after its import
// (SnapshotOrder). setuid, setgid and sticky bits are dropped unless `keepSpecialModes` is set
// (a manifest is not authenticated, so this holds for Cairn exports too); from foreign archives
// the world-writable bit is dropped as well. Symlink permission bits are kept (Linux ignores them).

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What to import and how.
public struct ImportOptions: Sendable {
    /// Silo naming: one plain `NAME` (a foreign archive becomes that one silo; a one-silo Cairn
    /// export is renamed to it), or any number of `OLD=NEW` renames of top-level folders.
    public var asSilo: [String]
    /// Tags added to the imported snapshot (a Cairn export keeps its own as well).
    public var tags: [String]
    /// Refuse archives larger than this, or whose entries add up to more than this uncompressed.
    public var maxSize: UInt64?
    /// Keep setuid, setgid and sticky bits (and, for foreign archives, world-writable
    /// permissions) as the archive gives them (`--keep-special-modes`). Off: they are cleared.
    public var keepSpecialModes: Bool
    /// Gives the password of an encrypted (WinZip AES) archive; called only when the archive
    /// has encrypted entries. Without it such archives are refused.
    public var password: ZipPassword?

    public init(asSilo: [String] = [], tags: [String] = [], maxSize: UInt64? = nil, keepSpecialModes: Bool = false,
                password: ZipPassword? = nil) {
        self.asSilo = asSilo
        self.tags = tags
        self.maxSize = maxSize
        self.keepSpecialModes = keepSpecialModes
        self.password = password
    }

    /// The bits `keepSpecialModes` governs: setuid, setgid, sticky.
    public static let specialModeBits: UInt32 = 0o7000
    /// From foreign archives also: other-writable.
    public static let foreignModeBits: UInt32 = 0o7002

    /// The permission bits an import stores for a file or directory with `mode`.
    public func importedMode(_ mode: UInt32, foreign: Bool) -> UInt32 {
        keepSpecialModes ? mode & 0o7777 : mode & 0o7777 & ~(foreign ? ImportOptions.foreignModeBits : ImportOptions.specialModeBits)
    }
}

/// One imported silo.
public struct ImportedSilo: Codable, Sendable, Equatable {
    public var name: String
    public var tree: String
    /// For Cairn exports: whether the rebuilt tree id equals the one the export recorded.
    public var treeMatches: Bool?
}

/// What an import recorded.
public struct ImportResult: Codable, Sendable, Equatable {
    /// The new snapshot's id in this repository.
    public var snapshot: String
    /// True when the archive was a Cairn export (manifest found and verified).
    public var cairnExport: Bool
    /// The snapshot id in the exporting repository.
    public var originalSnapshot: String?
    public var silos: [ImportedSilo]
    public var files: Int
    public var dirs: Int
    public var symlinks: Int
    public var bytes: UInt64
}

/// Imports one ZIP archive as a snapshot. Create one per import.
public final class SnapshotImporter {
    /// Deepest path (in components) an imported archive may hold.
    public static let maxDepth = ZipSafety.maxDepth
    /// Largest manifest read into memory.
    public static let maxManifestSize: UInt64 = 1 << 30

    let repo: Repository
    let options: ImportOptions
    /// Called after each file with (files done, bytes done).
    public var onProgress: ((Int, UInt64) -> Void)?

    public init(repository: Repository, options: ImportOptions = ImportOptions()) {
        repo = repository
        self.options = options
    }

    /// A node of the archive's folder structure, built from the central directory.
    final class Node {
        var children: [FileName: Node] = [:]
        var kind: ZipEntryKind = .directory
        /// Index into the reader's entries (nil: a folder implied by deeper names).
        var zip: Int?
        var meta: ExportManifestEntry?
    }

    struct Counts {
        var files = 0, dirs = 0, symlinks = 0
        var bytes: UInt64 = 0
    }

    /// Copies standard input (or any descriptor) to a new temporary file inside the repository
    /// and returns its path; the caller removes it. Stops with an error past `maxSize` bytes.
    public func spool(fd: Int32 = 0) throws -> String {
        let path = try repo.temporaryPath("import-spool")
        do {
            let out = try PosixFile.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { out.close() }
            let src = PosixFile(fd: dup(fd), path: "<stdin>")
            defer { src.close() }
            var buf = [UInt8](repeating: 0, count: 1 << 20)
            var total: UInt64 = 0
            while true {
                let n = try buf.withUnsafeMutableBytes { try src.read(into: $0.baseAddress!, count: $0.count) }
                if n == 0 { break }
                total += UInt64(n)
                if let m = options.maxSize, total > m {
                    throw CairnError(.invalidInput, "the archive on standard input is larger than --max-size \(m) bytes; raise the limit or import a smaller archive")
                }
                try buf.withUnsafeBytes { try out.write($0.baseAddress!, count: n) }
            }
            return path
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Imports the archive at `path`; `display` names it in messages and records.
    public func run(archive path: String, display: String? = nil) throws -> ImportResult {
        let name = display ?? path
        let file = try PosixFile.open(path, O_RDONLY)
        let size = try file.stat().size
        if let m = options.maxSize, size > m {
            throw CairnError(.invalidInput, "ZIP archive \(name) is \(size) bytes, more than --max-size \(m); raise the limit or import a smaller archive", path: name)
        }
        var limits = ZipLimits(maxTotalSize: options.maxSize, symlinks: .allowAnyTarget)
        limits.allowBackslash = true
        limits.checkRatioOnOpen = false
        let password = options.password
        var reader = try ZipReader(file: file, limits: limits, password: password)
        if reader.entries.contains(where: { $0.pathName == SnapshotImporter.manifestName }) {
            // A Cairn export: its names are the exported bytes (flagged UTF-8 only when they are),
            // matched against the manifest's exact bytes, so legacy names are not CP437-mapped.
            limits.rawLegacyNames = true
            reader = try ZipReader(path: path, limits: limits, password: password)
        }
        if let m = try readManifest(reader) {
            return try importCairn(reader, manifest: m, display: name)
        }
        return try importForeign(reader, display: name)
    }

    // MARK: - Manifest

    func readManifest(_ reader: ZipReader) throws -> ExportManifest? {
        guard let e = reader.entries.first(where: { $0.pathName == SnapshotImporter.manifestName }), e.kind == .file else { return nil }
        if e.size > SnapshotImporter.maxManifestSize {
            throw reader.reject(e.name, "is \(e.size) bytes, more than the \(SnapshotImporter.maxManifestSize)-byte limit for a manifest; the archive is hostile or not a Cairn export")
        }
        var limited = reader.limits
        limited.checkRatioOnOpen = true
        return try ManifestEncoding.decode(try reader.contents(e, maxRatio: limited.maxRatio), archive: reader.path)
    }

    static let manifestName = FileName(utf8: ExportManifest.fileName)
    static let restoreName = FileName(utf8: ExportManifest.restoreFileName)

    /// A manifest entry's path as bytes: the one place manifest paths become names.
    /// (`path`, or `pathBytes` when the name is not UTF-8; `checkManifest` refuses an entry
    /// whose `pathBytes` is not base64, so the fallback is never used after it.)
    static func manifestPath(_ e: ExportManifestEntry) -> FileName { e.pathName ?? FileName(utf8: e.path) }

    /// A manifest entry's symlink target as bytes.
    static func manifestTarget(_ e: ExportManifestEntry) -> [UInt8]? { e.targetName?.bytes }

    /// The checks a manifest must pass on its own (silo names and tree ids, entry types,
    /// digests, paths inside declared silos, no duplicates). Returns the entries by path.
    public static func checkManifest(_ manifest: ExportManifest, archive: String) throws -> (silos: Set<FileName>, byPath: [FileName: ExportManifestEntry]) {
        func forged(_ what: String) -> CairnError { CairnError(.invalidInput, "\(ExportManifest.fileName) in \(archive) \(what); the archive is damaged or forged", path: archive) }
        func entry(_ path: FileName, _ what: String) -> CairnError {
            CairnError(.invalidInput, "ZIP entry \(ZipLE.quote(path.escaped)) in \(archive): \(what); the archive is damaged or forged", path: archive)
        }
        let file = ExportManifest.fileName
        var siloNames = Set<FileName>()
        for s in manifest.silos {
            try Silo.validate(name: s.name)
            guard BlockId(hex: s.tree) != nil, siloNames.insert(FileName(utf8: s.name)).inserted else {
                throw forged("lists silo '\(s.name)' twice or with a malformed tree id")
            }
        }
        var byPath: [FileName: ExportManifestEntry] = [:]
        byPath.reserveCapacity(manifest.entries.count)
        for e in manifest.entries {
            guard e.pathName != nil else { throw entry(FileName(utf8: e.path), "has a pathBytes value in \(file) that is not base64") }
            let path = manifestPath(e)
            guard e.kind != nil else { throw entry(path, "has type \(ZipLE.quote(e.type)) in \(file), which is not file, dir or symlink") }
            if e.kind == .file, e.sha256.flatMap({ BlockId(hex: $0) }) == nil { throw entry(path, "has no valid SHA-256 in \(file)") }
            if e.kind == .symlink, (manifestTarget(e) ?? []).isEmpty { throw entry(path, "is a symlink without a target in \(file)") }
            try ZipSafety.validateName(path.bytes, allowBackslash: true)
            let parts = path.components
            guard parts.count > 1, siloNames.contains(parts[0]) else { throw entry(path, "is listed in \(file) outside the silos it declares") }
            if byPath.updateValue(e, forKey: path) != nil { throw entry(path, "is listed twice in \(file)") }
        }
        return (siloNames, byPath)
    }

    /// Checks a Cairn export's central directory against its manifest, entry by entry.
    func verifyAgainstManifest(_ reader: ZipReader, _ m: ExportManifest) throws -> [FileName: ExportManifestEntry] {
        func reject(_ entry: String, _ what: String) -> CairnError { reader.reject(entry, what) }
        let (siloNames, byPath) = try SnapshotImporter.checkManifest(m, archive: reader.path)
        var matched = 0
        var present = Set<FileName>()
        for z in reader.entries {
            present.insert(z.pathName)
            if z.pathName == SnapshotImporter.manifestName || z.pathName == SnapshotImporter.restoreName { continue }
            if siloNames.contains(z.pathName) {
                guard z.kind == .directory else { throw reject(z.name, "has the name of a silo but is not a folder; the archive is damaged or forged") }
                continue
            }
            guard let e = byPath[z.pathName] else {
                throw reject(z.name, "is not listed in \(ExportManifest.fileName); an entry was added to the archive after export, remove it or import without the manifest")
            }
            let kindMatches: Bool
            switch e.kind! {
            case .file: kindMatches = z.kind == .file && z.size == e.size
            case .directory: kindMatches = z.kind == .directory
            case .symlink: kindMatches = z.kind == .symlink && z.targetBytes == SnapshotImporter.manifestTarget(e)
            }
            if !kindMatches {
                throw reject(z.name, "does not match \(ExportManifest.fileName) (which lists a \(e.type) of \(e.size) bytes\(e.target.map { " to \(ZipLE.quote($0))" } ?? "")); the archive is damaged or was altered")
            }
            matched += 1
        }
        if matched != byPath.count, let missing = m.entries.first(where: { !present.contains(SnapshotImporter.manifestPath($0)) }) {
            throw CairnError(.invalidInput, "\(ExportManifest.fileName) in \(reader.path) lists \(ZipLE.quote(missing.path)), which the archive lacks; the archive is truncated or was altered", path: reader.path)
        }
        for s in siloNames where !present.contains(s) {
            throw CairnError(.invalidInput, "\(ExportManifest.fileName) in \(reader.path) lists silo '\(s.escaped)' but the archive has no folder \(ZipLE.quote(s.escaped + "/")); the archive is truncated or was altered", path: reader.path)
        }
        return byPath
    }

    // MARK: - Silo names

    /// Parses `--as-silo`: (one plain name, renames OLD -> NEW).
    func siloNaming() throws -> (whole: String?, renames: [String: String]) {
        var whole: String?
        var renames: [String: String] = [:]
        for a in options.asSilo {
            if let eq = a.firstIndex(of: "=") {
                let old = String(a[..<eq]), new = String(a[a.index(after: eq)...])
                try Silo.validate(name: new)
                renames[old] = new
            } else {
                try Silo.validate(name: a)
                guard whole == nil, options.asSilo.count == 1 else {
                    throw CairnError(.invalidInput, "give --as-silo NAME once (the whole archive as one silo), or --as-silo OLD=NEW for each folder to rename")
                }
                whole = a
            }
        }
        return (whole, renames)
    }

    func checkUniqueNames(_ names: [String]) throws {
        var seen = Set<String>()
        for n in names where !seen.insert(n).inserted {
            throw CairnError(.invalidInput, "two silos would be named '\(n)' after --as-silo renames; choose different names")
        }
    }

    // MARK: - Cairn exports

    func importCairn(_ reader: ZipReader, manifest m: ExportManifest, display: String) throws -> ImportResult {
        let byPath = try verifyAgainstManifest(reader, m)
        try reader.checkRatios(exempt: Set(reader.entries.filter { byPath[$0.pathName] != nil }.map(\.pathName)))
        try m.chunker.validate()
        if let meta = m.snapshot.meta { try SnapshotMeta.validate(meta, what: display) }
        let (whole, renames) = try siloNaming()
        if whole != nil && m.silos.count != 1 {
            throw CairnError(.invalidInput, "\(display) is a Cairn export of \(m.silos.count) silos; rename them with --as-silo OLD=NEW instead of one --as-silo NAME")
        }
        for old in renames.keys where !m.silos.contains(where: { $0.name == old }) {
            throw CairnError(.notFound, "--as-silo \(old)=…: the export has no silo '\(old)'; its silos: \(m.silos.map(\.name).joined(separator: ", "))")
        }
        func newName(_ s: String) -> String { whole ?? renames[s] ?? s }
        try checkUniqueNames(m.silos.map { newName($0.name) })
        // The same export imported twice would be the same snapshot again.
        for s in try repo.snapshots() where s.record.timeNs == m.snapshot.timeNs
            && s.record.silos.map({ [$0.name, $0.tree] }) == m.silos.map({ [newName($0.name), $0.tree] }) {
            throw CairnError(.alreadyExists, "snapshot \(s.shortId) already holds this export (same time and trees); nothing imported")
        }
        var roots: [String: Node] = [:]
        for s in m.silos { roots[s.name] = Node() }
        for (i, z) in reader.entries.enumerated() {
            guard let meta = byPath[z.pathName] else { continue }
            let parts = z.pathName.components
            guard let silo = parts[0].utf8String, let root = roots[silo] else { continue }
            try insert(reader, root, parts.dropFirst(), index: i, meta: meta)
        }
        let result = try write(reader, silos: m.silos.map { (newName($0.name), roots[$0.name] ?? Node()) }, chunker: m.chunker, cairn: true) { name, tree, c in
            guard var s = m.silos.first(where: { newName($0.name) == name }) else {
                throw CairnError(.internalError, "import: silo \(name) vanished from the manifest; this is a bug in Cairn, please report it")
            }
            s.name = name
            s.tree = tree.hex
            // Counts are data: the record states what was imported, not what the manifest claims.
            s.files = c.files
            s.dirs = s.kind == "directory" ? c.dirs + 1 : c.dirs
            s.symlinks = c.symlinks
            s.bytes = c.bytes
            s.filesRead = min(max(s.filesRead, 0), c.files)
            s.sqliteDatabases = min(max(s.sqliteDatabases, 0), c.files)
            return s
        } record: { silos, stats in
            var tags = m.snapshot.tags
            for t in options.tags where !tags.contains(t) { tags.append(t) }
            var rec = SnapshotRecord(version: 1, timeNs: m.snapshot.timeNs, hostname: m.snapshot.hostname, tags: tags, message: m.snapshot.message,
                                     parent: nil, silos: silos, bytesAdded: stats.storedBytesAdded, blocksAdded: stats.blocksAdded,
                                     partial: m.snapshot.partial, program: m.snapshot.program,
                                     imported: ImportOrigin(archive: FS.basename(display), importedAtNs: SnapshotOrder.nowNs(), originalSnapshot: m.snapshot.id))
            rec.meta = m.snapshot.meta
            return rec
        }
        var r = result
        r.cairnExport = true
        r.originalSnapshot = m.snapshot.id
        for i in r.silos.indices {
            let original = m.silos.first { newName($0.name) == r.silos[i].name }
            r.silos[i].treeMatches = original?.tree == r.silos[i].tree
        }
        return r
    }

    // MARK: - Foreign archives

    func importForeign(_ reader: ZipReader, display: String) throws -> ImportResult {
        // Foreign archives get the strict rules: links stay inside their folder, no backslashes.
        do {
            try ZipSafety.validate(reader.entries, symlinks: .confineToSilo, allowBackslash: false)
        } catch var e as CairnError {
            e.path = reader.path
            throw e
        }
        try reader.checkRatios()
        let (whole, renames) = try siloNaming()
        var roots: [(String, Node)] = []
        var byName: [String: Node] = [:]
        if let whole {
            let root = Node()
            roots = [(whole, root)]
            for (i, z) in reader.entries.enumerated() {
                try insert(reader, root, z.pathName.components[...], index: i, meta: nil)
            }
        } else {
            for (i, z) in reader.entries.enumerated() {
                let parts = z.pathName.components
                guard parts.count > 1 || z.kind == .directory else {
                    throw reader.reject(z.name, "lies at the top level of the archive, outside any folder; import with --as-silo NAME to take the whole archive as one silo")
                }
                // Silo names are plain ASCII, so a folder that is not valid UTF-8 cannot be one.
                let folderText = parts[0].utf8String ?? parts[0].escaped
                let folder = parts[0].utf8String ?? ""
                let silo = renames[folder] ?? folder
                do { try Silo.validate(name: silo) } catch {
                    throw reader.reject(z.name, "is in the top-level folder \(ZipLE.quote(folderText)), which is not a valid silo name (letters, digits, '.', '_', '-'); rename it with --as-silo \(folderText)=NAME or import the whole archive with --as-silo NAME")
                }
                let root: Node
                if let r = byName[folder] { root = r } else {
                    root = Node()
                    byName[folder] = root
                    roots.append((silo, root))
                }
                if parts.count == 1 {
                    root.zip = i
                } else {
                    try insert(reader, root, parts.dropFirst(), index: i, meta: nil)
                }
            }
            for old in renames.keys where byName[old] == nil {
                throw CairnError(.notFound, "--as-silo \(old)=…: the archive has no top-level folder '\(old)'")
            }
            roots.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        }
        if roots.isEmpty { throw CairnError(.invalidInput, "ZIP archive \(display) holds no entries; nothing to import", path: display) }
        try checkUniqueNames(roots.map(\.0))
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        return try write(reader, silos: roots, chunker: repo.config.chunker, cairn: false) { name, tree, c in
            SiloSnapshot(name: name, kind: "directory", tree: tree.hex, source: display, files: c.files, dirs: c.dirs + 1, symlinks: c.symlinks,
                         bytes: c.bytes, filesRead: c.files, sqliteDatabases: 0, warnings: [])
        } record: { silos, stats in
            SnapshotRecord(version: 1, timeNs: now, hostname: FS.hostname(), tags: options.tags, message: "imported from \(FS.basename(display))",
                           parent: nil, silos: silos, bytesAdded: stats.storedBytesAdded, blocksAdded: stats.blocksAdded, partial: false,
                           program: Cairn.versionString, imported: ImportOrigin(archive: FS.basename(display), importedAtNs: now))
        }
    }

    // MARK: - Building

    func insert(_ reader: ZipReader, _ root: Node, _ parts: ArraySlice<FileName>, index: Int, meta: ExportManifestEntry?) throws {
        let z = reader.entries[index]
        if parts.count > SnapshotImporter.maxDepth {
            throw reader.reject(z.name, "is nested \(parts.count) folders deep, more than the limit of \(SnapshotImporter.maxDepth); the archive is hostile")
        }
        var node = root
        for p in parts {
            if let c = node.children[p] { node = c } else {
                let c = Node()
                node.children[p] = c
                node = c
            }
        }
        node.zip = index
        node.kind = z.kind
        node.meta = meta
    }

    /// Streams every silo's files into blocks, stores the trees bottom-up, then the record.
    func write(_ reader: ZipReader, silos: [(String, Node)], chunker: ChunkerParams, cairn: Bool,
               silo makeSilo: (String, BlockId, Counts) throws -> SiloSnapshot,
               record makeRecord: ([SiloSnapshot], WriteStats) -> SnapshotRecord) throws -> ImportResult {
        try repo.migrateFormatIfNeeded()
        let writer = repo.makeWriter()
        let pipeline = ChunkPipeline(chunker: FastCDC(chunker), writer: writer)
        let hasher = SHA256Hasher()
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        var total = Counts()
        var records: [SiloSnapshot] = []
        var imported: [ImportedSilo] = []
        do {
            for (name, root) in silos {
                var c = Counts()
                let tree = try build(root, path: name, reader: reader, writer: writer, pipeline: pipeline, hasher: hasher, cairn: cairn, now: now, counts: &c, total: &total)
                let id = try writer.put(kind: .tree, bytes: tree.encode())
                records.append(try makeSilo(name, id, c))
                imported.append(ImportedSilo(name: name, tree: id.hex, treeMatches: nil))
            }
            try writer.flush()
        } catch {
            writer.discard()
            throw error
        }
        let snap = try repo.saveSnapshot(makeRecord(records, writer.stats))
        return ImportResult(snapshot: snap.id, cairnExport: cairn, originalSnapshot: nil, silos: imported,
                            files: total.files, dirs: total.dirs, symlinks: total.symlinks, bytes: total.bytes)
    }

    func build(_ node: Node, path: String, reader: ZipReader, writer: BlockWriter, pipeline: ChunkPipeline, hasher: SHA256Hasher,
               cairn: Bool, now: Int64, counts c: inout Counts, total: inout Counts) throws -> Tree {
        var entries: [TreeEntry] = []
        entries.reserveCapacity(node.children.count)
        for (name, child) in node.children.sorted(by: { $0.key < $1.key }) {
            let childPath = path + "/" + name.escaped
            let z = child.zip.map { reader.entries[$0] }
            if cairn && child.meta == nil {
                throw CairnError(.invalidInput, "\(ExportManifest.fileName) in \(reader.path) does not list the folder \(ZipLE.quote(childPath)) that holds other entries; the archive is damaged or forged", path: reader.path)
            }
            var e = TreeEntry(name: try treeName(name, reader: reader, shown: childPath), kind: .directory, mode: z?.mode ?? 0o755,
                              mtimeNs: z.map { $0.mtime * 1_000_000_000 } ?? now)
            if let m = child.meta {
                e.kind = m.kind ?? .directory
                try m.apply(to: &e)
            }
            switch child.kind {
            case .directory:
                e.kind = .directory
                if child.meta == nil { e.size = 0 }
                let sub = try build(child, path: childPath, reader: reader, writer: writer, pipeline: pipeline, hasher: hasher, cairn: cairn, now: now, counts: &c, total: &total)
                e.subtree = try writer.put(kind: .tree, bytes: sub.encode())
                c.dirs += 1
                total.dirs += 1
            case .symlink:
                e.kind = .symlink
                let target = z?.targetBytes ?? []
                e.target = try treeTarget(target, reader: reader, shown: childPath)
                if child.meta == nil { e.size = UInt64(target.count) }
                c.symlinks += 1
                total.symlinks += 1
            case .file:
                e.kind = .file
                guard let z else { throw CairnError(.internalError, "import: file node without an entry; this is a bug in Cairn, please report it") }
                let stream = try reader.open(z, maxRatio: cairn ? UInt64.max : reader.limits.maxRatio)
                hasher.reset()
                let r = try pipeline.process { p, n in
                    let got = try stream.read(into: UnsafeMutableRawBufferPointer(start: p, count: n))
                    hasher.update(UnsafeRawBufferPointer(start: p, count: got))
                    return got
                }
                if let m = child.meta {
                    let digest = hasher.finish().hex
                    if digest != m.sha256 {
                        throw reader.reject(z.name, "has SHA-256 \(digest) but \(ExportManifest.fileName) says \(m.sha256 ?? "none"); the archive was altered or damaged after export")
                    }
                }
                e.size = r.length
                (e.content, e.indirect) = try pipeline.contentRefs(for: r.refs)
                c.files += 1
                c.bytes += r.length
                total.files += 1
                total.bytes += r.length
                onProgress?(total.files, total.bytes)
            }
            if e.kind != .symlink { e.mode = options.importedMode(e.mode, foreign: !cairn) }
            entries.append(e)
        }
        return Tree(entries: entries)
    }

    /// The tree entry name for an archive name: the one place import turns name bytes into a
    /// `TreeEntry` name. Until trees hold byte names, a name that is not valid UTF-8 is refused.
    func treeName(_ name: FileName, reader: ZipReader, shown: String) throws -> FileName {
        guard name.isValidComponent else { throw reader.reject(shown, "has a name that is not one path component") }
        return name
    }

    /// The tree entry symlink target for an archive link target (see `treeName`).
    func treeTarget(_ target: [UInt8], reader: ZipReader, shown: String) throws -> FileName {
        guard !target.contains(0) else { throw reader.reject(shown, "is a symlink whose target contains a NUL byte") }
        return FileName(bytes: target)
    }
}
