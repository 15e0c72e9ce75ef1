// Compares a snapshot's silo with the live state it would replace: the change summary a
// dry run prints and a real restore reports (computed the same way, so they agree).
//
// The live tree is walked by `TreeWalker` (excluded paths and the SQLite siblings of a
// database are not listed) and a live file the `Unchanged` rule accepts is not read.
// Otherwise its content is hashed block by block against the entry's block ids (same
// boundaries), so "modified" means the bytes really differ.

#if canImport(Glibc)
import Glibc
#endif

/// What a restore changes in one silo (or in total).
public struct RestoreChanges: Codable, Sendable, Equatable {
    /// Paths the restore creates.
    public var added = 0
    /// Live paths the restore removes.
    public var removed = 0
    /// Paths whose content, type or link target changes.
    public var modified = 0
    /// Paths whose content is equal but whose mode or mtime changes (directories: mode only).
    public var metadataOnly = 0
    public var unchanged = 0
    /// File bytes the restore writes (the whole selection: staging is written in full).
    public var bytesToWrite: UInt64 = 0
    /// Bytes of files added or modified.
    public var changedBytes: UInt64 = 0
    public init() {}

    /// True when the restore changes anything (adds, removes, modifies or touches metadata).
    public var hasChanges: Bool { added + removed + modified + metadataOnly > 0 }

    mutating func add(_ o: RestoreChanges) {
        added += o.added; removed += o.removed; modified += o.modified; metadataOnly += o.metadataOnly
        unchanged += o.unchanged; bytesToWrite += o.bytesToWrite; changedBytes += o.changedBytes
    }
}

/// Include globs of `restore --include`: a path is included when a pattern matches it or
/// one of its ancestors (relative to the silo, or prefixed with the silo name), or, for
/// patterns without '/', its base name. Paths are matched as bytes.
public struct IncludeMatcher: Sendable {
    let patterns: [String]
    let silo: String
    public init(_ patterns: [String], silo: String) { self.patterns = patterns; self.silo = silo }

    public func includes(_ rel: FileName) -> Bool {
        var p = rel.bytes[...]
        while !p.isEmpty {
            if matchesOne(FileName(bytes: p)) { return true }
            guard let slash = p.lastIndex(of: 0x2F) else { break }
            p = p[..<slash]
        }
        return false
    }

    func matchesOne(_ rel: FileName) -> Bool {
        let name = rel.lastComponent
        let prefixed = FileName(utf8: silo).appending(rel)
        return rel.withCString { r in
            name.withCString { n in
                prefixed.withCString { sr in
                    for pat in patterns {
                        if pat.contains("/") {
                            if fnmatch(pat, r, 0) == 0 || fnmatch(pat, sr, 0) == 0 { return true }
                        } else if fnmatch(pat, n, 0) == 0 {
                            return true
                        }
                    }
                    return false
                }
            }
        }
    }
}

/// Reports each change: marker ("+", "-", "M", "m") and "SILO/rel/path" (raw bytes).
public typealias RestoreChangeSink = (String, FileName) -> Void

/// A live path beside a snapshot entry: its directory when it was found by the walk
/// (nil for a silo that is a single file), name, full path and `lstat`.
struct LiveNode {
    var parent: WalkDirectory?
    var name: FileName
    var path: FileName
    var stat: FileStat
}

/// Compares a snapshot silo with the live tree it would replace, through the `TreeWalker`
/// and the `Unchanged` rule (the ones snapshot and estimate use).
struct LiveCompare {
    let repo: Repository
    let reader: BlockReader
    let silo: String
    let walker: TreeWalker
    let include: IncludeMatcher?
    let sink: RestoreChangeSink?
    var changes = RestoreChanges()
    private let hasher = SHA256Hasher()

    init(repo: Repository, reader: BlockReader, silo: String, excludes: ExcludeMatcher, include: IncludeMatcher?, sink: RestoreChangeSink?) {
        self.repo = repo; self.reader = reader; self.silo = silo; self.include = include; self.sink = sink
        walker = TreeWalker(excludes: excludes)
    }

