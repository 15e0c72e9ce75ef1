// Read: browsing snapshots (ls), streaming file content (cat), totals (stats, estimate).
//
// Owns: read-only access to snapshot trees and content. Every block read is verified
// against its SHA-256, so damaged data is reported, never returned.

#if canImport(Glibc)
import Glibc
#endif

/// A path inside a snapshot with its entry.
public struct ListedEntry: Sendable {
    /// "SILO/relative/path" as raw name bytes (show it with `.escaped`).
    public var path: FileName
    public var silo: String
    public var entry: TreeEntry
}

extension Repository {
    /// Resolves "SILO/rel/path" (split on "/" bytes) in a snapshot to its entry (the silo
    /// root is a directory entry).
    public func lookup(_ snap: Snapshot, path: FileName, reader: BlockReader) throws -> ListedEntry {
        let parts = path.components
        guard let first = parts.first else { throw CairnError(.invalidInput, "give a path as SILO/relative/path") }
        let siloName = first.jsonText
        guard first.isValidUTF8, let silo = snap.record.silo(siloName), let root = BlockId(hex: silo.tree) else {
            throw CairnError(.notFound, "snapshot \(snap.shortId) has no silo '\(first.escaped)'; its silos: \(snap.record.silos.map(\.name).joined(separator: ", "))")
        }
        var entry = TreeEntry(name: first, kind: .directory, mode: 0o755, mtimeNs: snap.record.timeNs, subtree: root)
        var sofar = first
        for p in parts.dropFirst() {
            guard entry.kind == .directory, let sub = entry.subtree else {
                throw CairnError(.notFound, "\(sofar.escaped) is not a directory in snapshot \(snap.shortId)")
            }
            let t = try tree(sub, reader: reader, path: sofar.escaped)
            guard let e = t.entry(named: p) else {
                throw CairnError(.notFound, "\(sofar.appending(p).escaped) does not exist in snapshot \(snap.shortId); list it with `cairn ls \(snap.shortId) \(sofar.escaped)`")
            }
            entry = e
            sofar = sofar.appending(p)
        }
        return ListedEntry(path: sofar, silo: siloName, entry: entry)
    }

    /// Lists entries under `path` (nil: every silo root). With `recursive`, walks depth-first in name order.
    public func list(_ snap: Snapshot, path: FileName?, recursive: Bool, reader: BlockReader, _ body: (ListedEntry) throws -> Void) throws {
        guard let path, !path.components.isEmpty else {
            for s in snap.record.silos {
                guard let root = BlockId(hex: s.tree) else { continue }
                let name = FileName(utf8: s.name)
                let e = TreeEntry(name: name, kind: .directory, mode: 0o755, mtimeNs: snap.record.timeNs, subtree: root)
                try body(ListedEntry(path: name, silo: s.name, entry: e))
                if recursive { try walk(root, prefix: name, silo: s.name, reader: reader, body) }
            }
            return
        }
        let start = try lookup(snap, path: path, reader: reader)
        guard start.entry.kind == .directory, let sub = start.entry.subtree else { try body(start); return }
        let t = try tree(sub, reader: reader, path: start.path.escaped)
        for e in t.entries {
            let le = ListedEntry(path: start.path.appending(e.name), silo: start.silo, entry: e)
            try body(le)
            if recursive, e.kind == .directory, let s = e.subtree { try walk(s, prefix: le.path, silo: start.silo, reader: reader, body) }
        }
    }

    /// Depth-first walk of a tree, calling `body` for every entry below it.
    public func walk(_ id: BlockId, prefix: FileName, silo: String, reader: BlockReader, _ body: (ListedEntry) throws -> Void) throws {
        let t = try tree(id, reader: reader, path: prefix.escaped)
        for e in t.entries {
            let p = prefix.appending(e.name)
            try body(ListedEntry(path: p, silo: silo, entry: e))
            if e.kind == .directory, let s = e.subtree { try walk(s, prefix: p, silo: silo, reader: reader, body) }
        }
    }

