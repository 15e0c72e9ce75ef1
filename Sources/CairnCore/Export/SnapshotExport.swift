// Snapshot -> ZIP. Walks the chosen silos' trees depth first in name order and writes
// `SILO/relative/path` entries (directories, symlinks, files streamed block by block), then
// `cairn-snapshot.json` and `RESTORE.txt` (ExportManifest.swift).
//
// Streaming: memory is bounded by one block, one content-list block and the writer's central
// directory records (entry-count memory). The manifest's entry lines go to a temporary file in
// REPO/tmp while the files stream (each line needs the file's SHA-256, known only after it),
// and are copied into the archive at the end; the temporary file is removed on every path.
// CRC-32 comes from the per-block CRCs recorded at snapshot time, joined with crc32_combine,
// so content is not read twice. Every block is still verified against its SHA-256.

#if canImport(Glibc)
import Glibc
#endif

/// How `cairn export` compresses files.
public enum ExportCompression: String, Sendable, CaseIterable, Codable {
    /// Every file stored as is.
    case store
    /// Every non-empty file deflated.
    case deflate
    /// Deflate files whose blocks compressed (LZ4) at snapshot time, store the rest.
    case auto
}

/// What to export.
public struct ExportOptions: Sendable {
    /// Silo names; empty means every silo of the snapshot.
    public var silos: [String]
    public var compression: ExportCompression
    /// zlib level for deflated files.
    public var deflateLevel: Int32
    /// Password-protect the archive: AES-256, WinZip AE-2 (`--encrypt`, ZipAES.swift).
    public var encryption: ZipEncryption?

    public init(silos: [String] = [], compression: ExportCompression = .auto, deflateLevel: Int32 = 1, encryption: ZipEncryption? = nil) {
        self.silos = silos
        self.compression = compression
        self.deflateLevel = deflateLevel
        self.encryption = encryption
    }
}

/// The archive size `cairn export` would write, from trees alone (no content reads).
public struct ExportEstimate: Codable, Sendable, Equatable {
    public var compression: String
    public var entries: Int
    public var files: Int
    /// Sum of file sizes.
    public var contentBytes: UInt64
    /// The exact size of the archive `--compression store` writes.
    public var storeBytes: UInt64
    /// An upper bound of the archive size for the chosen compression (equal to `storeBytes` for store).
    public var boundBytes: UInt64
}

/// What an export wrote.
public struct ExportResult: Codable, Sendable, Equatable {
    public var snapshot: String
    public var silos: [String]
    public var entries: Int
    public var files: Int
    public var dirs: Int
    public var symlinks: Int
    public var contentBytes: UInt64
    public var deflatedFiles: Int
    public var archiveBytes: UInt64
}

/// Exports one snapshot as a ZIP archive. Create one per export.
public final class SnapshotExporter {
    let repo: Repository
    let snapshot: Snapshot
    let options: ExportOptions
    /// The exported silos, in snapshot order.
    public let silos: [SiloSnapshot]
    let reader: BlockReader
    /// Called after each file with (files done, content bytes done).
    public var onProgress: ((Int, UInt64) -> Void)?

    public init(repository: Repository, snapshot: Snapshot, options: ExportOptions = ExportOptions()) throws {
        repo = repository
        self.snapshot = snapshot
        self.options = options
        reader = repository.makeReader()
        if options.silos.isEmpty {
            silos = snapshot.record.silos
        } else {
            var chosen: [SiloSnapshot] = []
            for n in options.silos {
                guard let s = snapshot.record.silo(n) else {
                    throw CairnError(.notFound, "snapshot \(snapshot.shortId) has no silo '\(n)'; its silos: \(snapshot.record.silos.map(\.name).joined(separator: ", "))")
                }
                if !chosen.contains(where: { $0.name == n }) { chosen.append(s) }
            }
            silos = snapshot.record.silos.filter { s in chosen.contains { $0.name == s.name } }
        }
        for s in silos where s.name == ExportManifest.fileName || s.name == ExportManifest.restoreFileName {
            throw CairnError(.invalidInput, "silo '\(s.name)' has the name of a file Cairn puts at the archive's root; export the other silos with --silo")
        }
        for s in silos where BlockId(hex: s.tree) == nil {
            throw CairnError(.integrity, "snapshot \(snapshot.shortId) records silo '\(s.name)' with a malformed tree id; run `cairn check`")
        }
    }

