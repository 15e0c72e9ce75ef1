// Deflate on all cores, pigz-style: the stream is cut into 128 KiB blocks; each is
// compressed by its own zlib stream, primed with the 32 KiB of input before it as its
// dictionary (deflateSetDictionary), and ended with a sync flush (an empty stored block,
// so it ends on a byte boundary); the last block of the stream ends with Z_FINISH (BFINAL).
// The concatenation is one valid raw Deflate stream (RFC 1951): blocks only refer back
// into the preceding 32 KiB, which a decoder has. Output is a pure function of the input,
// the level and the block size (never of the number of workers or of timing).
//
// Overlap: input is gathered into a batch of blocks; while the workers compress batch N
// (a background job), the caller fills batch N+1. Compressed bytes are handed to `emit`
// on the caller's thread, in order, before the next batch starts. Memory: two batches
// (1 MiB each with 2 workers, plus 32 KiB of history), one output slot per block, one
// zlib stream per worker.

import CZlib
import Dispatch

/// Raw Deflate of one stream at a time, compressed in independent blocks on all cores.
final class ParallelDeflate {
    static let blockSize = 128 << 10
    static let window = 32 << 10
    let workers: Int
    let blocksPerBatch: Int
    private var level: Int32
    private var streams: [UnsafeMutablePointer<z_stream>] = []
    private let outCapacity: Int
    /// Two batch buffers: `window` bytes of history, then `blocksPerBatch` blocks.
    private let buffers: [UnsafeMutableRawPointer]
    private let outputs: UnsafeMutableRawPointer
    private let outLengths: UnsafeMutablePointer<Int>
    private var current = 0
    private var filled = 0
    /// History bytes (at most `window`) just before the current batch's data.
    private var history = 0
    private var started = false
    private var running: DeflateJob?

    init(level: Int32, workers: Int = ChunkPipeline.defaultWorkers) throws {
        self.level = max(0, min(9, level))
        self.workers = max(1, workers)
        let blocks = 4 * self.workers
        blocksPerBatch = blocks
        // deflateBound for a block plus the sync-flush marker and a margin.
        let cap = Self.blockSize + Self.blockSize >> 10 * 5 + 1024
        outCapacity = cap
        buffers = (0..<2).map { _ in .allocate(byteCount: Self.window + blocks * Self.blockSize, alignment: 64) }
        outputs = .allocate(byteCount: blocks * cap, alignment: 64)
        outLengths = .allocate(capacity: blocks)
        outLengths.initialize(repeating: 0, count: blocks)
        try makeStreams()
    }

    deinit {
        running?.done.wait()
        freeStreams()
        for b in buffers { b.deallocate() }
        outputs.deallocate()
        outLengths.deallocate()
    }

    private func makeStreams() throws {
        for _ in 0..<workers {
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            let rc = deflateInit2_(z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            if rc != Z_OK {
                z.deallocate()
                throw CairnError(.internalError, "zlib deflateInit2 failed (\(rc)); the process may be out of memory")
            }
            streams.append(z)
        }
    }

    private func freeStreams() {
        for z in streams { deflateEnd(z); z.deallocate() }
        streams.removeAll()
    }

    /// Starts a new stream at `level` (0-9). The previous stream must have been finished.
    func begin(level: Int32) throws {
        let l = max(0, min(9, level))
        filled = 0
        history = 0
        started = false
        if l != self.level {
            freeStreams()
            self.level = l
            try makeStreams()
        }
    }

    /// Adds input; returns the compressed bytes handed to `emit` meanwhile.
    func write(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        started = true
        let capacity = blocksPerBatch * Self.blockSize
        var produced: UInt64 = 0
        var off = 0
        while off < bytes.count {
            // A full batch is compressed only once more input shows it is not the last one.
            if filled == capacity { produced += try dispatch(last: false, emit: emit) }
            let m = min(capacity - filled, bytes.count - off)
            (buffers[current] + Self.window + filled).copyMemory(from: base + off, byteCount: m)
            filled += m
            off += m
        }
        return produced
    }

    /// Ends the stream (the final block gets BFINAL); returns the compressed bytes emitted.
    func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        defer { filled = 0; history = 0; started = false }
        if !started {
            // The empty stream: one final fixed-Huffman block holding only end-of-block.
            let empty: [UInt8] = [0x03, 0x00]
            try empty.withUnsafeBytes { try emit($0) }
            return 2
        }
        return try dispatch(last: true, emit: emit)
    }

