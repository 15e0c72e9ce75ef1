// The walk of one snapshot during a copy (see Copy.swift): post-order over its trees, so every
// data block is stored before the content list that names it, and every list and subtree
// before the tree that names them.

/// Walks one snapshot of the source, sending the blocks the target lacks.
final class CopyWalk {
    let copier: SnapshotCopier
    let snapshot: Snapshot
    let reader: BlockReader
    let writer: BlockWriter
    private var raw: [UInt8] = []
    private var packed: [UInt8] = []
    /// "of snapshot ID in repository ROOT": every error names where the block came from.
    private let origin: String

    init(copier: SnapshotCopier, snapshot: Snapshot, reader: BlockReader, writer: BlockWriter) {
        self.copier = copier
        self.snapshot = snapshot
        self.reader = reader
        self.writer = writer
        origin = "in snapshot \(snapshot.shortId) of source repository \(copier.source.root)"
    }

    /// Deepest tree nesting walked: far beyond any real directory depth (PATH_MAX allows
    /// about 2 000 levels); a deeper source tree is refused rather than overflowing the stack.
    static let maxDepth = 4096

    /// Sends tree `id` (at `path`, `depth` levels below a silo root) and everything below it.
    func tree(_ id: BlockId, path: FileName, depth: Int = 0) throws {
        if copier.visited.contains(id) { return }
        try Cancellation.check()
        guard depth < Self.maxDepth else {
            throw CairnError(.integrity, "tree \(id.hex) \(origin) is nested more than \(Self.maxDepth) levels deep; no copy of this snapshot was recorded; run `cairn check --repo \(copier.source.root)`")
        }
        let bytes = try reader.readMeta(id, context: "(tree of \(path.escaped) \(origin)) ")
        let t = try Tree.decode(bytes, what: "tree \(id.hex) of \(path.escaped) \(origin)")
        for e in t.entries {
            let p = path.appending(e.name)
            switch e.kind {
            case .directory:
                if let sub = e.subtree { try tree(sub, path: p, depth: depth + 1) }
            case .file:
                try file(e, path: p)
                copier.filesDone &+= 1
                copier.bytesDone &+= e.size  // progress only
                copier.onProgress?(copier.filesDone, copier.bytesDone, p)
            case .symlink:
                break
            }
        }
        try meta(id, kind: .tree, bytes: bytes)
        if copier.visited.count >= SnapshotCopier.visitedLimit { copier.visited.removeAll() }
        copier.visited.insert(id)
    }

    /// Sends a file's data blocks (and its list blocks), checking that they cover its size.
    func file(_ e: TreeEntry, path: FileName) throws {
        var total: UInt64 = 0
        func add(_ r: ContentRef) throws {
            let (sum, over) = total.addingReportingOverflow(r.length)
            guard !over else { throw mismatch(path, e, "more than 2^64") }
            total = sum
        }
        if e.indirect {
            for l in e.content {
                let bytes = try reader.readMeta(l.id, context: "(content list of \(path.escaped) \(origin)) ")
                for r in try ContentList.decode(bytes, what: "list block \(l.id.hex) of \(path.escaped) \(origin)") {
                    try data(r, path: path)
                    try add(r)
                }
                try meta(l.id, kind: .list, bytes: bytes)
            }
        } else {
            for r in e.content {
                try data(r, path: path)
                try add(r)
            }
        }
        guard total == e.size else { throw mismatch(path, e, "\(total)") }
    }

    private func mismatch(_ path: FileName, _ e: TreeEntry, _ total: String) -> CairnError {
        CairnError(.integrity, "\(path.escaped) \(origin) has blocks covering \(total) bytes but its entry says \(e.size); no copy of this snapshot was recorded; run `cairn check --read-data --repo \(copier.source.root)`")
    }

    /// Sends one data block unless the target has it: looked up in the target before the source is read.
    func data(_ r: ContentRef, path: FileName) throws {
        if try writer.has(r.id) {
            copier.stats.blocksSkipped += 1
            copier.stats.bytesSkipped &+= r.length
            return
        }
        let context = "(of \(path.escaped) \(origin)) "
        let loc = try reader.locate(r.id, context: context)
        // Verified on reading: SHA-256 of the plaintext equals the block's id.
        try reader.read(loc, into: &raw, context: context)
        guard UInt64(raw.count) == r.length else {
            throw CairnError(.integrity, "block \(r.id.hex) \(context)holds \(raw.count) bytes but the file's entry says \(r.length); no copy of this snapshot was recorded; run `cairn check --read-data --repo \(copier.source.root)`")
        }
        try raw.withUnsafeBytes { rawBuf in
            let crc = CRC32.checksum(rawBuf)
            // The source's choice is kept: a block it stored compressed is compressed again (LZ4 is deterministic).
            guard loc.entry.codec == .lz4, rawBuf.count > 0 else {
                try writer.put(id: r.id, kind: .data, raw: rawBuf, compressed: nil, crc: crc)
                return
            }
            let cap = LZ4.bound(rawBuf.count)
            if packed.count < cap { packed = [UInt8](repeating: 0, count: cap) }
            try packed.withUnsafeMutableBytes { out in
                let n = LZ4.compress(rawBuf, into: out.baseAddress!, capacity: cap)
                try writer.put(id: r.id, kind: .data, raw: rawBuf, compressed: UnsafeRawBufferPointer(rebasing: out[0..<n]), crc: crc)
            }
        }
    }

    /// Stores a tree or list block (already read and verified) unless the target has it.
    func meta(_ id: BlockId, kind: BlockKind, bytes: [UInt8]) throws {
        if try writer.has(id) {
            copier.stats.blocksSkipped += 1
            copier.stats.bytesSkipped &+= UInt64(bytes.count)
            return
        }
        try writer.put(kind: kind, bytes: bytes)
    }
}
