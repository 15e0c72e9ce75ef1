// Chunking: content-defined chunking (FastCDC with normalized chunking).
//
// Owns: where a byte stream is cut into blocks. Pure functions over bytes: no I/O,
// no state beyond the gear table, so the same input always yields the same cuts
// (the repository's dedup depends on it). The parameters and the gear seed are
// recorded in the repository config; changing either is a format change. Encrypted
// repositories derive the gear table from their chunker key instead (MasterKey.swift).

/// FastCDC parameters, recorded in the repository config.
public struct ChunkerParams: Codable, Sendable, Equatable {
    /// Algorithm name as written in the config.
    public var name: String
    public var minSize: Int
    public var avgSize: Int
    public var maxSize: Int
    /// Normalization level: extra mask bits below the average size, fewer above.
    public var normalization: Int
    /// Seed of the SplitMix64 generator that fills the gear table.
    public var gearSeed: UInt64

    /// The default chosen by measurement (Docs/Format.md, "Chunk sizes").
    public static let `default` = ChunkerParams(name: "fastcdc-normalized", minSize: 2 << 10, avgSize: 8 << 10, maxSize: 64 << 10, normalization: 2, gearSeed: 0x43_41_49_52_4E_00_01)

    public init(name: String, minSize: Int, avgSize: Int, maxSize: Int, normalization: Int, gearSeed: UInt64) {
        self.name = name
        self.minSize = minSize
        self.avgSize = avgSize
        self.maxSize = maxSize
        self.normalization = normalization
        self.gearSeed = gearSeed
    }

    /// Checks the invariants the chunker relies on.
    public func validate() throws {
        guard name == "fastcdc-normalized", minSize >= 64, minSize < avgSize, avgSize < maxSize,
              maxSize <= 16 << 20, avgSize & (avgSize - 1) == 0, (0...4).contains(normalization) else {
            throw CairnError(.unsupportedFormat, "chunker \(name) \(minSize)/\(avgSize)/\(maxSize) is not supported by this version of cairn")
        }
    }
}

/// FastCDC with normalized chunking over a gear rolling hash.
public struct FastCDC: Sendable {
    public let params: ChunkerParams
    let gear: [UInt64]
    let maskS: UInt64
    let maskL: UInt64

    public init(_ params: ChunkerParams) {
        self.init(params, gear: FastCDC.seededGear(params.gearSeed))
    }

    /// A chunker over a given 256-entry gear table (the keyed table: Encryption/MasterKey.swift).
    init(_ params: ChunkerParams, gear: [UInt64]) {
        precondition(gear.count == 256, "a gear table has 256 entries")
        self.params = params
        self.gear = gear
        let bits = params.avgSize.trailingZeroBitCount
        // Masks use the high bits of the fingerprint: they depend on the last 64 bytes.
        func topMask(_ n: Int) -> UInt64 { n <= 0 ? 0 : (~UInt64(0)) << UInt64(64 - n) }
        maskS = topMask(bits + params.normalization)
        maskL = topMask(bits - params.normalization)
    }

    /// The public gear table: SplitMix64 from `seed` (Docs/Format.md, "Chunking").
    static func seededGear(_ seed: UInt64) -> [UInt64] {
        var g = [UInt64](repeating: 0, count: 256)
        var state = seed
        for i in 0..<256 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            g[i] = z ^ (z >> 31)
        }
        return g
    }

    /// Length of the next chunk at the start of `data`. When `data.count < maxSize` the caller
    /// must be at end of input; otherwise it must pass at least `maxSize` bytes.
    public func nextCut(_ data: UnsafeRawBufferPointer) -> Int {
        var n = data.count
        if n <= params.minSize { return n }
        if n > params.maxSize { n = params.maxSize }
        let normal = min(n, params.avgSize)
        guard let base = data.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return n }
        return gear.withUnsafeBufferPointer { gb -> Int in
            // Raw pointers, no bounds checks in the hot loop; 8 bytes per round trip of the
            // loop counter (the same cuts as one byte at a time, fewer instructions per byte).
            let g = gb.baseAddress!
            var fp: UInt64 = 0
            var i = params.minSize
            @inline(__always) func step(_ j: Int, _ mask: UInt64) -> Bool {
                fp = (fp << 1) &+ g[Int(base[j])]
                return fp & mask == 0
            }
            @inline(__always) func scan(to end: Int, _ mask: UInt64) -> Int? {
                while i &+ 8 <= end {
                    if step(i, mask) { return i &+ 1 }
                    if step(i &+ 1, mask) { return i &+ 2 }
                    if step(i &+ 2, mask) { return i &+ 3 }
                    if step(i &+ 3, mask) { return i &+ 4 }
                    if step(i &+ 4, mask) { return i &+ 5 }
                    if step(i &+ 5, mask) { return i &+ 6 }
                    if step(i &+ 6, mask) { return i &+ 7 }
                    if step(i &+ 7, mask) { return i &+ 8 }
                    i &+= 8
                }
                while i < end {
                    if step(i, mask) { return i &+ 1 }
                    i &+= 1
                }
                return nil
            }
            if let cut = scan(to: normal, maskS) { return cut }
            return scan(to: n, maskL) ?? n
        }
    }

    /// All cut lengths of a complete buffer (convenience for tests and small inputs).
    public func cuts(_ data: UnsafeRawBufferPointer) -> [Int] {
        var out: [Int] = []
        var off = 0
        while off < data.count {
            let n = nextCut(UnsafeRawBufferPointer(rebasing: data[off...]))
            out.append(n)
            off += n
        }
        return out
    }

    public func cuts(_ bytes: [UInt8]) -> [Int] { bytes.withUnsafeBytes { cuts($0) } }
}
