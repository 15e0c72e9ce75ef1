// Diff: what changed between two snapshots, computed as pure functions over trees.
//
// Owns: comparing two manifests (`diffTrees` for one silo, `diffSnapshots` for all of
// them), rename pairing, per-silo and overall totals (DiffModel.swift), and the output
// formats (DiffFormat.swift). It reads manifests only through a `TreeSource` and never
// touches file content: everything it reports comes from tree entries and list blocks.
//
// Cost is proportional to the change: two subtrees with the same id are equal (trees are
// content-addressed), so they are skipped without being loaded. Only the trees on paths
// to changes are read, plus every tree under an added or removed directory (each entry
// below it is reported).
//
// Rules:
// - Entries are matched by name (raw bytes, never as `String`: NFC and NFD spellings are two names). ctime, inode, flags and fingerprint are
//   ignored: they change on every touch without the content changing.
// - A file is `modified` when its content refs (or size) differ; a symlink when its target differs.
// - Mode and mtime are compared only with `DiffOptions.metadata`: alone they make a
//   `metadata` change; with a content change or rename they are folded into that change.
// - A kind change (file / directory / symlink) is one `typeChanged` change for the path,
//   followed by a `removed` change for every entry under the old directory, or an `added`
//   change for every entry under the new one. Its mode and mtime are not compared.
// - A directory added or removed is reported itself, then every entry under it.
// - Renames: after the walk, removed and added non-empty regular files with the same
//   content (same content refs and size) are paired; each pair becomes one `renamed`
//   change at the added path. Several candidates: same file name first, then walk order.
//   Empty files and directories are never paired.

/// Compares one silo's root trees. `a` or `b` nil means the silo is absent on that side:
/// only the other side is walked and every entry is reported as added (or removed).
/// Equal ids load nothing.
public func diffTrees(silo: String, a: BlockId?, b: BlockId?, source: some TreeSource, options: DiffOptions = DiffOptions()) throws -> SiloDiff {
    var w = DiffWalker(silo: silo, source: source, options: options)
    let state: SiloDiff.State
    switch (a, b) {
    case let (a?, b?):
        state = .common
        if a != b { try w.compare(a, b, prefix: FileName(bytes: [])) }
    case let (nil, b?):
        state = .added
        try w.emitBelow(b, prefix: FileName(bytes: []), added: true)
    case let (a?, nil):
        state = .removed
        try w.emitBelow(a, prefix: FileName(bytes: []), added: false)
    case (nil, nil):
        state = .common
    }
    if options.detectRenames { w.pairRenames() }
    return SiloDiff(silo: silo, state: state, changes: w.changes.compactMap { $0 })
}

