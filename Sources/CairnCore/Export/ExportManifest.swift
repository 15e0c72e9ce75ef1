// `cairn-snapshot.json`, the manifest at the root of every Cairn export: what snapshot the
// archive holds and, for every entry, the metadata a tree needs to be rebuilt bit for bit
// (so an import reproduces the same tree ids) plus each file's SHA-256.
//
// The byte layout is deterministic and its length is computable without file contents: the
// header is canonical JSON (sorted keys) and each entry is one line with a fixed key order in
// which the SHA-256 is always 64 hex digits. `cairn export --estimate` generates the same
// lines with a placeholder digest and adds up their lengths.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The parsed `cairn-snapshot.json` of a Cairn export.
public struct ExportManifest: Codable, Sendable {
    /// The entry name of the manifest at the archive's root.
    public static let fileName = "cairn-snapshot.json"
    /// The entry name of the restore instructions at the archive's root.
    public static let restoreFileName = "RESTORE.txt"
    /// The `format` value that marks a Cairn export.
    public static let formatName = "cairn-export"
    /// The only manifest version this build writes and reads.
    public static let currentVersion = 1

    public var format: String
    public var formatVersion: Int
    /// The program that wrote the archive ("cairn 0.1.0").
    public var tool: String
    /// The repository format version of the exporting repository.
    public var repositoryFormat: Int
    public var snapshot: ExportSnapshotInfo
    /// The chunker of the exporting repository; imports chunk with it so data refs (and tree
    /// ids) come out the same.
    public var chunker: ChunkerParams
    /// The exported silos, as in the snapshot record (name, kind, tree id, counts, bytes).
    public var silos: [SiloSnapshot]
    /// Every entry below the silos' root folders, in archive order (depth first, name order).
    public var entries: [ExportManifestEntry]
}

/// Snapshot facts in the manifest.
public struct ExportSnapshotInfo: Codable, Sendable, Equatable {
    /// The snapshot id in the exporting repository.
    public var id: String
    public var timeNs: Int64
    /// `timeNs` as ISO-8601 UTC, for people.
    public var time: String
    public var hostname: String
    public var tags: [String]
    public var message: String
    public var partial: Bool
    /// The program that took the snapshot.
    public var program: String
    /// The snapshot's application metadata (`snapshot --meta`), when it has any.
    public var meta: [String: String]? = nil
}

/// One entry's metadata in the manifest ("SILO/relative/path").
///
/// Names are bytes (Docs/Format.md, "Names in JSON"): `path`, `target`, `user` and `group`
/// hold text; when the bytes are not valid UTF-8, `pathBytes` (etc.) holds them in base64 and
/// wins. Times outside the Int64-nanosecond range add exact `mtimeSeconds`/`mtimeNanos`
/// (and `ctime…`); owner and hard-link keys appear only when the tree entry has them.
public struct ExportManifestEntry: Codable, Sendable, Equatable {
    public var path: String
    public var pathBytes: String?
    /// "file", "dir" or "symlink".
    public var type: String
    public var mode: UInt32
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var inode: UInt64
    public var size: UInt64
    public var flags: UInt8
    public var fingerprint: UInt64
    public var mtimeSeconds: Int64?
    public var mtimeNanos: UInt32?
    public var ctimeSeconds: Int64?
    public var ctimeNanos: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var user: String?
    public var userBytes: String?
    public var group: String?
    public var groupBytes: String?
    public var links: UInt64?
    public var device: UInt64?
    /// SHA-256 of a file's content (64 hex digits); absent for directories and symlinks.
    public var sha256: String?
    /// A symlink's target.
    public var target: String?
    public var targetBytes: String?

    /// The tree entry kind named by `type`.
    public var kind: NodeKind? {
        switch type {
        case "file": return .file
        case "dir": return .directory
        case "symlink": return .symlink
        default: return nil
        }
    }

    /// The entry's path as raw bytes ("SILO/relative/path"); nil when `pathBytes` is not base64.
    public var pathName: FileName? { FileName.fromJSON(text: path, base64: pathBytes) }

    /// A symlink's target as raw bytes (nil when absent or when `targetBytes` is not base64).
    public var targetName: FileName? { target == nil && targetBytes == nil ? nil : FileName.fromJSON(text: target, base64: targetBytes) }

