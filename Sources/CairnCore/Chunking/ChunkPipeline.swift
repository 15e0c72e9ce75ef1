// The content pipeline: read a byte stream into a large reused buffer, cut it with
// FastCDC, then hash (SHA-256), checksum (CRC-32) and LZ4-compress the chunks on all
// cores at once, and hand them in order to the block writer. No per-chunk copies:
// chunks are slices of the read buffer; compressed output goes to a second reused buffer.
//
// Compression is a writer policy (Docs/Format.md, "Compression decision"): per stream, the
// first buffer's blocks are all LZ4-compressed; when they saved less than 1/32 of their size
// together, later buffers compress only one block in `CompressionPolicy.probeEvery` (the
// probe), and compression resumes for every block as soon as the probes shrink again.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Turns byte streams into stored data blocks and their content references.
public final class ChunkPipeline {
    public let chunker: FastCDC
    let writer: BlockWriter
    let bufferSize: Int
    let workers: Int
    private var input: UnsafeMutableRawBufferPointer
    private var output: UnsafeMutableRawBufferPointer
    private let hashers: [SHA256Hasher]
    /// Bytes read from sources since creation.
    public private(set) var bytesRead: UInt64 = 0

    public init(chunker: FastCDC, writer: BlockWriter, bufferSize: Int = 8 << 20, workers: Int = ChunkPipeline.defaultWorkers) {
        self.chunker = chunker
        self.writer = writer
        self.bufferSize = max(bufferSize, chunker.params.maxSize * 2)
        self.workers = max(1, workers)
        input = .allocate(byteCount: self.bufferSize, alignment: 64)
        // Room for LZ4's worst case on every chunk of a full buffer.
        let maxChunks = self.bufferSize / max(1, chunker.params.minSize) + 2
        output = .allocate(byteCount: LZ4.bound(self.bufferSize) + 16 * maxChunks + 64, alignment: 64)
        hashers = (0..<self.workers).map { _ in SHA256Hasher() }
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// Number of processors to use.
    public static var defaultWorkers: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 2
        #endif
    }

    /// Result of one stream.
    public struct Result {
        public var refs: [ContentRef]
        public var length: UInt64
    }

    struct Chunk {
        var offset: Int
        var length: Int
        var id = BlockId(w0: 0, w1: 0, w2: 0, w3: 0)
        var crc: UInt32 = 0
        var outOffset = 0
        var outLength = 0
        /// Whether a worker LZ4-compresses this chunk (else it is stored raw).
        var compress = true
    }