    // MARK: - Walking

    /// Calls `body` for every archive entry below the silo folders, in archive order:
    /// (archive path, entry), with a nil entry for each silo's root folder.
    func walk(_ body: (FileName, TreeEntry?) throws -> Void) throws {
        for s in silos {
            try body(FileName(utf8: s.name), nil)
            try repo.walk(BlockId(hex: s.tree)!, prefix: FileName(utf8: s.name), silo: s.name, reader: reader) { le in
                try Cancellation.check()
                try body(le.path, le.entry)
            }
        }
    }

    func manifestHeader() throws -> [UInt8] {
        try ManifestEncoding.header(snapshot: snapshot, silos: silos, chunker: repo.config.chunker, repositoryFormat: repo.config.version)
    }

    func restoreText() -> [UInt8] { RestoreText.make(snapshot: snapshot, silos: silos.map(\.name)) }

    // MARK: - Estimate

    /// The archive's size from the trees alone: exact for `store`, a bound for the others.
    public func estimate() throws -> ExportEstimate {
        var exact = ZipSizeEstimator(encrypted: options.encryption != nil)
        var bound = ZipSizeEstimator(encrypted: options.encryption != nil)
        let deflating = options.compression != .store
        var manifestLength = UInt64(try manifestHeader().count + ManifestEncoding.footer.count)
        var line: [UInt8] = []
        var files = 0, entries = 0
        var content: UInt64 = 0
        try walk { path, e in
            guard let e else {
                let spec = ZipEntrySpec(name: path, kind: .directory)
                try exact.add(spec)
                try bound.add(spec)
                return
            }
            line.removeAll(keepingCapacity: true)
            ManifestEncoding.line(path: path, entry: e, sha256: nil, first: entries == 0, into: &line)
            manifestLength += UInt64(line.count)
            entries += 1
            var spec = ZipEntrySpec(name: path, kind: zipKind(e.kind), size: e.kind == .symlink ? UInt64(e.target?.bytes.count ?? 0) : e.size)
            try exact.add(spec)
            if e.kind == .file {
                files += 1
                content += e.size
                if deflating && e.size > 0 { spec.method = .deflate(level: options.deflateLevel) }
            }
            try bound.add(spec)
        }
        let restore = UInt64(restoreText().count)
        for spec in [ZipEntrySpec(name: FileName(utf8: ExportManifest.fileName), kind: .file, size: manifestLength),
                     ZipEntrySpec(name: FileName(utf8: ExportManifest.restoreFileName), kind: .file, size: restore)] {
            try exact.add(spec)
            try bound.add(spec)
        }
        return ExportEstimate(compression: options.compression.rawValue, entries: Int(exact.count), files: files, contentBytes: content,
                              storeBytes: exact.total, boundBytes: deflating ? bound.total : exact.total)
    }

    // MARK: - Export

