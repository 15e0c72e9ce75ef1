// Write path for blocks: dedup against the index and the open pack, fill packs,
// seal them durably, then index them in one transaction per pack.
//
// A full pack is written and fsynced on a background thread while the next one fills
// (two buffers, at most one pack in flight), so disk flushes overlap chunking and
// hashing. Its index rows are inserted on the caller's thread only after the background
// write has completed: an index row never names a pack that is not durable. `flush()` is
// the barrier: when it returns, every block put so far is durable and indexed.

#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Counters of what a write session added to the repository.
public struct WriteStats: Sendable, Equatable {
    public var blocksAdded = 0
    public var rawBytesAdded: UInt64 = 0
    public var storedBytesAdded: UInt64 = 0
    public var blocksDeduplicated = 0
    public var packsWritten = 0
    public init() {}
}

/// Accepts blocks, skips those already stored, and writes the rest into packs.
/// Order per pack: pack bytes written and fsynced, then its index rows in one transaction.
public final class BlockWriter {
    let storage: PackStorage
    let index: RepositoryIndex
    let targetSize: Int
    private var buffer: [UInt8] = []
    private var entries: [PackEntry] = []
    private var pending: [BlockId: Int] = [:]
    public private(set) var stats = WriteStats()
    /// Most blocks one pack holds (bounds memory with millions of tiny files).
    static let maxBlocksPerPack = 20_000
    /// When set, blocks are counted as if stored but nothing is written (dry runs).
    public var dryRun = false
    /// On a dry run, the raw bytes of the new tree and list blocks that would have been
    /// written, by id, so a caller can read the would-be manifests (`diff ... live`).
    /// Data blocks are never kept; blocks already in the repository are not copied here.
    public private(set) var dryRunMetaBlocks: [BlockId: [UInt8]] = [:]

    public init(storage: PackStorage, index: RepositoryIndex, targetSize: Int) {
        self.storage = storage
        self.index = index
        self.targetSize = targetSize
        buffer.reserveCapacity(targetSize + (1 << 20))
    }

    deinit {
        // A session that failed with a pack still in flight: the background job (which kept
        // this writer alive) has finished, and no index row names its pack. Remove it so that
        // it does not hold the space, e.g. after ENOSPC.
        if let f = inFlight, ioError == nil { try? storage.remove(f.name) }
    }

    /// True when the block is already stored (in the index or in the open pack).
    public func has(_ id: BlockId) throws -> Bool {
        if pending[id] != nil || inFlight?.ids[id] != nil { return true }
        index.beginReadBatch()
        return try index.contains(id)
    }

    /// Stores one block unless it exists. `compressed` is used when it is smaller enough than `raw`.
    /// Returns true when the block was new.
    @discardableResult
    public func put(id: BlockId, kind: BlockKind, raw: UnsafeRawBufferPointer, compressed: UnsafeRawBufferPointer?, crc: UInt32) throws -> Bool {
        if try has(id) {
            stats.blocksDeduplicated += 1
            return false
        }
        let useCompressed = compressed.map { $0.count > 0 && $0.count < raw.count - raw.count / 32 } ?? false
        let stored = useCompressed ? compressed! : raw
        if dryRun {
            pending[id] = 0
            if kind != .data { dryRunMetaBlocks[id] = Array(raw) }
            stats.blocksAdded += 1
            stats.rawBytesAdded += UInt64(raw.count)
            stats.storedBytesAdded += UInt64(stored.count)
            return true
        }
        if buffer.isEmpty { buffer.append(contentsOf: PackFormat.headerMagic) }
        let entry = PackEntry(id: id, kind: kind, codec: useCompressed ? .lz4 : .none, offset: UInt64(buffer.count),
                              storedLength: UInt32(stored.count), rawLength: UInt32(raw.count), crc32: crc)
        buffer.append(contentsOf: stored)
        pending[id] = entries.count
        entries.append(entry)
        stats.blocksAdded += 1
        stats.rawBytesAdded += UInt64(raw.count)
        stats.storedBytesAdded += UInt64(stored.count)
        // Packs are sealed at the target size, or earlier when they hold many tiny blocks, so
        // the per-pack id tables (open and in flight) stay small whatever the file sizes.
        if buffer.count >= targetSize || entries.count >= Self.maxBlocksPerPack { try seal() }
        return true
    }

