// Compares a snapshot's silo with the live state it would replace: the change summary a
// dry run prints and a real restore reports (computed the same way, so they agree).
//
// A live file whose size, mtime, ctime and inode equal the snapshot entry's is unchanged
// without being read. Otherwise its content is hashed block by block against the entry's
// block ids (same boundaries), so "modified" means the bytes really differ.

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

struct LiveCompare {
    let repo: Repository
    let reader: BlockReader
    let silo: String
    let excludes: ExcludeMatcher
    let include: IncludeMatcher?
    let sink: RestoreChangeSink?
    var changes = RestoreChanges()
    private let hasher = SHA256Hasher()

    init(repo: Repository, reader: BlockReader, silo: String, excludes: ExcludeMatcher, include: IncludeMatcher?, sink: RestoreChangeSink?) {
        self.repo = repo; self.reader = reader; self.silo = silo; self.excludes = excludes; self.include = include; self.sink = sink
    }

    func included(_ rel: FileName) -> Bool { include?.includes(rel) ?? true }

    func display(_ rel: FileName) -> FileName { FileName(utf8: silo).appending(rel) }

    mutating func compareDirectory(_ id: BlockId?, live dir: String?, rel: FileName) throws {
        try compareDirectory(id, live: dir.map { FileName(utf8: $0) }, rel: rel)
    }

    /// Compares the children of tree `id` with the live directory `dir` (which may not exist).
    mutating func compareDirectory(_ id: BlockId?, live dir: FileName?, rel: FileName) throws {
        let entries = try id.map { try repo.tree($0, reader: reader, path: display(rel).escaped).entries } ?? []
        let liveNames: [FileName] = dir.flatMap { try? FS.list($0) } ?? []
        for e in entries {
            let livePath = dir.map { $0.appending(e.name) }
            let st = try livePath.flatMap { try FS.lstatIfExists($0) }
            try compareEntry(e, live: livePath, stat: st, rel: rel.appending(e.name))
        }
        // Live paths the snapshot lacks are removed, except excluded ones (carried over) and
        // anything outside an --include selection. Both lists are in byte order: one merge.
        guard include == nil, let dir else { return }
        var i = 0
        for n in liveNames {
            while i < entries.count && entries[i].name < n { i += 1 }
            if i < entries.count && entries[i].name == n { continue }
            let r = rel.appending(n)
            if excludes.excludes(r, name: n) { continue }
            countRemoved(dir.appending(n), rel: r)
        }
    }

    mutating func compareEntry(_ e: TreeEntry, live: String?, stat st: FileStat?, rel: FileName) throws {
        try compareEntry(e, live: live.map { FileName(utf8: $0) }, stat: st, rel: rel)
    }

    mutating func compareEntry(_ e: TreeEntry, live: FileName?, stat st: FileStat?, rel: FileName) throws {
        let inc = included(rel)
        guard let st, let live else {
            try countAdded(e, rel: rel)
            return
        }
        let liveKind: NodeKind? = st.kind == .file ? .file : st.kind == .directory ? .directory : st.kind == .symlink ? .symlink : nil
        if liveKind != e.kind {
            if include != nil && !inc {
                if e.kind == .directory, let s = e.subtree { try compareDirectory(s, live: nil as FileName?, rel: rel) }
                return
            }
            record("M", rel, modified: true, bytes: e.kind == .file ? e.size : 0)
            if st.kind == .directory, include == nil { countRemovedChildren(live, rel: rel) }
            if e.kind == .directory, let s = e.subtree { try compareDirectory(s, live: nil as FileName?, rel: rel) }
            if e.kind == .file { changes.bytesToWrite += e.size }
            return
        }
        switch e.kind {
        case .directory:
            if inc {
                if st.mode != e.mode { record("m", rel, metadata: true) } else { changes.unchanged += 1 }
            }
            try compareDirectory(e.subtree, live: live, rel: rel)
        case .symlink:
            guard inc else { return }
            let target = (try? FS.readlink(live)) ?? FileName(bytes: [])
            if target != (e.target ?? FileName(bytes: [])) { record("M", rel, modified: true) }
            else if st.mtime != e.mtime { record("m", rel, metadata: true) }
            else { changes.unchanged += 1 }
        case .file:
            guard inc else { return }
            changes.bytesToWrite += e.size
            if try !sameContent(e, live: live, stat: st, rel: rel) { record("M", rel, modified: true, bytes: e.size) }
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
        if e.kind == .directory, let s = e.subtree { try compareDirectory(s, live: nil as FileName?, rel: rel) }
    }

    mutating func countRemoved(_ path: String, rel: FileName) { countRemoved(FileName(utf8: path), rel: rel) }

    mutating func countRemoved(_ path: FileName, rel: FileName) {
        changes.removed += 1
        sink?("-", display(rel))
        if (try? FS.lstat(path))?.kind == .directory { countRemovedChildren(path, rel: rel) }
    }

    mutating func countRemovedChildren(_ dir: FileName, rel: FileName) {
        for n in (try? FS.list(dir)) ?? [] {
            let r = rel.appending(n)
            if excludes.excludes(r, name: n) { continue }
            countRemoved(dir.appending(n), rel: r)
        }
    }

    /// True when the live file holds exactly the entry's content.
    func sameContent(_ e: TreeEntry, live: FileName, stat st: FileStat, rel: FileName) throws -> Bool {
        guard st.size == e.size else { return false }
        if st.inode == e.inode && st.mtime == e.mtime && st.ctime == e.ctime { return true }
        if e.flags & TreeEntry.flagSQLite != 0 { return false }
        let fd = live.withCString { Glibc.open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { return false }
        let f = PosixFile(fd: fd, path: live.escaped)
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