/// Compares two snapshots given as silo name -> root tree id. Silos are reported in
/// UTF-8 byte order of their names; a silo in only one map is added or removed.
public func diffSnapshots(a: [String: BlockId], b: [String: BlockId], source: some TreeSource, options: DiffOptions = DiffOptions(),
                          repositoryBytesAdded: UInt64? = nil) throws -> DiffReport {
    let names = Set(a.keys).union(b.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    let silos = try names.map { try diffTrees(silo: $0, a: a[$0], b: b[$0], source: source, options: options) }
    return DiffReport(silos: silos, repositoryBytesAdded: repositoryBytesAdded)
}

/// Content identity of a regular file, for rename pairing.
private struct ContentSignature: Hashable {
    var size: UInt64
    var indirect: Bool
    var content: [ContentRef]

    init(_ e: TreeEntry) {
        size = e.size
        indirect = e.indirect
        content = e.content
    }
}

/// Three-way comparison of names by their bytes (the order of tree entries).
private func compareNames(_ x: FileName, _ y: FileName) -> Int {
    if x == y { return 0 }
    return x < y ? -1 : 1
}

private func join(_ prefix: FileName, _ name: FileName) -> FileName { prefix.appending(name) }

private func sizeOf(_ e: TreeEntry) -> UInt64? { e.kind == .directory ? nil : e.size }

private struct DiffWalker<S: TreeSource> {
    let silo: String
    let source: S
    let options: DiffOptions
    /// Changes in walk order; rename pairing sets the removed half of each pair to nil.
    var changes: [Change?] = []
    /// Rename candidates: index in `changes` and the file's entry.
    var removedFiles: [(index: Int, entry: TreeEntry)] = []
    var addedFiles: [(index: Int, entry: TreeEntry)] = []

    init(silo: String, source: S, options: DiffOptions) {
        self.silo = silo
        self.source = source
        self.options = options
    }

    /// Compares two different trees entry by entry.
    mutating func compare(_ a: BlockId, _ b: BlockId, prefix: FileName) throws {
        let ta = try source.tree(a), tb = try source.tree(b)
        var i = 0, j = 0
        while i < ta.entries.count || j < tb.entries.count {
            let order = i == ta.entries.count ? 1 : j == tb.entries.count ? -1 : compareNames(ta.entries[i].name, tb.entries[j].name)
            if order < 0 {
                try emit(ta.entries[i], path: join(prefix, ta.entries[i].name), added: false)
                i += 1
            } else if order > 0 {
                try emit(tb.entries[j], path: join(prefix, tb.entries[j].name), added: true)
                j += 1
            } else {
                try compareEntries(ta.entries[i], tb.entries[j], path: join(prefix, tb.entries[j].name))
                i += 1
                j += 1
            }
        }
    }

    /// Compares the two entries found at one path.
    mutating func compareEntries(_ x: TreeEntry, _ y: TreeEntry, path: FileName) throws {
        guard x.kind == y.kind else {
            var c = Change(kind: .typeChanged, silo: silo, path: path, oldKind: x.kind, newKind: y.kind, oldSize: sizeOf(x), newSize: sizeOf(y),
                           contentBytesChanged: y.kind == .file ? y.size : 0, oldTarget: x.target, newTarget: y.target)
            if x.kind != .symlink { c.oldTarget = nil }
            if y.kind != .symlink { c.newTarget = nil }
            changes.append(c)
            if x.kind == .directory, let s = x.subtree { try emitBelow(s, prefix: path, added: false) }
            if y.kind == .directory, let s = y.subtree { try emitBelow(s, prefix: path, added: true) }
            return
        }
        var c = Change(kind: .modified, silo: silo, path: path, oldKind: x.kind, newKind: y.kind, oldSize: sizeOf(x), newSize: sizeOf(y))
        let contentChanged: Bool
        switch x.kind {
        case .file:
            contentChanged = x.size != y.size || x.indirect != y.indirect || x.content != y.content
            if contentChanged { c.contentBytesChanged = try newContentBytes(old: x, new: y) }
        case .symlink:
            contentChanged = x.target != y.target
            c.oldTarget = x.target
            c.newTarget = y.target
        case .directory:
            contentChanged = false
        }
        let metadataChanged = addMetadata(x, y, to: &c)
        if contentChanged || metadataChanged {
            if !contentChanged { c.kind = .metadata }
            changes.append(c)
        }
        if x.kind == .directory, let sa = x.subtree, let sb = y.subtree, sa != sb {
            try compare(sa, sb, prefix: path)
        }
    }

    /// With `options.metadata`, records mode / mtime differences in `c`; true when there were any.
    func addMetadata(_ x: TreeEntry, _ y: TreeEntry, to c: inout Change) -> Bool {
        guard options.metadata else { return false }
        if x.mode != y.mode {
            c.oldMode = x.mode
            c.newMode = y.mode
        }
        if x.mtimeNs != y.mtimeNs {
            c.oldMtimeNs = x.mtimeNs
            c.newMtimeNs = y.mtimeNs
        }
        return c.metadataChanged
    }

    /// Bytes of data blocks in `new` that are not in `old`, each block counted once.
    /// List blocks both files share are not loaded for `new`: their data is in `old`.
    func newContentBytes(old: TreeEntry, new: TreeEntry) throws -> UInt64 {
        var seen = Set<BlockId>()
        var oldLists = Set<BlockId>()
        if old.indirect {
            for l in old.content {
                oldLists.insert(l.id)
                for r in try source.list(l.id) { seen.insert(r.id) }
            }
        } else {
            for r in old.content { seen.insert(r.id) }
        }
        var total: UInt64 = 0
        func count(_ refs: [ContentRef]) {
            for r in refs where seen.insert(r.id).inserted { total += r.length }
        }
        if new.indirect {
            for l in new.content where !oldLists.contains(l.id) { count(try source.list(l.id)) }
        } else {
            count(new.content)
        }
        return total
    }

    /// Reports `e` as added (present only in B) or removed, and everything under it.
    mutating func emit(_ e: TreeEntry, path: FileName, added: Bool) throws {
        var c = Change(kind: added ? .added : .removed, silo: silo, path: path)
        if added {
            c.newKind = e.kind
            c.newSize = sizeOf(e)
            c.newTarget = e.target
            c.contentBytesChanged = e.kind == .file ? e.size : 0
        } else {
            c.oldKind = e.kind
            c.oldSize = sizeOf(e)
            c.oldTarget = e.target
        }
        if e.kind == .file, e.size > 0, options.detectRenames {
            if added { addedFiles.append((changes.count, e)) } else { removedFiles.append((changes.count, e)) }
        }
        changes.append(c)
        if e.kind == .directory, let s = e.subtree { try emitBelow(s, prefix: path, added: added) }
    }

    /// Reports every entry under tree `id` as added or removed.
    mutating func emitBelow(_ id: BlockId, prefix: FileName, added: Bool) throws {
        for e in try source.tree(id).entries { try emit(e, path: join(prefix, e.name), added: added) }
    }

    /// Turns pairs of removed and added files with the same content into renames.
    mutating func pairRenames() {
        guard !removedFiles.isEmpty, !addedFiles.isEmpty else { return }
        var candidates: [ContentSignature: [(index: Int, entry: TreeEntry)]] = [:]
        for r in removedFiles { candidates[ContentSignature(r.entry), default: []].append(r) }
        for a in addedFiles {
            let sig = ContentSignature(a.entry)
            guard var list = candidates[sig], !list.isEmpty else { continue }
            let pick = list.firstIndex { $0.entry.name == a.entry.name } ?? 0
            let r = list.remove(at: pick)
            candidates[sig] = list
            guard let removed = changes[r.index], let added = changes[a.index] else { continue }
            var c = Change(kind: .renamed, silo: silo, path: added.path, oldPath: removed.path, oldKind: .file, newKind: .file,
                           oldSize: r.entry.size, newSize: a.entry.size)
            _ = addMetadata(r.entry, a.entry, to: &c)
            changes[a.index] = c
            changes[r.index] = nil
        }
    }
}
