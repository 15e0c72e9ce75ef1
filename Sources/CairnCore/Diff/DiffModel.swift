// The values the diff engine produces: one `Change` per differing path, per-silo
// `SiloDiff`s with their `DiffTotals`, and the whole `DiffReport`.

/// How to compare two trees.
public struct DiffOptions: Sendable, Equatable {
    /// Report mode and mtime changes (kind `metadata`, or folded into a `modified` /
    /// `renamed` change). ctime, inode, flags and fingerprint are never compared.
    public var metadata: Bool
    /// Pair removed and added regular files with identical content into `renamed` changes.
    public var detectRenames: Bool

    public init(metadata: Bool = false, detectRenames: Bool = true) {
        self.metadata = metadata
        self.detectRenames = detectRenames
    }
}

/// What happened to a path between snapshot A and snapshot B.
public enum ChangeKind: String, Sendable, CaseIterable {
    /// Present only in B.
    case added
    /// Present only in A.
    case removed
    /// A file whose content changed, or a symlink whose target changed.
    case modified
    /// The same path holds another kind of node (file, directory, symlink).
    case typeChanged
    /// A regular file removed from one path and added at another with identical content.
    case renamed
    /// Only mode and/or mtime changed (reported only with `DiffOptions.metadata`).
    case metadata

    /// The one-character marker of human output: `+ - M T R m` (`m`: metadata only).
    public var marker: String {
        switch self {
        case .added: return "+"
        case .removed: return "-"
        case .modified: return "M"
        case .typeChanged: return "T"
        case .renamed: return "R"
        case .metadata: return "m"
        }
    }
}

/// One differing path.
public struct Change: Sendable, Equatable {
    public var kind: ChangeKind
    public var silo: String
    /// Silo-relative, '/'-joined path in B (in A for `removed`), as raw name bytes.
    public var path: FileName
    /// The path in A, for `renamed`.
    public var oldPath: FileName?
    /// Node kind in A (nil when added).
    public var oldKind: NodeKind?
    /// Node kind in B (nil when removed).
    public var newKind: NodeKind?
    /// Size in A for files and symlinks (nil for directories and absent nodes).
    public var oldSize: UInt64?
    /// Size in B for files and symlinks (nil for directories and absent nodes).
    public var newSize: UInt64?
    /// Bytes of new content: for a modified file, the bytes of data blocks in B not in A
    /// (each block counted once); for an added file, or a path that became a file, its size; else 0.
    public var contentBytesChanged: UInt64
    /// Symlink target in A / in B (raw bytes), when that side is a symlink.
    public var oldTarget: FileName?
    public var newTarget: FileName?
    /// Set (both) only when `DiffOptions.metadata` and the mode changed.
    public var oldMode: UInt32?
    public var newMode: UInt32?
    /// Set (both) only when `DiffOptions.metadata` and the mtime changed.
    public var oldMtimeNs: Int64?
    public var newMtimeNs: Int64?

    public init(kind: ChangeKind, silo: String, path: FileName, oldPath: FileName? = nil, oldKind: NodeKind? = nil, newKind: NodeKind? = nil,
                oldSize: UInt64? = nil, newSize: UInt64? = nil, contentBytesChanged: UInt64 = 0, oldTarget: FileName? = nil, newTarget: FileName? = nil,
                oldMode: UInt32? = nil, newMode: UInt32? = nil, oldMtimeNs: Int64? = nil, newMtimeNs: Int64? = nil) {
        self.kind = kind
        self.silo = silo
        self.path = path
        self.oldPath = oldPath
        self.oldKind = oldKind
        self.newKind = newKind
        self.oldSize = oldSize
        self.newSize = newSize
        self.contentBytesChanged = contentBytesChanged
        self.oldTarget = oldTarget
        self.newTarget = newTarget
        self.oldMode = oldMode
        self.newMode = newMode
        self.oldMtimeNs = oldMtimeNs
        self.newMtimeNs = newMtimeNs
    }

    /// `newSize - oldSize`, an absent size counting as 0.
    public var sizeDelta: Int64 {
        Int64(truncatingIfNeeded: newSize ?? 0) &- Int64(truncatingIfNeeded: oldSize ?? 0)
    }

    /// True when mode or mtime fields are set.
    public var metadataChanged: Bool { oldMode != nil || oldMtimeNs != nil }
}

