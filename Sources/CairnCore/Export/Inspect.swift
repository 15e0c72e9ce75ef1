// `cairn inspect`: what an archive holds, from its central directory and (for Cairn exports)
// the manifest entry alone, as a restore dialog would show it. No other content is read.

#if canImport(Glibc)
import Glibc
#endif

/// One top-level folder of an archive (a silo, for Cairn exports).
public struct ArchiveFolder: Codable, Sendable, Equatable {
    public var name: String
    public var files: Int
    public var dirs: Int
    public var symlinks: Int
    /// Uncompressed bytes of the files.
    public var bytes: UInt64
    /// Bytes the files take inside the archive.
    public var compressedBytes: UInt64
    /// The silo's tree id, for Cairn exports.
    public var tree: String?
}

/// What `cairn inspect` reports.
public struct ArchiveSummary: Codable, Sendable, Equatable {
    public var archive: String
    public var archiveBytes: UInt64
    public var entries: Int
    /// True when the archive carries a Cairn manifest.
    public var cairnExport: Bool
    public var snapshot: ExportSnapshotInfo?
    public var tool: String?
    /// Silos (Cairn exports, with the manifest's counts) or top-level folders (any archive).
    public var folders: [ArchiveFolder]
    /// Entries at the top level that are not folders (besides the manifest and RESTORE.txt).
    public var looseEntries: Int

    /// Reads the archive's central directory and, when present, its manifest.
    /// `password` opens the manifest of an encrypted (WinZip AES) archive.
    public static func inspect(path: String, password: ZipPassword? = nil) throws -> ArchiveSummary {
        var limits = ZipLimits(symlinks: .allowAnyTarget)
        limits.allowBackslash = true
        limits.checkRatioOnOpen = false
        let reader = try ZipReader(path: path, limits: limits, password: password)
        var s = ArchiveSummary(archive: path, archiveBytes: reader.fileSize, entries: reader.entries.count, cairnExport: false,
                               snapshot: nil, tool: nil, folders: [], looseEntries: 0)
        var manifest: ExportManifest?
        if let e = reader.entries.first(where: { $0.pathName == SnapshotImporter.manifestName && $0.kind == .file }) {
            if e.size > SnapshotImporter.maxManifestSize {
                throw reader.reject(e.name, "is \(e.size) bytes, more than the \(SnapshotImporter.maxManifestSize)-byte limit for a manifest; the archive is hostile or not a Cairn export")
            }
            manifest = try ManifestEncoding.decode(try reader.contents(e, maxRatio: ZipLimits.default.maxRatio), archive: path)
        }
        var index: [FileName: Int] = [:]
        for e in reader.entries {
            let parts = e.pathName.bytes.split(separator: ZipSafety.slash, maxSplits: 1)
            let top = FileName(bytes: parts.first ?? [])
            if parts.count <= 1 && e.kind != .directory {
                if manifest == nil || (top != SnapshotImporter.manifestName && top != SnapshotImporter.restoreName) { s.looseEntries += 1 }
                continue
            }
            let i: Int
            if let k = index[top] { i = k } else {
                i = s.folders.count
                index[top] = i
                s.folders.append(ArchiveFolder(name: top.escaped, files: 0, dirs: 0, symlinks: 0, bytes: 0, compressedBytes: 0, tree: nil))
            }
            switch e.kind {
            case .file:
                // Declared sizes are data: ZIP64 can claim up to 2^64 - 1 per entry, so sums saturate.
                s.folders[i].files += 1
                s.folders[i].bytes = s.folders[i].bytes.addingReportingOverflow(e.size).overflow ? .max : s.folders[i].bytes + e.size
                s.folders[i].compressedBytes = s.folders[i].compressedBytes.addingReportingOverflow(e.compressedSize).overflow ? .max : s.folders[i].compressedBytes + e.compressedSize
            case .directory:
                if parts.count > 1 { s.folders[i].dirs += 1 }
            case .symlink:
                s.folders[i].symlinks += 1
            }
        }
        if let m = manifest {
            s.cairnExport = true
            s.snapshot = m.snapshot
            s.tool = m.tool
            for silo in m.silos {
                if let i = index[FileName(utf8: silo.name)] {
                    s.folders[i].tree = silo.tree
                }
            }
        }
        return s
    }
}