    func included(_ rel: FileName) -> Bool { include?.includes(rel) ?? true }

    func display(_ rel: FileName) -> FileName { FileName(utf8: silo).appending(rel) }

    /// Compares the silo's root tree `tree` (of kind "directory" or "file") with the live
    /// path `live` (nil when restoring elsewhere: everything is added).
    mutating func compareSilo(_ tree: BlockId, kind: String, live: String?) throws {
        let path = live.map { FileName(utf8: $0) }
        let st = try path.flatMap { try FS.lstatIfExists($0) }
        if kind == "directory" {
            var dir: WalkDirectory? = nil
            if let path, let st {
                if st.kind == .directory { dir = try walker.openRoot(path) }
                else if include == nil { countRemoved(LiveNode(parent: nil, name: path.lastComponent, path: path, stat: st), rel: FileName(bytes: [])) }
            }
            try compareDirectory(tree, live: dir, rel: FileName(bytes: []))
        } else {
            let root = try repo.tree(tree, reader: reader, path: silo)
            for e in root.entries {
                let node = path.flatMap { p in st.map { LiveNode(parent: nil, name: p.lastComponent, path: p, stat: $0) } }
                try compareEntry(e, live: node, rel: e.name)
            }
        }
    }

    /// Opens a live directory found beside an entry (nil when it cannot be opened).
    func open(_ n: LiveNode) throws -> WalkDirectory? {
        if let d = n.parent { return try walker.open(WalkEntry(name: n.name, stat: n.stat), in: d) }
        return try walker.openRoot(n.path)
    }

    /// Compares the children of tree `id` with the live directory `dir` (nil: it does not exist).
    mutating func compareDirectory(_ id: BlockId?, live dir: WalkDirectory?, rel: FileName) throws {
        let entries = try id.map { try repo.tree($0, reader: reader, path: display(rel).escaped).entries } ?? []
        let live: [WalkEntry] = try dir.map { try walker.entries(of: $0) } ?? []
        // Both lists are in byte order: one merge.
        var j = 0
        for e in entries {
            while j < live.count && live[j].name < e.name {
                // Live paths the snapshot lacks are removed, except excluded ones (carried over,
                // not listed by the walker) and anything outside an --include selection.
                if include == nil, let dir { countRemoved(LiveNode(parent: dir, name: live[j].name, path: dir.path(of: live[j].name), stat: live[j].stat), rel: rel.appending(live[j].name)) }
                j += 1
            }
            var node: LiveNode? = nil
            if let dir {
                if j < live.count && live[j].name == e.name {
                    node = LiveNode(parent: dir, name: e.name, path: dir.path(of: e.name), stat: live[j].stat)
                    j += 1
                } else if let st = try? FS.At.lstat(dir.fd, e.name, display: dir.path(of: e.name).escaped) {
                    node = LiveNode(parent: dir, name: e.name, path: dir.path(of: e.name), stat: st) // excluded or a SQLite sibling live
                }
            }
            try compareEntry(e, live: node, rel: rel.appending(e.name))
        }
        if include == nil, let dir {
            for n in live[j...] { countRemoved(LiveNode(parent: dir, name: n.name, path: dir.path(of: n.name), stat: n.stat), rel: rel.appending(n.name)) }
        }
    }