/// Counts and byte sums over changes.
///
/// "Files" are non-directory entries (regular files and symlinks); directories are counted
/// in `dirsAdded` / `dirsRemoved` only. Byte sums count regular files only, by logical size:
/// `bytesAdded - bytesRemoved` equals (file bytes in B) - (file bytes in A). An added file
/// adds its size, a removed one removes it, a modified file adds its growth or removes its
/// shrinkage, a type change removes the old file's size and/or adds the new file's, a rename
/// counts nothing.
public struct DiffTotals: Sendable, Equatable {
    public var filesAdded = 0
    public var filesRemoved = 0
    public var filesModified = 0
    public var filesRenamed = 0
    /// Paths whose node kind changed (any kind, directories included).
    public var typeChanged = 0
    /// `metadata` changes (any kind, directories included).
    public var metadataOnly = 0
    public var dirsAdded = 0
    public var dirsRemoved = 0
    public var bytesAdded: UInt64 = 0
    public var bytesRemoved: UInt64 = 0
    /// Sum of `Change.contentBytesChanged`.
    public var contentBytesChanged: UInt64 = 0

    public init() {}

    /// True when no change was counted.
    public var isEmpty: Bool { self == DiffTotals() }

    /// Counts one change.
    public mutating func add(_ c: Change) {
        contentBytesChanged += c.contentBytesChanged
        let oldFile = c.oldKind == .file ? c.oldSize ?? 0 : 0
        let newFile = c.newKind == .file ? c.newSize ?? 0 : 0
        switch c.kind {
        case .added:
            if c.newKind == .directory { dirsAdded += 1 } else { filesAdded += 1 }
            bytesAdded += newFile
        case .removed:
            if c.oldKind == .directory { dirsRemoved += 1 } else { filesRemoved += 1 }
            bytesRemoved += oldFile
        case .modified:
            filesModified += 1
            if newFile >= oldFile { bytesAdded += newFile - oldFile } else { bytesRemoved += oldFile - newFile }
        case .typeChanged:
            typeChanged += 1
            bytesAdded += newFile
            bytesRemoved += oldFile
        case .renamed:
            filesRenamed += 1
        case .metadata:
            metadataOnly += 1
        }
    }

    /// Adds another set of totals into this one.
    public mutating func add(_ t: DiffTotals) {
        filesAdded += t.filesAdded
        filesRemoved += t.filesRemoved
        filesModified += t.filesModified
        filesRenamed += t.filesRenamed
        typeChanged += t.typeChanged
        metadataOnly += t.metadataOnly
        dirsAdded += t.dirsAdded
        dirsRemoved += t.dirsRemoved
        bytesAdded += t.bytesAdded
        bytesRemoved += t.bytesRemoved
        contentBytesChanged += t.contentBytesChanged
    }
}

/// The differences inside one silo.
public struct SiloDiff: Sendable, Equatable {
    /// Whether the silo exists on both sides.
    public enum State: String, Sendable {
        /// In both snapshots (possibly unchanged).
        case common
        /// Only in B: every entry is reported as added.
        case added
        /// Only in A: every entry is reported as removed.
        case removed
    }

    public var silo: String
    public var state: State
    /// Changes in depth-first order over both trees (names by UTF-8 bytes, a directory before its entries).
    public var changes: [Change]
    public var totals: DiffTotals

    public init(silo: String, state: State, changes: [Change]) {
        self.silo = silo
        self.state = state
        self.changes = changes
        var t = DiffTotals()
        for c in changes { t.add(c) }
        totals = t
    }
}

/// A whole diff between two snapshots.
public struct DiffReport: Sendable, Equatable {
    /// One entry per silo in either snapshot, unchanged ones included.
    public var silos: [SiloDiff]
    /// Silos only in B / only in A, in `silos` order.
    public var addedSilos: [String]
    public var removedSilos: [String]
    /// Sum of the silos' totals.
    public var totals: DiffTotals
    /// Stored bytes B added to the repository (from B's snapshot record); the caller fills it.
    public var repositoryBytesAdded: UInt64?
    /// Tree blocks the diff loaded (its reader's counter); the caller fills it. Equal
    /// subtrees are never loaded, so this measures the diff's cost.
    public var treeBlocksRead: Int?

    public init(silos: [SiloDiff], repositoryBytesAdded: UInt64? = nil, treeBlocksRead: Int? = nil) {
        self.silos = silos
        addedSilos = silos.filter { $0.state == .added }.map(\.silo)
        removedSilos = silos.filter { $0.state == .removed }.map(\.silo)
        var t = DiffTotals()
        for s in silos { t.add(s.totals) }
        totals = t
        self.repositoryBytesAdded = repositoryBytesAdded
        self.treeBlocksRead = treeBlocksRead
    }

    /// All changes, silo after silo.
    public var changes: [Change] { silos.flatMap(\.changes) }
}