    /// Writes the archive to `sink` (finished, with the central directory) and returns what it holds.
    public func export(to sink: ByteSink) throws -> ExportResult {
        let zip = ZipWriter(sink: sink, encryption: options.encryption)
        let tmp = try repo.temporaryPath("export-manifest")
        defer { unlink(tmp) }
        let manifest = try FileSink(path: tmp, mode: 0o600)
        var manifestLength: UInt64 = 0
        func manifestWrite(_ b: [UInt8]) throws {
            try b.withUnsafeBytes { try manifest.write($0) }
            manifestLength += UInt64(b.count)
        }
        try manifestWrite(try manifestHeader())
        var result = ExportResult(snapshot: snapshot.id, silos: silos.map(\.name), entries: 0, files: 0, dirs: 0, symlinks: 0,
                                  contentBytes: 0, deflatedFiles: 0, archiveBytes: 0)
        let hasher = SHA256Hasher()
        var line: [UInt8] = []
        let rootTime = snapshot.record.timeNs
        try walk { path, e in
            guard let e else {
                try zip.addDirectory(name: path, mode: 0o755, mtimeNs: rootTime)
                return
            }
            var digest: String?
            switch e.kind {
            case .directory:
                try zip.addDirectory(name: path, mode: e.mode, mtimeNs: e.mtimeNs)
                result.dirs += 1
            case .symlink:
                try zip.addSymlink(name: path, target: e.target ?? FileName(bytes: []), mode: e.mode, mtimeNs: e.mtimeNs)
                result.symlinks += 1
            case .file:
                let deflate = try shouldDeflate(e, path: path.escaped)
                try zip.beginFile(name: path, mode: e.mode, mtimeNs: e.mtimeNs, method: deflate ? .deflate(level: options.deflateLevel) : .store,
                                  size: e.size, precomputedCRC: true)
                let crc = try streamContent(e, path: path.escaped, hasher: hasher) { try zip.writeData($0) }
                try zip.finishFile(knownCRC: crc)
                digest = hasher.finish().hex
                result.files += 1
                result.contentBytes += e.size
                if deflate { result.deflatedFiles += 1 }
                onProgress?(result.files, result.contentBytes)
            }
            line.removeAll(keepingCapacity: true)
            ManifestEncoding.line(path: path, entry: e, sha256: digest, first: result.entries == 0, into: &line)
            try manifestWrite(line)
            result.entries += 1
        }
        try manifestWrite(ManifestEncoding.footer)
        try manifest.flush()
        manifest.file.close()
        // The manifest, copied from the temporary file.
        try zip.beginFile(name: FileName(utf8: ExportManifest.fileName), mode: 0o644, mtimeNs: rootTime, method: .store, size: manifestLength)
        let src = try PosixFile.open(tmp, O_RDONLY)
        defer { src.close() }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buf.withUnsafeMutableBytes { try src.read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { break }
            try buf.withUnsafeBytes { try zip.writeData(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        try zip.finishFile()
        let restore = restoreText()
        try zip.beginFile(name: FileName(utf8: ExportManifest.restoreFileName), mode: 0o644, mtimeNs: rootTime, method: .store, size: UInt64(restore.count))
        try restore.withUnsafeBytes { try zip.writeData($0) }
        try zip.finishFile()
        result.archiveBytes = try zip.finish()
        return result
    }

    /// `auto`: deflate when at least half the bytes of the file's first content group were
    /// stored LZ4-compressed at snapshot time (the snapshot already found out whether it shrinks).
    func shouldDeflate(_ e: TreeEntry, path: String) throws -> Bool {
        guard e.size > 0 else { return false }
        switch options.compression {
        case .store: return false
        case .deflate: return true
        case .auto:
            guard let first = e.content.first else { return false }
            let sample = e.indirect ? try listRefs(first, path: path) : e.content
            var raw: UInt64 = 0, compressed: UInt64 = 0
            for r in sample {
                let loc = try reader.locate(r.id, context: "(of \(path)) ")
                raw += r.length
                if loc.entry.codec == .lz4 && loc.entry.storedLength < loc.entry.rawLength { compressed += r.length }
            }
            return raw > 0 && compressed * 2 >= raw
        }
    }

    func listRefs(_ list: ContentRef, path: String) throws -> [ContentRef] {
        try ContentList.decode(try reader.readMeta(list.id, context: "(content list of \(path)) "), what: "list block \(list.id.hex)")
    }

    /// Streams a file's blocks to `body` (each verified by the reader), feeding `hasher`;
    /// returns the content's CRC-32 combined from the per-block CRCs.
    func streamContent(_ e: TreeEntry, path: String, hasher: SHA256Hasher, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        hasher.reset()
        var crc: UInt32 = 0
        try repo.readContentBlocks(e, path: path, reader: reader) { b, entry in
            crc = CRC32.combine(crc, entry.crc32, lengthB: UInt64(b.count))
            hasher.update(b)
            try body(b)
        }
        return crc
    }

    func zipKind(_ k: NodeKind) -> ZipEntryKind {
        switch k {
        case .file: return .file
        case .directory: return .directory
        case .symlink: return .symlink
        }
    }
}

extension SnapshotExporter {
    /// Exports to `path` through `path.partial`, renamed into place only when complete; the
    /// partial file is removed on failure.
    public func export(toFile path: String) throws -> ExportResult {
        let partial = path + ".partial"
        do {
            let sink = try FileSink(path: partial)
            let r = try export(to: sink)
            sink.file.close()
            try FS.rename(partial, path)
            try FS.syncDirectory(FS.parent(FS.absolute(path)))
            return r
        } catch {
            unlink(partial)
            throw error
        }
    }
}