    /// The data block refs of a file entry (expanding list blocks).
    public func dataRefs(_ e: TreeEntry, reader: BlockReader, path: String = "") throws -> [ContentRef] {
        guard e.indirect else { return e.content }
        var out: [ContentRef] = []
        for l in e.content {
            out += try ContentList.decode(try reader.readMeta(l.id, context: "(content list of \(path)) "), what: "list block \(l.id.hex)")
        }
        return out
    }

    /// Streams a file entry's content, block by block, each verified. `body` gets each block's bytes.
    public func readContent(_ e: TreeEntry, path: String, reader: BlockReader, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try readContentBlocks(e, path: path, reader: reader) { b, _ in try body(b) }
    }

    /// Like `readContent`, also passing each block's pack entry (its CRC-32, codec, sizes).
    public func readContentBlocks(_ e: TreeEntry, path: String, reader: BlockReader, _ body: (UnsafeRawBufferPointer, PackEntry) throws -> Void) throws {
        guard e.kind == .file else { throw CairnError(.invalidInput, "\(path) is a \(e.kind.name), not a file") }
        var buf: [UInt8] = []
        var last: BlockLocation?
        var total: UInt64 = 0
        let context = "(of \(path)) "
        // One list block at a time: memory stays bounded whatever the file size.
        for group in e.indirect ? e.content : [ContentRef(id: e.content.first?.id ?? BlockId(w0: 0, w1: 0, w2: 0, w3: 0), length: 0)] {
            let refs = e.indirect ? try ContentList.decode(try reader.readMeta(group.id, context: "(content list of \(path)) "), what: "list block \(group.id.hex)") : e.content
            for r in refs {
                // A run of identical blocks (zeros in sparse files) is read and verified once.
                if last?.entry.id != r.id {
                    let loc = try reader.locate(r.id, context: context)
                    try reader.read(loc, into: &buf, context: context)
                    last = loc
                }
                guard UInt64(buf.count) == r.length else {
                    throw CairnError(.integrity, "block \(r.id.hex) of \(path) holds \(buf.count) bytes but the file's entry says \(r.length); run `cairn check --read-data`")
                }
                total += UInt64(buf.count)
                try buf.withUnsafeBytes { try body($0, last!.entry) }
            }
        }
        guard total == e.size else {
            throw CairnError(.integrity, "\(path) has \(total) bytes of content but its entry says \(e.size); run `cairn check --read-data`")
        }
    }
}

/// Repository-wide totals (`cairn stats`).
public struct RepositoryStats: Codable, Sendable {
    public var snapshots: Int
    public var packs: Int
    public var packBytes: UInt64
    public var blocks: Int
    public var uniqueRawBytes: UInt64
    public var storedBytes: UInt64
    /// Sum over snapshots of the file bytes they hold.
    public var logicalBytes: UInt64
    /// logical / unique raw (data blocks).
    public var dedupRatio: Double
    /// unique raw / stored (data blocks).
    public var compressionRatio: Double
}

extension Repository {
    /// Totals from the index and snapshot records (no pack reads).
    public func stats() throws -> RepositoryStats {
        let totals = try index.blockTotals()
        let packs = try index.packList()
        let snaps = try snapshots()
        let logical = snaps.reduce(UInt64(0)) { $0 + $1.record.silos.reduce(0) { $0 + $1.bytes } }
        let data = totals[.data] ?? (0, 0, 0)
        let allRaw = totals.values.reduce(UInt64(0)) { $0 + $1.raw }
        let allStored = totals.values.reduce(UInt64(0)) { $0 + $1.stored }
        return RepositoryStats(snapshots: snaps.count, packs: packs.count, packBytes: packs.reduce(0) { $0 + $1.size },
                               blocks: totals.values.reduce(0) { $0 + $1.count }, uniqueRawBytes: allRaw, storedBytes: allStored,
                               logicalBytes: logical, dedupRatio: data.raw > 0 ? Double(logical) / Double(data.raw) : 1,
                               compressionRatio: data.stored > 0 ? Double(data.raw) / Double(data.stored) : 1)
    }
}