    /// Convenience for small metadata blocks (trees, lists): hashes, compresses and stores.
    @discardableResult
    public func put(kind: BlockKind, bytes: [UInt8]) throws -> BlockId {
        try bytes.withUnsafeBytes { raw in
            let id = BlockId.hash(raw)
            if try has(id) { stats.blocksDeduplicated += 1; return id }
            let cap = LZ4.bound(raw.count)
            var out = [UInt8](repeating: 0, count: cap)
            let n = out.withUnsafeMutableBytes { LZ4.compress(raw, into: $0.baseAddress!, capacity: cap) }
            _ = try out.withUnsafeBytes { c in
                try put(id: id, kind: kind, raw: raw, compressed: UnsafeRawBufferPointer(rebasing: c[0..<n]), crc: CRC32.checksum(raw))
            }
            return id
        }
    }

    /// A sealed pack being written in the background.
    private struct InFlight {
        var name: String
        var size: UInt64
        var entries: [PackEntry]
        var ids: [BlockId: Int]
    }
    private var inFlight: InFlight?
    private var spare: [UInt8] = []
    private let io = DispatchQueue(label: "cairn.pack-writer")
    private let done = DispatchSemaphore(value: 0)
    private nonisolated(unsafe) var ioError: Error?

    /// Seals the open pack and starts writing it in the background (after the previous
    /// in-flight pack has been written and indexed).
    func seal() throws {
        guard !entries.isEmpty else { return }
        try finishInFlight()
        buffer.append(contentsOf: PackFormat.encodeTrailer(entries))
        var rnd = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { rnd[i] = UInt8.random(in: 0...255) }
        let name = Hex.encode(rnd)
        let bytes = buffer
        inFlight = InFlight(name: name, size: UInt64(bytes.count), entries: entries, ids: pending)
        // The next pack fills the spare buffer while this one is written.
        swap(&buffer, &spare)
        buffer.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        let job = PackJob(writer: self, name: name, bytes: bytes, entries: inFlight?.entries ?? [])
        io.async { job.run() }
    }

    /// The background half of `seal`: the caller's thread does not touch `ioError` or
    /// `storage` writes until `done` is signalled, so handing them over is safe.
    private struct PackJob: @unchecked Sendable {
        let writer: BlockWriter
        let name: String
        let bytes: [UInt8]
        let entries: [PackEntry]
        func run() {
            // The pack is durable before its index object names it; a failed index object put
            // removes the pack again (nothing names it, it would only hold the space).
            do {
                try bytes.withUnsafeBytes { try writer.storage.writePack(name: name, bytes: $0) }
                do { try writer.storage.writeIndex(pack: name, size: UInt64(bytes.count), entries: entries) } catch {
                    try? writer.storage.remove(name)
                    throw error
                }
            } catch { writer.ioError = error }
            writer.done.signal()
        }
    }

    /// Waits for the in-flight pack (if any), then indexes its blocks.
    private func finishInFlight() throws {
        guard let f = inFlight else { return }
        done.wait()
        inFlight = nil
        if let e = ioError { ioError = nil; throw e }
        do { try index.addPack(name: f.name, size: f.size, entries: f.entries) } catch {
            // No index row names the pack (the transaction rolled back): remove it at once so
            // that it does not keep the space (a full disk) until the next prune.
            try? storage.remove(f.name)
            throw error
        }
        stats.packsWritten += 1
    }

    /// Seals the open pack (if any), waits until every pack is durable, and indexes their blocks.
    public func flush() throws {
        if dryRun { pending.removeAll(); index.endReadBatch(); return }
        try seal()
        try finishInFlight()
        index.endReadBatch()
    }

    /// Drops the open pack without writing it (after a failure).
    public func discard() {
        if let f = inFlight {
            done.wait()
            // A pack written but not indexed: no index row names it, so nothing can use it; it goes now.
            if ioError == nil { try? storage.remove(f.name) }
            inFlight = nil
            ioError = nil
        }
        buffer.removeAll()
        entries.removeAll()
        pending.removeAll()
        index.endReadBatch()
    }
}
