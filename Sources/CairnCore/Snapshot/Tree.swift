// Manifests: directory nodes ("trees") and their deterministic byte encoding.
//
// A tree lists one directory's entries sorted by the UTF-8 bytes of their names. It is
// encoded deterministically and stored as a block named by its SHA-256, so an
// unchanged subtree has the same id in every snapshot and diff can skip it unread.

/// What a tree entry is.
public enum NodeKind: UInt8, Sendable, Codable {
    case file = 1
    case directory = 2
    case symlink = 3

    public var name: String {
        switch self {
        case .file: return "file"
        case .directory: return "dir"
        case .symlink: return "symlink"
        }
    }
}

/// A reference to content: a data block (direct) or a list block (indirect), with the bytes it covers.
public struct ContentRef: Sendable, Equatable, Hashable {
    public var id: BlockId
    public var length: UInt64
    public init(id: BlockId, length: UInt64) {
        self.id = id
        self.length = length
    }
}

/// One entry of a directory node.
public struct TreeEntry: Sendable, Equatable {
    /// Flag: a live SQLite database captured through SQLite's backup API.
    public static let flagSQLite: UInt8 = 1
    /// Flag: the file kept changing while read; the stored content is the last read.
    public static let flagChangedWhileReading: UInt8 = 2

    public var name: String
    public var kind: NodeKind
    public var mode: UInt32
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var inode: UInt64
    public var size: UInt64
    public var flags: UInt8
    /// Extra change-detection state (for SQLite: the WAL sibling's size and mtime); 0 otherwise.
    public var fingerprint: UInt64
    /// File content: data blocks, or list blocks when `indirect`.
    public var content: [ContentRef]
    public var indirect: Bool
    /// Directory: the id of its tree block.
    public var subtree: BlockId?
    /// Symlink: its target, never followed.
    public var target: String?

    public init(name: String, kind: NodeKind, mode: UInt32, mtimeNs: Int64, ctimeNs: Int64 = 0, inode: UInt64 = 0, size: UInt64 = 0,
                flags: UInt8 = 0, fingerprint: UInt64 = 0, content: [ContentRef] = [], indirect: Bool = false, subtree: BlockId? = nil, target: String? = nil) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.inode = inode
        self.size = size
        self.flags = flags
        self.fingerprint = fingerprint
        self.content = content
        self.indirect = indirect
        self.subtree = subtree
        self.target = target
    }
}

/// A directory node: entries sorted by name bytes.
public struct Tree: Sendable, Equatable {
    public static let magic: [UInt8] = Array("CTR1".utf8)
    public var entries: [TreeEntry]

