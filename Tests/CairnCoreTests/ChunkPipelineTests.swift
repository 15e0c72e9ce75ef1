import CairnCore
import CairnTestSupport
import Testing

/// The overlapped pipeline (read and cut buffer N+1 while N is digested) against the plain
/// definition: FastCDC over the whole stream, SHA-256 per chunk; and the dedup check that
/// runs before compression.
@Suite struct ChunkPipelineTests {
    /// Compressible but not trivial bytes: words drawn from a small seeded vocabulary.
    static func text(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededBytes(seed: seed)
        let words = (0..<64).map { i in Array("w\(i)x\(rng.int(1000)) ".utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(n + 16)
        while out.count < n { out += words[rng.int(words.count)] }
        return Array(out[0..<n])
    }

    /// Feeds `data` to the pipeline in reads of at most `step` bytes.
    static func feed(_ p: ChunkPipeline, _ data: [UInt8], step: Int) throws -> ChunkPipeline.Result {
        var pos = 0
        return try p.process { dst, cap in
            let n = min(cap, step, data.count - pos)
            data.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress! + pos, byteCount: n) }
            pos += n
            return n
        }
    }

    /// Runs `body` with a new repository, its writer and a pipeline with the smallest buffers
    /// it allows (2 x maxSize = 128 KiB, so a few MiB span many buffers).
    static func withPipeline(bufferSize: Int = 1, _ body: (Repository, BlockWriter, ChunkPipeline) throws -> Void) throws {
        let dir = TempDir()
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.sub("repo"))
        let writer = repo.makeWriter()
        try body(repo, writer, ChunkPipeline(chunker: FastCDC(.default), writer: writer, bufferSize: bufferSize))
    }

    @Test func overlappedBuffersCutAndHashLikeTheDefinition() throws { try Self.withPipeline { repo, writer, pipe in
        var rng = SeededBytes(seed: 11)
        let data = Self.text(1 << 20, seed: 3) + rng.bytes(1 << 20) + Self.text(1 << 20, seed: 4) + [1, 2, 3]
        let r = try Self.feed(pipe, data, step: 7777)
        try writer.flush()
        #expect(r.length == UInt64(data.count))
        let cuts = FastCDC(.default).cuts(data)
        #expect(r.refs.map { Int($0.length) } == cuts)
        var off = 0
        let reader = repo.makeReader()
        var back: [UInt8] = []
        for (ref, n) in zip(r.refs, cuts) {
            let chunk = Array(data[off..<off + n])
            #expect(ref.id == chunk.withUnsafeBytes { BlockId.hash($0) })
            try reader.read(ref.id, into: &back)
            #expect(back == chunk)
            // The CRC-32 recorded for export is the chunk's.
            #expect(try repo.index.lookup(ref.id)?.entry.crc32 == chunk.withUnsafeBytes { CRC32.checksum($0) })
            off += n
        }
        #expect(pipe.bytesRead == UInt64(data.count))
    } }

    @Test func storedBlocksAreNeverCompressedAgain() throws { try Self.withPipeline { _, writer, pipe in
        // The same 300 KiB of text four times: after the first copy the cuts resynchronise,
        // so most chunks of copies 2-4 repeat chunks of copy 1 (in the same buffer or an earlier one).
        let unit = Self.text(300 << 10, seed: 9)
        let data = unit + unit + unit + unit
        let r = try Self.feed(pipe, data, step: 1 << 20)
        try writer.flush()
        var distinct = Set<BlockId>()
        var newBytes: UInt64 = 0
        for ref in r.refs where distinct.insert(ref.id).inserted { newBytes += ref.length }
        #expect(newBytes < UInt64(data.count) / 2)
        // Compressible text: every new chunk is compressed once, no duplicate ever.
        #expect(pipe.bytesCompressed == newBytes)
        #expect(writer.stats.blocksAdded == distinct.count)
        #expect(writer.stats.blocksDeduplicated == r.refs.count - distinct.count)
        // A second pass over stored data compresses nothing and adds nothing.
        let again = try Self.feed(pipe, data, step: 4096)
        try writer.flush()
        #expect(again.refs == r.refs)
        #expect(pipe.bytesCompressed == newBytes)
        #expect(writer.stats.blocksAdded == distinct.count)
    } }

    @Test func emptyAndTinyStreams() throws { try Self.withPipeline(bufferSize: 4 << 20) { repo, writer, pipe in
        let empty = try Self.feed(pipe, [], step: 10)
        #expect(empty.refs.isEmpty && empty.length == 0)
        let tiny = try Self.feed(pipe, [7, 7, 7], step: 1)
        try writer.flush()
        #expect(tiny.refs.count == 1 && tiny.length == 3)
        var back: [UInt8] = []
        try repo.makeReader().read(tiny.refs[0].id, into: &back)
        #expect(back == [7, 7, 7])
    } }
}
