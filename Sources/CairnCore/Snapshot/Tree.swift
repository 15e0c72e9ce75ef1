// Manifests: directory nodes ("trees") and their deterministic byte encoding.
//
// A tree lists one directory's entries sorted by the raw bytes of their names (names are
// bytes: `FileName`). It is encoded deterministically and stored as a block named by its
// SHA-256, so an unchanged subtree has the same id in every snapshot and diff can skip it
// unread. New trees are written as CTR2 (owner, hard-link identity, wide timestamps);
// CTR1 trees of format-1 repositories stay readable (Docs/Format.md, "Trees").
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

/// Owner and group of an entry as recorded on the host that took the snapshot.
public struct Ownership: Sendable, Equatable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    /// The user name of `uid` there (empty when it had none).
    public var user: [UInt8]
    /// The group name of `gid` there (empty when it had none).
    public var group: [UInt8]
    public init(uid: UInt32, gid: UInt32, user: [UInt8] = [], group: [UInt8] = []) {
        self.uid = uid
        self.gid = gid
        self.user = user
        self.group = group
    }
}

/// One entry of a directory node.
public struct TreeEntry: Sendable, Equatable {
    /// Flag: a live SQLite database captured through SQLite's backup API.
    public static let flagSQLite: UInt8 = 1
    /// Flag: the file kept changing while read; the stored content is the last read.
    public static let flagChangedWhileReading: UInt8 = 2

    /// The name in its directory: raw bytes, exactly as read from the directory entry.
    public var name: FileName
    public var kind: NodeKind
    public var mode: UInt32
    public var mtime: Timestamp
    public var ctime: Timestamp
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
    /// Symlink: its target bytes, never followed.
    public var target: FileName?
    /// Owner and group; nil when unknown (CTR1 trees, foreign archives).
    public var owner: Ownership?
    /// Hard-link count when the file was read (1 for most files, 0 when unknown).
    public var links: UInt64
    /// With `links > 1`: the device number; entries of one snapshot with the same (device,
    /// inode) are one hard-link group and are restored as hard links.
    public var device: UInt64

    public init(name: FileName, kind: NodeKind, mode: UInt32, mtimeNs: Int64, ctimeNs: Int64 = 0, inode: UInt64 = 0, size: UInt64 = 0,
                flags: UInt8 = 0, fingerprint: UInt64 = 0, content: [ContentRef] = [], indirect: Bool = false, subtree: BlockId? = nil, target: FileName? = nil) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.mtime = Timestamp(ns: mtimeNs)
        self.ctime = Timestamp(ns: ctimeNs)
        self.inode = inode
        self.size = size
        self.flags = flags
        self.fingerprint = fingerprint
        self.content = content
        self.indirect = indirect
        self.subtree = subtree
        self.target = target
        self.owner = nil
        self.links = 0
        self.device = 0
    }

    /// `mtime` in nanoseconds since the epoch, clamped to the Int64 range (for display and JSON).
    public var mtimeNs: Int64 {
        get { mtime.nanosecondsClamped }
        set { mtime = Timestamp(ns: newValue) }
    }

    /// `ctime` in nanoseconds since the epoch, clamped to the Int64 range.
    public var ctimeNs: Int64 {
        get { ctime.nanosecondsClamped }
        set { ctime = Timestamp(ns: newValue) }
    }

    /// The hard-link group key, for files with more than one link.
    public var linkKey: HardLinkKey? { kind == .file && links > 1 ? HardLinkKey(device: device, inode: inode) : nil }
}

/// Identity of a hard-linked file inside one snapshot.
public struct HardLinkKey: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// A directory node: entries sorted by name bytes.
public struct Tree: Sendable, Equatable {
    /// Format-1 trees: names and targets as blobs, nanosecond times as i64, no owner.
    public static let magicV1: [UInt8] = Array("CTR1".utf8)
    /// Format-2 trees, the only kind written (Docs/Format.md, "Trees").
    public static let magic: [UInt8] = Array("CTR2".utf8)
    public var entries: [TreeEntry]

    public init(entries: [TreeEntry]) {
        self.entries = entries.sorted { $0.name < $1.name }
    }