    /// The exact modification time (the wide fields when present, else `mtimeNs`).
    public var mtime: Timestamp { Self.time(mtimeNs, mtimeSeconds, mtimeNanos) }
    public var ctime: Timestamp { Self.time(ctimeNs, ctimeSeconds, ctimeNanos) }

    static func time(_ ns: Int64, _ s: Int64?, _ n: UInt32?) -> Timestamp {
        if let s, let n, n < 1_000_000_000 { return Timestamp(seconds: s, nanoseconds: n) }
        return Timestamp(ns: ns)
    }

    /// Copies the manifest's metadata into a tree entry (everything but name, kind, content
    /// and subtree), so an import rebuilds the exported tree bit for bit. Throws on names
    /// that are not decodable.
    public func apply(to e: inout TreeEntry) throws {
        e.mode = mode
        e.mtime = mtime
        e.ctime = ctime
        e.inode = inode
        e.size = size
        e.flags = flags
        e.fingerprint = fingerprint
        if let uid, let gid {
            guard let u = FileName.fromJSON(text: user ?? "", base64: userBytes), let g = FileName.fromJSON(text: group ?? "", base64: groupBytes) else {
                throw CairnError(.invalidInput, "\(ExportManifest.fileName) lists \(ZipLE.quote(path)) with a user or group that is not valid base64; the archive is damaged or forged")
            }
            e.owner = Ownership(uid: uid, gid: gid, user: u.bytes, group: g.bytes)
        }
        e.links = links ?? 0
        e.device = e.links > 1 ? device ?? 0 : 0
        if e.kind == .symlink {
            guard let t = targetName else {
                throw CairnError(.invalidInput, "\(ExportManifest.fileName) lists symlink \(ZipLE.quote(path)) without a valid target; the archive is damaged or forged")
            }
            e.target = t
        }
    }
}

/// Writes manifest bytes. Every function is pure, so the estimate and the export agree.
enum ManifestEncoding {
    /// 64 zeros: the placeholder digest that has the length of every real one.
    static let placeholderDigest = String(repeating: "0", count: 64)

    /// The header: canonical JSON of everything but the entries, left open so the entry lines
    /// can follow (`…,"entries":[` and a newline).
    static func header(snapshot: Snapshot, silos: [SiloSnapshot], chunker: ChunkerParams, repositoryFormat: Int) throws -> [UInt8] {
        struct Header: Encodable {
            var format: String
            var formatVersion: Int
            var tool: String
            var repositoryFormat: Int
            var snapshot: ExportSnapshotInfo
            var chunker: ChunkerParams
            var silos: [SiloSnapshot]
        }
        let r = snapshot.record
        var info = ExportSnapshotInfo(id: snapshot.id, timeNs: r.timeNs, time: isoTime(r.timeNs), hostname: r.hostname,
                                      tags: r.tags, message: r.message, partial: r.partial, program: r.program)
        info.meta = r.meta
        let h = Header(format: ExportManifest.formatName, formatVersion: ExportManifest.currentVersion, tool: Cairn.versionString,
                       repositoryFormat: repositoryFormat, snapshot: info, chunker: chunker, silos: silos)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(try enc.encode(h))
        guard bytes.last == UInt8(ascii: "}") else { throw CairnError(.internalError, "manifest header encoding is not a JSON object; this is a bug in Cairn, please report it") }
        bytes.removeLast()
        bytes += Array(",\"entries\":[\n".utf8)
        return bytes
    }

    /// The closing bytes after the last entry.
    static let footer: [UInt8] = Array("\n]}\n".utf8)