    /// Waits for the running job and emits its output, then compresses the current batch
    /// (on this thread when it is the last one, else in the background) and moves on to
    /// the other buffer, carrying the history over.
    private func dispatch(last: Bool, emit: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        var produced = try drain(emit: emit)
        let data = buffers[current] + Self.window
        let job = DeflateJob(input: UnsafeRawPointer(data), count: filled, history: history, last: last, streams: streams,
                             outputs: outputs, outCapacity: outCapacity, outLengths: outLengths)
        if last {
            job.run()
            running = job
            produced += try drain(emit: emit)
            return produced
        }
        running = job
        DispatchQueue.global().async { job.run() }
        let next = 1 - current
        let carry = min(Self.window, history + filled)
        (buffers[next] + Self.window - carry).copyMemory(from: data + filled - carry, byteCount: carry)
        history = carry
        current = next
        filled = 0
        return produced
    }

    /// Waits for the running job (if any) and emits its blocks in order.
    private func drain(emit: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        guard let job = running else { return 0 }
        job.done.wait()
        running = nil
        if let e = job.error { throw e }
        var produced: UInt64 = 0
        for b in 0..<job.blocks {
            try emit(UnsafeRawBufferPointer(start: outputs + b * outCapacity, count: outLengths[b]))
            produced += UInt64(outLengths[b])
        }
        return produced
    }
}

/// One batch's compression. Worker `i` uses zlib stream `i` and writes only the output
/// slots of blocks `i, i + w, ...`; the caller's thread touches neither the batch buffer's
/// data, the streams nor the output slots until `done` is signalled, so the unchecked
/// sendability is confined to that hand-over.
private final class DeflateJob: @unchecked Sendable {
    let input: UnsafeRawPointer
    let count: Int
    let history: Int
    let last: Bool
    let streams: [UnsafeMutablePointer<z_stream>]
    let outputs: UnsafeMutableRawPointer
    let outCapacity: Int
    let outLengths: UnsafeMutablePointer<Int>
    let blocks: Int
    let done = DispatchSemaphore(value: 0)
    var error: Error?

    init(input: UnsafeRawPointer, count: Int, history: Int, last: Bool, streams: [UnsafeMutablePointer<z_stream>],
         outputs: UnsafeMutableRawPointer, outCapacity: Int, outLengths: UnsafeMutablePointer<Int>) {
        self.input = input
        self.count = count
        self.history = history
        self.last = last
        self.streams = streams
        self.outputs = outputs
        self.outCapacity = outCapacity
        self.outLengths = outLengths
        blocks = (count + ParallelDeflate.blockSize - 1) / ParallelDeflate.blockSize
        failed = .allocate(capacity: max(1, streams.count))
        failed.initialize(repeating: Z_OK, count: max(1, streams.count))
    }

    deinit { failed.deallocate() }

    func run() {
        defer { done.signal() }
        let w = max(1, min(streams.count, blocks))
        if w == 1 { part(0, of: 1) } else { DispatchQueue.concurrentPerform(iterations: w) { self.part($0, of: w) } }
        for i in 0..<w where failed[i] != Z_OK {
            error = CairnError(.internalError, "zlib deflate failed (\(failed[i])) in a parallel block; this is a bug in Cairn, please report it")
            return
        }
    }

    /// Per-worker zlib results of `run` (each worker writes only its own slot).
    private let failed: UnsafeMutablePointer<Int32>

    /// Worker `worker` of `w`: blocks `worker, worker + w, ...` with stream `worker`.
    private func part(_ worker: Int, of w: Int) {
        var b = worker
        while b < blocks {
            let rc = block(b, streams[worker])
            if rc != Z_OK { failed[worker] = rc; return }
            b += w
        }
    }

    /// Compresses block `b` with stream `z`; Z_OK when it fitted and ended as asked.
    private func block(_ b: Int, _ z: UnsafeMutablePointer<z_stream>) -> Int32 {
        let start = b * ParallelDeflate.blockSize
        let n = min(ParallelDeflate.blockSize, count - start)
        var rc = deflateReset(z)
        if rc != Z_OK { return rc }
        let dict = min(ParallelDeflate.window, history + start)
        if dict > 0 {
            rc = deflateSetDictionary(z, (input + start - dict).assumingMemoryBound(to: Bytef.self), uInt(dict))
            if rc != Z_OK { return rc }
        }
        let final = last && b == blocks - 1
        z.pointee.next_in = UnsafeMutablePointer(mutating: (input + start).assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(n)
        z.pointee.next_out = (outputs + b * outCapacity).assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_out = uInt(outCapacity)
        rc = deflate(z, final ? Z_FINISH : Z_SYNC_FLUSH)
        outLengths[b] = outCapacity - Int(z.pointee.avail_out)
        if final { return rc == Z_STREAM_END ? Z_OK : Z_BUF_ERROR }
        return rc == Z_OK && z.pointee.avail_in == 0 && z.pointee.avail_out > 0 ? Z_OK : Z_BUF_ERROR
    }
}