    mutating func compareEntry(_ e: TreeEntry, live: LiveNode?, rel: FileName) throws {
        let inc = included(rel)
        guard let live else {
            try countAdded(e, rel: rel)
            return
        }
        let st = live.stat
        let liveKind: NodeKind? = st.kind == .file ? .file : st.kind == .directory ? .directory : st.kind == .symlink ? .symlink : nil
        if liveKind != e.kind {
            if include != nil && !inc {
                if e.kind == .directory, let s = e.subtree { try compareDirectory(s, live: nil, rel: rel) }
                return
            }
            record("M", rel, modified: true, bytes: e.kind == .file ? e.size : 0)
            if st.kind == .directory, include == nil { countRemovedChildren(live, rel: rel) }
            if e.kind == .directory, let s = e.subtree { try compareDirectory(s, live: nil, rel: rel) }
            if e.kind == .file { changes.bytesToWrite += e.size }
            return
        }
        switch e.kind {
        case .directory:
            if inc {
                if st.mode != e.mode { record("m", rel, metadata: true) } else { changes.unchanged += 1 }
            }
            try compareDirectory(e.subtree, live: try open(live), rel: rel)
        case .symlink:
            guard inc else { return }
            let target = (try? live.parent.map { try FS.At.readlink($0.fd, live.name, display: live.path.escaped) } ?? FS.readlink(live.path)) ?? FileName(bytes: [])
            if target != (e.target ?? FileName(bytes: [])) { record("M", rel, modified: true) }
            else if st.mtime != e.mtime { record("m", rel, metadata: true) }
            else { changes.unchanged += 1 }
        case .file:
            guard inc else { return }
            changes.bytesToWrite += e.size
            if try !sameContent(e, live: live, rel: rel) { record("M", rel, modified: true, bytes: e.size) }
            else if st.mode != e.mode || st.mtime != e.mtime { record("m", rel, metadata: true) }
            else { changes.unchanged += 1 }
        }
    }

    mutating func record(_ marker: String, _ rel: FileName, modified: Bool = false, metadata: Bool = false, bytes: UInt64 = 0) {
        if modified { changes.modified += 1; changes.changedBytes += bytes }
        if metadata { changes.metadataOnly += 1 }
        sink?(marker, display(rel))
    }

    mutating func countAdded(_ e: TreeEntry, rel: FileName) throws {
        if included(rel) {
            changes.added += 1
            if e.kind == .file { changes.bytesToWrite += e.size; changes.changedBytes += e.size }
            sink?("+", display(rel))
        }
        if e.kind == .directory, let s = e.subtree { try compareDirectory(s, live: nil, rel: rel) }
    }

    mutating func countRemoved(_ n: LiveNode, rel: FileName) {
        changes.removed += 1
        sink?("-", display(rel))
        if n.stat.kind == .directory { countRemovedChildren(n, rel: rel) }
    }

    mutating func countRemovedChildren(_ n: LiveNode, rel: FileName) {
        guard let dir = try? open(n) else { return }
        for c in (try? walker.entries(of: dir)) ?? [] {
            countRemoved(LiveNode(parent: dir, name: c.name, path: dir.path(of: c.name), stat: c.stat), rel: rel.appending(c.name))
        }
    }

    /// True when the live file holds exactly the entry's content: by the `Unchanged` rule
    /// without reading it, else (not for SQLite captures, whose bytes are a backup's) by
    /// hashing it block by block against the entry's block ids.
    func sameContent(_ e: TreeEntry, live: LiveNode, rel: FileName) throws -> Bool {
        let st = live.stat
        guard st.size == e.size else { return false }
        if Unchanged.file(e, st, path: live.path) { return true }
        if e.flags & TreeEntry.flagSQLite != 0 { return false }
        let fd = live.parent.map { d in live.name.withCString { openat(d.fd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) } }
            ?? live.path.withCString { Glibc.open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { return false }
        let f = PosixFile(fd: fd, path: live.path.escaped)
        defer { f.close() }
        var buf: [UInt8] = []
        var offset: UInt64 = 0
        for ref in try repo.dataRefs(e, reader: reader, path: display(rel).escaped) {
            guard let n = Int(exactly: ref.length) else { return false }
            if buf.count < n { buf = [UInt8](repeating: 0, count: n) }
            let ok = buf.withUnsafeMutableBytes { b -> Bool in
                guard (try? f.pread(into: b.baseAddress!, count: n, offset: offset)) != nil else { return false }
                return hasher.hash(UnsafeRawBufferPointer(rebasing: b[0..<n])) == ref.id
            }
            if !ok { return false }
            offset += UInt64(n)
        }
        return true
    }
}