    /// Consumes a stream. `read` fills the buffer it is given and returns 0 at end of input.
    public func process(_ read: (UnsafeMutableRawPointer, Int) throws -> Int) throws -> Result {
        var refs: [ContentRef] = []
        var total: UInt64 = 0
        var filled = 0
        var eof = false
        var chunks: [Chunk] = []
        var policy = CompressionPolicy()
        let maxSize = chunker.params.maxSize
        while true {
            try Cancellation.check()
            while !eof && filled < bufferSize {
                let n = try read(input.baseAddress! + filled, bufferSize - filled)
                if n == 0 { eof = true } else { filled += n; total += UInt64(n) }
            }
            chunks.removeAll(keepingCapacity: true)
            var off = 0
            var outOff = 0
            while off < filled {
                let avail = filled - off
                if !eof && avail < maxSize { break }
                let n = chunker.nextCut(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[off..<filled]))
                chunks.append(Chunk(offset: off, length: n, outOffset: outOff, compress: policy.shouldCompress(chunk: chunks.count)))
                outOff += LZ4.bound(n)
                off += n
            }
            try digest(&chunks)
            var tried = 0, kept = 0
            for c in chunks where c.compress {
                tried += c.length
                kept += (c.outLength > 0 && c.outLength < c.length - c.length / 32) ? c.outLength : c.length
            }
            policy.learn(compressed: tried, stored: kept)
            for c in chunks {
                let raw = UnsafeRawBufferPointer(start: input.baseAddress! + c.offset, count: c.length)
                let comp = UnsafeRawBufferPointer(start: output.baseAddress! + c.outOffset, count: c.outLength)
                try writer.put(id: c.id, kind: .data, raw: raw, compressed: comp, crc: c.crc)
                refs.append(ContentRef(id: c.id, length: UInt64(c.length)))
            }
            if off < filled {
                input.baseAddress!.copyMemory(from: input.baseAddress! + off, byteCount: filled - off)
            }
            filled -= off
            if eof && filled == 0 { break }
        }
        bytesRead += total
        return Result(refs: refs, length: total)
    }

    /// Hashes, checksums and compresses `chunks` on all workers.
    private func digest(_ chunks: inout [Chunk]) throws {
        let count = chunks.count
        if count == 0 { return }
        let inBase = UnsafeRawPointer(input.baseAddress!)
        let outBase = output.baseAddress!
        let hs = hashers
        let bytes = chunks.reduce(0) { $0 + $1.length }
        let w = (count < 4 || bytes < 256 << 10) ? 1 : min(workers, count)
        chunks.withUnsafeMutableBufferPointer { cp in
            let ctx = DigestContext(chunks: cp.baseAddress!, count: count, input: inBase, output: outBase, hashers: hs, stride: w)
            if w == 1 { ctx.run(worker: 0) } else { DispatchQueue.concurrentPerform(iterations: w) { ctx.run(worker: $0) } }
        }
    }

    /// Stores a file's data refs as its content: direct when short, else as content-defined list blocks.
    public func contentRefs(for refs: [ContentRef]) throws -> (refs: [ContentRef], indirect: Bool) {
        if refs.count <= ContentList.directLimit { return (refs, false) }
        var out: [ContentRef] = []
        for g in ContentList.groups(refs) {
            let id = try writer.put(kind: .list, bytes: ContentList.encode(g))
            out.append(ContentRef(id: id, length: g.reduce(0) { $0 + $1.length }))
        }
        return (out, true)
    }
}

/// Shared state of one parallel digest pass. Each worker touches only the chunks
/// `worker, worker + stride, ...` and its own hasher, so the raw pointers are never shared
/// between threads for writing.
private struct DigestContext: @unchecked Sendable {
    let chunks: UnsafeMutablePointer<ChunkPipeline.Chunk>
    let count: Int
    let input: UnsafeRawPointer
    let output: UnsafeMutableRawPointer
    let hashers: [SHA256Hasher]
    let stride: Int

    func run(worker: Int) {
        let h = hashers[worker]
        var i = worker
        while i < count {
            let c = chunks + i
            let raw = UnsafeRawBufferPointer(start: input + c.pointee.offset, count: c.pointee.length)
            c.pointee.id = h.hash(raw)
            c.pointee.crc = CRC32.checksum(raw)
            c.pointee.outLength = c.pointee.compress ? LZ4.compress(raw, into: output + c.pointee.outOffset, capacity: LZ4.bound(c.pointee.length)) : 0
            i += stride
        }
    }
}

/// The per-stream compression decision (a writer policy: the format stores any block raw).
/// Pure bookkeeping over the sizes of blocks already compressed, so it costs nothing per byte.
public struct CompressionPolicy: Sendable {
    /// In a stream found incompressible, one chunk in this many is still compressed as a probe.
    public static let probeEvery = 32
    /// Whether the last buffer's compressed chunks shrank enough to be worth compressing.
    public private(set) var compressing = true

    public init() {}

    /// Whether chunk number `index` of the next buffer is compressed.
    public func shouldCompress(chunk index: Int) -> Bool {
        compressing || index % Self.probeEvery == 0
    }

    /// Updates the decision from a digested buffer: `raw` bytes were compressed and would be
    /// stored as `stored` bytes. Compression stays on while it saved at least 1/32 (the block
    /// writer stores a block raw when it saves less, so compressing such data is wasted work).
    public mutating func learn(compressed raw: Int, stored: Int) {
        if raw > 0 { compressing = stored < raw - raw / 32 }
    }
}