    /// One entry's JSON object, preceded by ",\n" unless it is the first. `path` is the
    /// archive path as raw bytes; names use the lossless encoding of `ExportManifestEntry`.
    static func line(path: FileName, entry e: TreeEntry, sha256: String?, first: Bool, into out: inout [UInt8]) {
        out += Array(first ? "{\"path\":".utf8 : ",\n{\"path\":".utf8)
        jsonString(path.jsonText, into: &out)
        if let b = path.jsonBase64 { out += Array(",\"pathBytes\":\"\(b)\"".utf8) }
        out += Array(",\"type\":\"\(e.kind.name)\",\"mode\":\(e.mode),\"mtimeNs\":\(e.mtimeNs),\"ctimeNs\":\(e.ctimeNs),\"inode\":\(e.inode),\"size\":\(e.size),\"flags\":\(e.flags),\"fingerprint\":\(e.fingerprint)".utf8)
        if Timestamp(ns: e.mtimeNs) != e.mtime { out += Array(",\"mtimeSeconds\":\(e.mtime.seconds),\"mtimeNanos\":\(e.mtime.nanoseconds)".utf8) }
        if Timestamp(ns: e.ctimeNs) != e.ctime { out += Array(",\"ctimeSeconds\":\(e.ctime.seconds),\"ctimeNanos\":\(e.ctime.nanoseconds)".utf8) }
        if let o = e.owner {
            out += Array(",\"uid\":\(o.uid),\"gid\":\(o.gid)".utf8)
            name("user", FileName(bytes: o.user), into: &out)
            name("group", FileName(bytes: o.group), into: &out)
        }
        if e.links > 0 { out += Array(",\"links\":\(e.links)".utf8) }
        if e.links > 1 { out += Array(",\"device\":\(e.device)".utf8) }
        if e.kind == .file {
            out += Array(",\"sha256\":\"\(sha256 ?? placeholderDigest)\"".utf8)
        }
        if e.kind == .symlink { name("target", e.target ?? FileName(bytes: []), into: &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// `,"key":"text"` and, for names that are not UTF-8, `,"keyBytes":"base64"`.
    static func name(_ key: String, _ n: FileName, into out: inout [UInt8]) {
        out += Array(",\"\(key)\":".utf8)
        jsonString(n.jsonText, into: &out)
        if let b = n.jsonBase64 { out += Array(",\"\(key)Bytes\":\"\(b)\"".utf8) }
    }

    /// Appends `s` as a JSON string literal: quotes, backslashes and control characters
    /// escaped, everything else as UTF-8.
    static func jsonString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// "2024-05-01T12:00:00Z" (seconds, UTC).
    static func isoTime(_ ns: Int64) -> String {
        var t = time_t(ZipTime.seconds(fromNs: ns))
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
    }

    /// Parses a manifest; a damaged one is an `invalidInput` error naming the archive.
    static func decode(_ bytes: [UInt8], archive: String) throws -> ExportManifest {
        let m: ExportManifest
        do { m = try JSONDecoder().decode(ExportManifest.self, from: Data(bytes)) } catch {
            throw CairnError(.invalidInput, "ZIP entry \"\(ExportManifest.fileName)\" in \(archive) is not a valid Cairn manifest (\(String(describing: error).prefix(200).replacingOccurrences(of: "\n", with: " "))); the archive is damaged or forged", path: archive)
        }
        guard m.format == ExportManifest.formatName else {
            throw CairnError(.invalidInput, "ZIP entry \"\(ExportManifest.fileName)\" in \(archive) has format \(ZipLE.quote(m.format)), not \"\(ExportManifest.formatName)\"; rename or remove that entry to import the archive as a foreign ZIP", path: archive)
        }
        guard m.formatVersion == ExportManifest.currentVersion else {
            throw CairnError(.unsupportedFormat, "\(archive) is a Cairn export of manifest version \(m.formatVersion); this cairn reads version \(ExportManifest.currentVersion) only: use a matching cairn release", path: archive)
        }
        return m
    }
}

/// The text of `RESTORE.txt` (deterministic: it depends only on the snapshot and silos).
enum RestoreText {
    static func make(snapshot: Snapshot, silos: [String]) -> [UInt8] {
        let r = snapshot.record
        let short = snapshot.shortId
        let text = """
        Cairn snapshot export
        =====================
        Snapshot \(snapshot.id)
        taken \(ManifestEncoding.isoTime(r.timeNs)) on \(r.hostname)\(r.tags.isEmpty ? "" : ", tags: " + r.tags.joined(separator: ", "))
        Silos (one top-level folder each): \(silos.joined(separator: ", "))

        cairn-snapshot.json lists every entry with its mode, times and SHA-256.

        Restore with Cairn
          cairn import THIS.zip --repo REPO          re-creates the snapshot (same tree ids),
                                                     verifying every file's SHA-256
          cairn restore \(short) --to DIR --repo REPO

        Restore with plain unzip (no Cairn needed)
          unzip THIS.zip -d DIR                      Info-ZIP unzip keeps modes, times and
                                                     symlinks; each silo lands in DIR/SILO
          sha256sum the files and compare with cairn-snapshot.json to verify them.

        """
        return Array(text.utf8)
    }
}