    public init(entries: [TreeEntry]) {
        self.entries = entries.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// The entry named `name` (binary search).
    public func entry(named name: String) -> TreeEntry? {
        var lo = 0, hi = entries.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let n = entries[mid].name
            if n == name { return entries[mid] }
            if n.utf8.lexicographicallyPrecedes(name.utf8) { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    /// Deterministic encoding (Docs/Format.md, "Trees").
    public func encode() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + entries.count * 96)
        w.raw(Tree.magic)
        w.uvarint(UInt64(entries.count))
        for e in entries {
            w.blob(Array(e.name.utf8))
            w.u8(e.kind.rawValue)
            w.u8(e.flags)
            w.uvarint(UInt64(e.mode))
            w.i64(e.mtimeNs)
            w.i64(e.ctimeNs)
            w.uvarint(e.inode)
            w.uvarint(e.size)
            w.uvarint(e.fingerprint)
            switch e.kind {
            case .file:
                w.u8(e.indirect ? 1 : 0)
                w.uvarint(UInt64(e.content.count))
                for c in e.content { w.raw(c.id.bytes); w.uvarint(c.length) }
            case .directory:
                w.raw((e.subtree ?? BlockId([UInt8](repeating: 0, count: 32))).bytes)
            case .symlink:
                w.blob(Array((e.target ?? "").utf8))
            }
        }
        return w.bytes
    }

    /// Decodes a tree block; `what` names it in errors.
    public static func decode(_ bytes: [UInt8], what: String = "tree") throws -> Tree {
        var r = BinaryReader(bytes, what: what)
        guard Array(try r.raw(4)) == magic else {
            throw CairnError(.integrity, "\(what) is not a tree block (bad magic); run `cairn check --read-data`")
        }
        let n = try r.uvarint()
        guard n <= UInt64(bytes.count) else { throw r.truncated() }
        var entries: [TreeEntry] = []
        entries.reserveCapacity(Int(n))
        for _ in 0..<n {
            let name = String(decoding: try r.blob(), as: UTF8.self)
            guard let kind = NodeKind(rawValue: try r.u8()) else { throw r.truncated() }
            var e = TreeEntry(name: name, kind: kind, mode: 0, mtimeNs: 0)
            e.flags = try r.u8()
            e.mode = UInt32(truncatingIfNeeded: try r.uvarint())
            e.mtimeNs = try r.i64()
            e.ctimeNs = try r.i64()
            e.inode = try r.uvarint()
            e.size = try r.uvarint()
            e.fingerprint = try r.uvarint()
            switch kind {
            case .file:
                e.indirect = try r.u8() == 1
                let c = try r.uvarint()
                guard c <= UInt64(r.remaining) else { throw r.truncated() }
                e.content.reserveCapacity(Int(c))
                for _ in 0..<c {
                    let id = BlockId(try r.raw(32))
                    e.content.append(ContentRef(id: id, length: try r.uvarint()))
                }
            case .directory:
                e.subtree = BlockId(try r.raw(32))
            case .symlink:
                e.target = String(decoding: try r.blob(), as: UTF8.self)
            }
            entries.append(e)
        }
        return Tree(sortedEntries: entries)
    }

    init(sortedEntries: [TreeEntry]) { entries = sortedEntries }
}

/// Content lists of large files: data refs grouped into list blocks at content-defined
/// boundaries, so a local change rewrites only the list block around it.
public enum ContentList {
    public static let magic: [UInt8] = Array("CLS1".utf8)
    /// Files with more data blocks than this are stored indirectly.
    public static let directLimit = 64
    /// A group ends after a block whose id's first byte is below this (about 1 in 64), or at `maxGroup`.
    public static let boundaryByte: UInt8 = 4
    public static let maxGroup = 256

    public static func encode(_ refs: ArraySlice<ContentRef>) -> [UInt8] {
        var w = BinaryWriter(capacity: 8 + refs.count * 36)
        w.raw(magic)
        w.uvarint(UInt64(refs.count))
        for c in refs { w.raw(c.id.bytes); w.uvarint(c.length) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], what: String = "list block") throws -> [ContentRef] {
        var r = BinaryReader(bytes, what: what)
        guard Array(try r.raw(4)) == magic else { throw CairnError(.integrity, "\(what) is not a content list block; run `cairn check --read-data`") }
        let n = try r.uvarint()
        guard n <= UInt64(bytes.count) else { throw r.truncated() }
        var out: [ContentRef] = []
        out.reserveCapacity(Int(n))
        for _ in 0..<n {
            let id = BlockId(try r.raw(32))
            out.append(ContentRef(id: id, length: try r.uvarint()))
        }
        return out
    }

    /// Splits data refs into groups at content-defined boundaries.
    public static func groups(_ refs: [ContentRef]) -> [ArraySlice<ContentRef>] {
        var out: [ArraySlice<ContentRef>] = []
        var start = 0
        for i in refs.indices {
            if refs[i].id.firstByte < boundaryByte || i - start + 1 >= maxGroup {
                out.append(refs[start...i])
                start = i + 1
            }
        }
        if start < refs.count { out.append(refs[start...]) }
        return out
    }
}
