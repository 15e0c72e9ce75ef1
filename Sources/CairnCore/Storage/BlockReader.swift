// Read path for blocks: index lookup, pack read, decompression and hash verification.

/// Reads and verifies blocks. Keeps a small cache of metadata blocks (trees, lists).
public final class BlockReader {
    let storage: PackStorage
    let index: RepositoryIndex
    private var cache: [BlockId: [UInt8]] = [:]
    private var cacheBytes = 0
    private let cacheLimit = 8 << 20
    private let hasher = SHA256Hasher()
    private var stored: [UInt8] = []
    /// Number of tree blocks read from packs (not from the cache): lets tests prove that diff skips equal subtrees.
    public private(set) var treeBlocksRead = 0
    /// Number of data blocks read from packs.
    public private(set) var dataBlocksRead = 0

    public init(storage: PackStorage, index: RepositoryIndex) {
        self.storage = storage
        self.index = index
    }

    deinit { index.endReadBatch() }

    /// The location of `id`, or an integrity error naming it.
    public func locate(_ id: BlockId, context: String = "") throws -> BlockLocation {
        // Lookups share one read transaction (ended by any write, or when the reader goes).
        index.beginReadBatch()
        guard let loc = try index.lookup(id) else {
            throw CairnError(.integrity, "block \(id.hex) \(context)is missing from the index; run `cairn check` (or `cairn check --rebuild-index` if the index was lost)")
        }
        return loc
    }

    /// Reads block `id` into `out` (replacing its contents), verifying its SHA-256.
    public func read(_ id: BlockId, into out: inout [UInt8], context: String = "") throws {
        let loc = try locate(id, context: context)
        try read(loc, into: &out, context: context)
    }

    /// Reads the block at a known location into `out`, verifying its SHA-256.
    public func read(_ loc: BlockLocation, into out: inout [UInt8], context: String = "") throws {
        let e = loc.entry
        let path = storage.displayPath(loc.pack)
        if e.kind == .data { dataBlocksRead += 1 } else if e.kind == .tree { treeBlocksRead += 1 }
        func damaged(_ why: String) -> CairnError {
            CairnError(.integrity, "block \(e.id.hex) \(context)in pack \(path) at byte offset \(e.offset) is damaged (\(why)); run `cairn check --read-data` to list the affected snapshots", path: path, offset: e.offset)
        }
        if e.codec == .none {
            out = try storage.read(pack: loc.pack, offset: e.offset, count: Int(e.storedLength))
            guard e.storedLength == e.rawLength else { throw damaged("length mismatch") }
        } else {
            if stored.count < Int(e.storedLength) { stored = [UInt8](repeating: 0, count: Int(e.storedLength)) }
            try stored.withUnsafeMutableBytes { try storage.read(pack: loc.pack, offset: e.offset, count: Int(e.storedLength), into: $0.baseAddress!) }
            if out.count != Int(e.rawLength) { out = [UInt8](repeating: 0, count: Int(e.rawLength)) }
            let ok = stored.withUnsafeBytes { s in
                out.withUnsafeMutableBytes { o in
                    LZ4.decompress(UnsafeRawBufferPointer(rebasing: s[0..<Int(e.storedLength)]), into: o.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1)!, rawLength: Int(e.rawLength))
                }
            }
            guard ok else { throw damaged("LZ4 data does not decode") }
        }
        let got = out.withUnsafeBytes { hasher.hash($0) }
        guard got == e.id else { throw damaged("SHA-256 mismatch") }
    }

    /// Reads a metadata block (tree or list) through the cache.
    public func readMeta(_ id: BlockId, context: String = "") throws -> [UInt8] {
        if let b = cache[id] { return b }
        var out: [UInt8] = []
        try read(id, into: &out, context: context)
        if cacheBytes + out.count > cacheLimit { cache.removeAll(); cacheBytes = 0 }
        cache[id] = out
        cacheBytes += out.count
        return out
    }
}
