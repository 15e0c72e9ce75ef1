// cairn-microbench: throughput of the building blocks of a snapshot (issue 7).
//
// Owns: nothing persistent. It reads up to 64 MiB of each input file into memory (or
// synthesises data when none is given), times FastCDC, SHA-256, CRC-32, LZ4 and memcpy
// on it in one thread, the whole ChunkPipeline on all cores, and SQLite index inserts
// and lookups in a temporary repository it removes. Prints a Markdown table on stdout.
// Release builds only make sense: `swift build -c release --product cairn-microbench`.
//
//     cairn-microbench [--seconds S] [FILE...]

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A named, page-aligned sample of input bytes (owned; freed at exit).
struct Sample {
    let name: String
    let bytes: UnsafeMutableRawBufferPointer
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` (which processes `bytesPerCall` bytes) until `seconds` have passed; returns MB/s (10^6).
func rate(seconds: Double, bytesPerCall: Int, _ body: () -> Void) -> Double {
    body()  // warm-up
    var calls = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        body()
        calls += 1
        elapsed = now() - start
    } while elapsed < seconds
    return Double(calls) * Double(bytesPerCall) / elapsed / 1e6
}

func loadSample(_ path: String, limit: Int) -> Sample? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: limit, alignment: 4096)
    var filled = 0
    while filled < limit {
        let n = read(fd, buf.baseAddress! + filled, limit - filled)
        if n <= 0 { break }
        filled += n
    }
    guard filled > 0 else { buf.deallocate(); return nil }
    return Sample(name: (path as NSString).lastPathComponent, bytes: UnsafeMutableRawBufferPointer(rebasing: buf[0..<filled]))
}

/// Pseudo-random but compressible text-like bytes (no input files given).
func syntheticSample(size: Int) -> Sample {
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    let alphabet = Array("etaoin shrdlu cmfwyp vbgkqj xz ETAOIN,.\n".utf8)
    for i in 0..<size {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        buf[i] = alphabet[Int(x % UInt64(alphabet.count))]
    }
    return Sample(name: "synthetic text", bytes: buf)
}

func fmt(_ v: Double, _ unit: String) -> String {
    if v >= 100 { return String(format: "%.0f %@", v, unit) }
    return String(format: "%.1f %@", v, unit)
}

var seconds = 1.0
var paths: [String] = []
var argv = CommandLine.arguments.dropFirst()
while let a = argv.first {
    argv = argv.dropFirst()
    if a == "--seconds", let v = argv.first.flatMap(Double.init) { seconds = v; argv = argv.dropFirst() } else { paths.append(a) }
}

var samples = paths.compactMap { loadSample($0, limit: 64 << 20) }
if samples.isEmpty { samples = [syntheticSample(size: 32 << 20)] }

let params = ChunkerParams.default
let chunker = FastCDC(params)
var rows: [(String, String, String)] = []

for s in samples {
    let data = UnsafeRawBufferPointer(s.bytes)
    let cuts = chunker.cuts(data)
    // memcpy ceiling: copy into a reused destination.
    let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 4096)
    defer { dst.deallocate() }
    rows.append(("memcpy (reused buffer)", s.name, fmt(rate(seconds: seconds, bytesPerCall: data.count) { dst.baseAddress!.copyMemory(from: data.baseAddress!, byteCount: data.count) }, "MB/s")))
    rows.append(("FastCDC \(params.minSize >> 10)/\(params.avgSize >> 10)/\(params.maxSize >> 10) KiB (\(cuts.count) chunks, avg \(data.count / max(1, cuts.count)) B)", s.name,
                 fmt(rate(seconds: seconds, bytesPerCall: data.count) { _ = chunker.cuts(data) }, "MB/s")))
    let hasher = SHA256Hasher()
    func perChunk(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> () -> Void {
        return {
            var off = 0
            for n in cuts {
                body(UnsafeRawBufferPointer(rebasing: data[off..<(off + n)]))
                off += n
            }
        }
    }
    rows.append(("SHA-256 per chunk (OpenSSL EVP)", s.name, fmt(rate(seconds: seconds, bytesPerCall: data.count, perChunk { _ = hasher.hash($0) }), "MB/s")))
    rows.append(("SHA-256 in 1 MiB pieces", s.name, fmt(rate(seconds: seconds, bytesPerCall: data.count) {
        var off = 0
        while off < data.count { let n = min(1 << 20, data.count - off); _ = hasher.hash(UnsafeRawBufferPointer(rebasing: data[off..<(off + n)])); off += n }
    }, "MB/s")))
    rows.append(("CRC-32 per chunk (zlib)", s.name, fmt(rate(seconds: seconds, bytesPerCall: data.count, perChunk { _ = CRC32.checksum($0) }), "MB/s")))
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: LZ4.bound(params.maxSize) * 2, alignment: 64)
    defer { out.deallocate() }
    var compressedTotal = 0
    var off = 0
    for n in cuts { compressedTotal += LZ4.compress(UnsafeRawBufferPointer(rebasing: data[off..<(off + n)]), into: out.baseAddress!, capacity: out.count); off += n }
    rows.append(("LZ4 compress per chunk (ratio \(String(format: "%.3f", Double(compressedTotal) / Double(data.count))))", s.name,
                 fmt(rate(seconds: seconds, bytesPerCall: data.count, perChunk { _ = LZ4.compress($0, into: out.baseAddress!, capacity: out.count) }), "MB/s")))
    // Decompression: compress every chunk once into one buffer, then time decoding all of them.
    let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: LZ4.bound(data.count) + 16 * cuts.count, alignment: 64)
    defer { packed.deallocate() }
    var spans: [(Int, Int, Int)] = []
    off = 0
    var pOff = 0
    for n in cuts {
        let c = LZ4.compress(UnsafeRawBufferPointer(rebasing: data[off..<(off + n)]), into: packed.baseAddress! + pOff, capacity: packed.count - pOff)
        spans.append((pOff, c, n)); pOff += c; off += n
    }
    rows.append(("LZ4 decompress per chunk", s.name, fmt(rate(seconds: seconds, bytesPerCall: data.count) {
        for (p, c, n) in spans { _ = LZ4.decompress(UnsafeRawBufferPointer(start: packed.baseAddress! + p, count: c), into: out.baseAddress!, rawLength: n) }
    }, "MB/s")))
}

// The whole content pipeline (chunk + SHA-256 + CRC-32 + LZ4 on all cores, packs written
// and fsync'd, index rows inserted), over every sample once, in a fresh repository.
let tmp = NSTemporaryDirectory() + "cairn-microbench-\(getpid())"
defer { try? FileManager.default.removeItem(atPath: tmp) }
do {
    let repo = try Repository.create(at: tmp + "/repo")
    let total = samples.reduce(0) { $0 + $1.bytes.count }
    for dry in [true, false] {
        let writer = repo.makeWriter()
        writer.dryRun = dry
        let pipe = ChunkPipeline(chunker: chunker, writer: writer)
        let t0 = now()
        for s in samples {
            var pos = 0
            _ = try pipe.process { dst, cap in
                let n = min(cap, s.bytes.count - pos)
                dst.copyMemory(from: s.bytes.baseAddress! + pos, byteCount: n)
                pos += n
                return n
            }
        }
        try writer.flush()
        let dt = now() - t0
        let label = dry ? "ChunkPipeline, \(ChunkPipeline.defaultWorkers) workers, dry run (no writes)" : "ChunkPipeline, \(ChunkPipeline.defaultWorkers) workers, packs fsync'd + indexed"
        rows.append((label, "all samples", fmt(Double(total) / dt / 1e6, "MB/s")))
    }

    // Index inserts: packs of 2,000 entries (a 16 MiB pack of 8 KiB blocks), 100,000 rows.
    let index = try RepositoryIndex(path: tmp + "/index-bench.sqlite")
    var rng = SystemRandomNumberGenerator()
    func randomId() -> BlockId { BlockId(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }
    let packs = 50, perPack = 2000
    var ids: [BlockId] = []
    ids.reserveCapacity(packs * perPack)
    let t0 = now()
    for p in 0..<packs {
        var entries: [PackEntry] = []
        entries.reserveCapacity(perPack)
        for i in 0..<perPack {
            let id = randomId()
            ids.append(id)
            entries.append(PackEntry(id: id, kind: .data, codec: .lz4, offset: UInt64(8 + i * 8192), storedLength: 4096, rawLength: 8192, crc32: 0))
        }
        try index.addPack(name: String(format: "%032x", p), size: 16 << 20, entries: entries)
    }
    let insertRate = Double(packs * perPack) / (now() - t0)
    rows.append(("RepositoryIndex.addPack (\(perPack) rows per pack, synchronous=FULL)", "\(packs * perPack) rows", fmt(insertRate, "rows/s")))
    let t1 = now()
    var found = 0
    for i in 0..<ids.count {
        if try index.contains(ids[(i &* 7919) % ids.count]) { found += 1 }
    }
    rows.append(("RepositoryIndex.contains (hits)", "\(found) lookups", fmt(Double(ids.count) / (now() - t1), "ops/s")))
    let t2 = now()
    var misses = 0
    for _ in 0..<ids.count {
        if try !index.contains(randomId()) { misses += 1 }
    }
    rows.append(("RepositoryIndex.contains (misses)", "\(misses) lookups", fmt(Double(ids.count) / (now() - t2), "ops/s")))
} catch {
    print("cairn-microbench: \(error)")
    exit(1)
}

print("| operation (one thread unless noted) | input | rate |")
print("|---|---|---|")
for (a, b, c) in rows { print("| \(a) | \(b) | \(c) |") }
for s in samples { s.bytes.deallocate() }
