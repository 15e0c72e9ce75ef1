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
        let n = Int(e.storedLength)
        if e.codec == .none {
            guard e.storedLength == e.rawLength else { throw damaged("length mismatch") }
            if out.count != n { out = [UInt8](repeating: 0, count: n) }
            if n > 0 { try out.withUnsafeMutableBytes { try fetch(loc.pack, e.offset, n, into: $0.baseAddress!) } }
        } else {
            if stored.count < n { stored = [UInt8](repeating: 0, count: n) }
            try stored.withUnsafeMutableBytes { try fetch(loc.pack, e.offset, n, into: $0.baseAddress!) }
            if out.count != Int(e.rawLength) { out = [UInt8](repeating: 0, count: Int(e.rawLength)) }
            let ok = stored.withUnsafeBytes { s in
                out.withUnsafeMutableBytes { o in
                    LZ4.decompress(UnsafeRawBufferPointer(rebasing: s[0..<n]), into: o.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1)!, rawLength: Int(e.rawLength))
                }
            }
            guard ok else { throw damaged("LZ4 data does not decode") }
        }
        let got = out.withUnsafeBytes { hasher.hash($0) }
        guard got == e.id else { throw damaged("SHA-256 mismatch") }
    }

    // Read-ahead: blocks of one file usually sit one after another in a pack, so a 1 MiB
    // window serves the next ~100 reads from memory instead of one pread each.
    private static let windowSize = 1 << 20
    private var window = [UInt8](repeating: 0, count: 0)
    private var windowPack = ""
    private var windowStart: UInt64 = 0
    private var windowLength = 0

    private func fetch(_ pack: String, _ offset: UInt64, _ count: Int, into dst: UnsafeMutableRawPointer) throws {
        if pack == windowPack, offset >= windowStart, offset + UInt64(count) <= windowStart + UInt64(windowLength) {
            window.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress! + Int(offset - windowStart), byteCount: count) }
            return
        }
        if count >= Self.windowSize / 2 {
            try storage.read(pack: pack, offset: offset, count: count, into: dst)
            return
        }
        if window.count != Self.windowSize { window = [UInt8](repeating: 0, count: Self.windowSize) }
        windowPack = ""
        let got = try window.withUnsafeMutableBytes { try storage.readAvailable(pack: pack, offset: offset, count: Self.windowSize, into: $0.baseAddress!) }
        guard got >= count else {
            let p = storage.displayPath(pack)
            throw CairnError(.integrity, "\(p) ends before byte offset \(offset + UInt64(count)); the pack is truncated, run `cairn check`", path: p, offset: offset + UInt64(got))
        }
        windowPack = pack
        windowStart = offset
        windowLength = got
        window.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress!, byteCount: count) }
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
