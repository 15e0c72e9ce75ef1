// Index-row fuzzing: a real SQLite index in a scratch directory receives rows whose every
// column comes from the fuzzer (any integer, including negative and huge values, NULLs, and
// text where integers belong), then every function that turns rows into values runs.

#if canImport(Glibc)
import Glibc
#endif

enum FuzzIndex {
    nonisolated(unsafe) private static var index: RepositoryIndex?
    nonisolated(unsafe) private static var dir: String?

    /// The shared scratch index, emptied before each input.
    private static func fresh() -> RepositoryIndex? {
        if index == nil {
            let d = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/cairn-fuzz-index-\(getpid())"
            guard mkdir(d, 0o700) == 0 || errno == EEXIST else { return nil }
            unlink(d + "/index.sqlite")
            dir = d
            index = try? RepositoryIndex(path: d + "/index.sqlite")
            // Durability is not under test: without fsyncs the harness runs ~100x faster.
            try? index?.db.exec("PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY;")
        }
        guard let index, (try? index.db.exec("DELETE FROM blocks; DELETE FROM packs; DELETE FROM snapshots;")) != nil else { return nil }
        return index
    }

    static func run(_ data: [UInt8]) {
        guard let index = fresh() else { return }
        var r = FuzzBytes(data)
        let rows = Int(r.u8() % 8)
        var ids: [BlockId] = []
        for _ in 0..<rows {
            guard let p = try? index.db.prepare("INSERT OR IGNORE INTO packs(id, name, size, blocks) VALUES(?,?,?,?)") else { return }
            p.bind(1, r.i64()); p.bind(2, r.u8() & 1 == 0 ? nil : String(decoding: r.bytes(Int(r.u8() % 80)), as: UTF8.self))
            p.bind(3, r.i64()); p.bind(4, r.i64())
            _ = try? p.run()
            let id = BlockId(r.bytes(32))
            ids.append(id)
            guard let b = try? index.db.prepare("INSERT OR IGNORE INTO blocks(id, pack, offset, stored, raw, kind, codec, crc) VALUES(?,?,?,?,?,?,?,?)") else { return }
            b.bind(1, id)
            for col in 2...8 { b.bind(Int32(col), r.i64()) }
            _ = try? b.run()
        }
        for id in ids { _ = try? index.lookup(id); _ = try? index.contains(id) }
        _ = try? index.packList()
        _ = try? index.forEachBlock { _ in }
        _ = try? index.blockTotals()
    }
}

/// Reads fuzzer bytes as a stream of values; past the end every read is zero.
struct FuzzBytes {
    let data: [UInt8]
    var position = 0
    init(_ data: [UInt8]) { self.data = data }

    mutating func u8() -> UInt8 {
        guard position < data.count else { return 0 }
        defer { position += 1 }
        return data[position]
    }

    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in u8() } }

    /// A 64-bit value, biased towards the edges (0, -1, min, max, 2^32) that break conversions.
    mutating func i64() -> Int64 {
        switch u8() % 8 {
        case 0: return 0
        case 1: return -1
        case 2: return .min
        case 3: return .max
        case 4: return 1 << 32
        default: return bytes(8).reduce(0) { $0 << 8 | Int64($1) }
        }
    }
}