    /// The entry named `name` (binary search over the byte order).
    public func entry(named name: FileName) -> TreeEntry? {
        var lo = 0, hi = entries.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let n = entries[mid].name
            if n == name { return entries[mid] }
            if n < name { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    /// Deterministic CTR2 encoding (Docs/Format.md, "Trees").
    public func encode() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + entries.count * 112)
        w.raw(Tree.magic)
        w.uvarint(UInt64(entries.count))
        for e in entries {
            w.blob(e.name.bytes)
            w.u8(e.kind.rawValue)
            w.u8(e.flags)
            w.uvarint(UInt64(e.mode))
            w.i64(e.mtime.seconds)
            w.u32(e.mtime.nanoseconds)
            w.i64(e.ctime.seconds)
            w.u32(e.ctime.nanoseconds)
            w.uvarint(e.inode)
            w.uvarint(e.size)
            w.uvarint(e.fingerprint)
            if let o = e.owner {
                w.u8(1)
                w.uvarint(UInt64(o.uid))
                w.uvarint(UInt64(o.gid))
                w.blob(o.user)
                w.blob(o.group)
            } else {
                w.u8(0)
            }
            w.uvarint(e.links)
            if e.links > 1 { w.uvarint(e.device) }
            switch e.kind {
            case .file:
                w.u8(e.indirect ? 1 : 0)
                w.uvarint(UInt64(e.content.count))
                for c in e.content { w.raw(c.id.bytes); w.uvarint(c.length) }
            case .directory:
                w.raw((e.subtree ?? BlockId([UInt8](repeating: 0, count: 32))).bytes)
            case .symlink:
                w.blob(e.target?.bytes ?? [])
            }
        }
        return w.bytes
    }

    /// Decodes a CTR2 or CTR1 tree block; `what` names it in errors.
    public static func decode(_ bytes: [UInt8], what: String = "tree") throws -> Tree {
        var r = BinaryReader(bytes, what: what)
        let m = Array(try r.raw(4))
        let v2 = m == magic
        guard v2 || m == magicV1 else {
            throw CairnError(.integrity, "\(what) is not a tree block (bad magic); run `cairn check --read-data`")
        }
        let n = try r.uvarint()
        guard n <= UInt64(bytes.count) else { throw r.truncated() }
        var entries: [TreeEntry] = []
        entries.reserveCapacity(Int(n))
        var previous: FileName?
        var lastOwner: Ownership?
        for _ in 0..<n {
            let name = FileName(bytes: try r.blob())
            // A name is one path component: "", ".", "..", "/" or NUL would let a restore escape its target.
            guard name.isValidComponent else {
                throw CairnError(.integrity, "\(what) holds the entry name \(name.escaped), which is not a single path component; run `cairn check --read-data`", offset: UInt64(r.position))
            }
            guard let kind = NodeKind(rawValue: try r.u8()) else { throw r.truncated() }
            var e = TreeEntry(name: name, kind: kind, mode: 0, mtimeNs: 0)
            e.flags = try r.u8()
            guard let mode = UInt32(exactly: try r.uvarint()) else { throw r.truncated() }
            e.mode = mode
            if v2 {
                e.mtime = try r.timestamp()
                e.ctime = try r.timestamp()
            } else {
                e.mtime = Timestamp(ns: try r.i64())
                e.ctime = Timestamp(ns: try r.i64())
            }
            e.inode = try r.uvarint()
            e.size = try r.uvarint()
            e.fingerprint = try r.uvarint()
            if v2 {
                switch try r.u8() {
                case 0: break
                case 1:
                    guard let uid = UInt32(exactly: try r.uvarint()), let gid = UInt32(exactly: try r.uvarint()) else { throw r.truncated() }
                    let user = try r.blob(), group = try r.blob()
                    // Most entries repeat the previous owner: share its record (no new arrays).
                    if let o = lastOwner, o.uid == uid, o.gid == gid, o.user.elementsEqual(user), o.group.elementsEqual(group) {
                        e.owner = o
                    } else {
                        e.owner = Ownership(uid: uid, gid: gid, user: Array(user), group: Array(group))
                        lastOwner = e.owner
                    }
                default: throw r.truncated()
                }
                e.links = try r.uvarint()
                if e.links > 1 { e.device = try r.uvarint() }
            }
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
                e.target = FileName(bytes: try r.blob())
            }
            // Binary search and merges rely on increasing names: strictly in CTR2; CTR1 (whose
            // writer decoded names lossily) may repeat one.
            if let p = previous, v2 ? !(p < name) : name < p {
                throw CairnError(.integrity, "\(what) lists \(name.escaped) out of byte order (after \(p.escaped)); run `cairn check --read-data`", offset: UInt64(r.position))
            }
            previous = name
            entries.append(e)
        }
        return Tree(sortedEntries: entries)
    }

    init(sortedEntries: [TreeEntry]) { entries = sortedEntries }
}

extension BinaryReader {
    /// A CTR2 timestamp: i64 seconds, then u32 nanoseconds below 10^9.
    mutating func timestamp() throws -> Timestamp {
        let s = try i64()
        let ns = try u32()
        guard ns < 1_000_000_000 else { throw truncated() }
        return Timestamp(seconds: s, nanoseconds: ns)
    }
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
