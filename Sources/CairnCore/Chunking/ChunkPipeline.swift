// The content pipeline: read a byte stream into two large reused buffers, cut it with
// FastCDC, then hash (SHA-256), check dedup, checksum (CRC-32) and LZ4-compress the chunks
// on all cores, and hand them in order to the block writer. No per-chunk copies: chunks
// are slices of the read buffers; compressed output goes to a third reused buffer.
//
// Overlap: while the workers digest buffer N (a background job), the caller's thread reads
// and cuts buffer N+1; then it stores N's blocks and starts N+1's job. The tail of N that
// FastCDC could not cut yet (< maxSize) is copied to the head of N+1 before N+1 is read.
// A digest runs in three steps: hash every chunk (all workers), look each id up (one thread:
// the writer's index is not shared), then CRC-32 and LZ4 only the chunks not yet stored, so
// a block already in the repository (or earlier in the same buffer) is never compressed.
// The caller's thread never touches the writer while a job runs (see `DigestJob`).
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
    /// The two read buffers (filled and cut alternately).
    private let inputs: [UnsafeMutableRawBufferPointer]
    /// The chunk tables of the two buffers (room for a full buffer of minimum-size chunks).
    private let tables: [UnsafeMutablePointer<Chunk>]
    private let tableCapacity: Int
    private let output: UnsafeMutableRawBufferPointer
    private let hashers: [SHA256Hasher]
    /// Bytes read from sources since creation.
    public private(set) var bytesRead: UInt64 = 0
    /// Bytes given to LZ4 since creation (blocks already stored are never compressed).
    public private(set) var bytesCompressed: UInt64 = 0

    /// `bufferSize` is the size of each of the two read buffers.
    public init(chunker: FastCDC, writer: BlockWriter, bufferSize: Int = 4 << 20, workers: Int = ChunkPipeline.defaultWorkers) {
        self.chunker = chunker
        self.writer = writer
        self.bufferSize = max(bufferSize, chunker.params.maxSize * 2)
        self.workers = max(1, workers)
        inputs = (0..<2).map { _ in .allocate(byteCount: max(bufferSize, chunker.params.maxSize * 2), alignment: 64) }
        let maxChunks = self.bufferSize / max(1, chunker.params.minSize) + 2
        tableCapacity = maxChunks
        tables = (0..<2).map { _ in .allocate(capacity: maxChunks) }
        // Room for LZ4's worst case on every chunk of a full buffer.
        output = .allocate(byteCount: LZ4.bound(self.bufferSize) + 16 * maxChunks + 64, alignment: 64)
        hashers = (0..<self.workers).map { _ in SHA256Hasher() }
    }

    deinit {
        for b in inputs { b.deallocate() }
        for t in tables { t.deallocate() }
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
        /// Set by the digest when the block is already stored (no CRC, no compression done).
        var known = false
    }

    /// Consumes a stream. `read` fills the buffer it is given and returns 0 at end of input.
    public func process(_ read: (UnsafeMutableRawPointer, Int) throws -> Int) throws -> Result {
        var refs: [ContentRef] = []
        var total: UInt64 = 0
        var filled = 0
        var eof = false
        var policy = CompressionPolicy()
        var cur = 0
        var running: DigestJob?
        // On an error the job still reads the buffers: wait for it before they are reused.
        defer { running?.done?.wait() }
        let maxSize = chunker.params.maxSize
        while true {
            try Cancellation.check()
            let input = inputs[cur]
            while !eof && filled < bufferSize {
                let n = try read(input.baseAddress! + filled, bufferSize - filled)
                if n == 0 { eof = true } else { filled += n; total += UInt64(n) }
            }
            let table = tables[cur]
            var count = 0
            var off = 0
            var outOff = 0
            while off < filled {
                let avail = filled - off
                if !eof && avail < maxSize { break }
                let n = chunker.nextCut(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[off..<filled]))
                precondition(count < tableCapacity)
                (table + count).initialize(to: Chunk(offset: off, length: n, outOffset: outOff))
                count += 1
                outOff += LZ4.bound(n)
                off += n
            }
            // The other buffer's job must be done (and its blocks stored) before its buffer
            // takes this one's tail and the output buffer is reused.
            if let job = running {
                running = nil
                try store(job, refs: &refs, policy: &policy)
            }
            let tail = filled - off
            if tail > 0 { inputs[1 - cur].baseAddress!.copyMemory(from: input.baseAddress! + off, byteCount: tail) }
            for i in 0..<count { table[i].compress = policy.shouldCompress(chunk: i) }
            let job = DigestJob(chunks: table, count: count, input: UnsafeRawPointer(input.baseAddress!), output: output.baseAddress!,
                                hashers: hashers, workers: workers, writer: writer, background: !eof)
            if eof {
                // Nothing left to overlap with: digest on this thread.
                job.run()
                try store(job, refs: &refs, policy: &policy)
                break
            }
            running = job
            DispatchQueue.global().async { job.run() }
            cur = 1 - cur
            filled = tail
        }
        bytesRead += total
        return Result(refs: refs, length: total)
    }

    /// Waits for a digest job, learns the compression decision from it, and stores its blocks in order.
    private func store(_ job: DigestJob, refs: inout [ContentRef], policy: inout CompressionPolicy) throws {
        job.done?.wait()
        if let e = job.error { throw e }
        var tried = 0, kept = 0
        for i in 0..<job.count where job.chunks[i].compress && !job.chunks[i].known {
            let c = job.chunks[i]
            tried += c.length
            kept += (c.outLength > 0 && c.outLength < c.length - c.length / 32) ? c.outLength : c.length
        }
        policy.learn(compressed: tried, stored: kept)
        bytesCompressed += UInt64(tried)
        for i in 0..<job.count {
            var c = job.chunks[i]
            let raw = UnsafeRawBufferPointer(start: job.input + c.offset, count: c.length)
            refs.append(ContentRef(id: c.id, length: UInt64(c.length)))
            if c.known {
                if try writer.deduplicate(c.id) { continue }
                // Not stored after all (cannot happen within one session; stay correct): store it raw.
                c.crc = CRC32.checksum(raw)
                c.outLength = 0
            }
            let comp = UnsafeRawBufferPointer(start: job.output + c.outOffset, count: c.outLength)
            try writer.put(id: c.id, kind: .data, raw: raw, compressed: comp, crc: c.crc)
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

/// One buffer's digest. Threads: `run` executes on one thread (a background one, or the
/// caller's for the last buffer) and fans out to the workers; each worker touches only the
/// chunks `worker, worker + stride, ...` and its own hasher. The dedup lookups use the
/// writer from `run`'s thread alone: the caller's thread does not use the writer (or the
/// chunk table, or the output buffer) until `done` is signalled, so the unchecked
/// sendability is confined to that hand-over.
private final class DigestJob: @unchecked Sendable {
    let chunks: UnsafeMutablePointer<ChunkPipeline.Chunk>
    let count: Int
    let input: UnsafeRawPointer
    let output: UnsafeMutableRawPointer
    let hashers: [SHA256Hasher]
    let workers: Int
    let writer: BlockWriter
    /// Signalled when a background run ends (nil for a run on the caller's thread: no
    /// semaphore per small file).
    let done: DispatchSemaphore?
    var error: Error?

    init(chunks: UnsafeMutablePointer<ChunkPipeline.Chunk>, count: Int, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
         hashers: [SHA256Hasher], workers: Int, writer: BlockWriter, background: Bool) {
        done = background ? DispatchSemaphore(value: 0) : nil
        self.chunks = chunks
        self.count = count
        self.input = input
        self.output = output
        self.hashers = hashers
        self.workers = workers
        self.writer = writer
    }

    func run() {
        defer { done?.signal() }
        if count == 0 { return }
        var bytes = 0
        for i in 0..<count { bytes += chunks[i].length }
        let w = (count < 4 || bytes < 256 << 10) ? 1 : min(workers, count)
        fanOut(w, compress: false)
        do {
            // Repeats within the buffer (a set only when there are several chunks).
            var seen = Set<BlockId>(minimumCapacity: count > 1 ? count : 0)
            for i in 0..<count {
                let repeated = count > 1 && !seen.insert(chunks[i].id).inserted
                chunks[i].known = try repeated || writer.has(chunks[i].id)
            }
        } catch {
            self.error = error
            return
        }
        fanOut(w, compress: true)
    }

    /// Hashes (`compress` false) or checksums and compresses the new chunks (`compress` true),
    /// spread over `w` workers (interleaved).
    private func fanOut(_ w: Int, compress: Bool) {
        if w == 1 { part(0, of: w, compress: compress) } else {
            DispatchQueue.concurrentPerform(iterations: w) { self.part($0, of: w, compress: compress) }
        }
    }

    private func part(_ worker: Int, of w: Int, compress: Bool) {
        var i = worker
        while i < count {
            let c = chunks + i
            let raw = UnsafeRawBufferPointer(start: input + c.pointee.offset, count: c.pointee.length)
            if !compress {
                c.pointee.id = hashers[worker].hash(raw)
            } else if !c.pointee.known {
                c.pointee.crc = CRC32.checksum(raw)
                c.pointee.outLength = c.pointee.compress ? LZ4.compress(raw, into: output + c.pointee.outOffset, capacity: LZ4.bound(c.pointee.length)) : 0
            }
            i += w
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
