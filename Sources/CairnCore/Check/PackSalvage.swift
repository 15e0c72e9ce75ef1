// Pack salvage for `check --rebuild-index`: recovers the blocks of a pack whose trailer or
// footer is damaged. Blocks sit back to back from byte 8, so each entry's offset is the
// previous entry's end and its length the distance to the next one: a flipped offset or
// length is repaired from its neighbours, and every block is accepted only after its bytes
// decode and hash to its id. When the footer's count is damaged, the trailer is found by
// scanning for the entry whose offset is 8 (the first block). A pack with no trailer left at
// all cannot be salvaged (blocks carry no framing of their own); it is kept, never deleted.

/// What salvage recovered from one pack.
public struct SalvageResult: Sendable {
    /// Entries whose bytes verified.
    public var entries: [PackEntry]
    /// Trailer entries that could not be verified (their blocks are lost).
    public var unverified: Int
}

/// Recovers verified block entries from packs whose trailer is damaged.
public enum PackSalvage {
    /// The verified entries of a pack whose trailer did not read cleanly, or nil when no
    /// trailer can be found.
    public static func salvage(_ storage: PackStorage, pack: String) -> SalvageResult? {
        guard let size = try? storage.size(of: pack), size >= 8 + 16 + 64 else { return nil }
        let maxEntries = UInt64(BlockWriter.maxBlocksPerPack) * 4
        let tailLen = min(size - 8, maxEntries * 64 + 16)
        guard let tail = try? storage.read(pack: pack, offset: size - tailLen, count: Int(tailLen)) else { return nil }
        func entryStart(_ count: UInt64) -> Int? {
            let need = count * 64 + 16
            guard need <= tailLen else { return nil }
            return Int(tailLen - need)
        }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(tail[at + $1]) << (8 * UInt64($1)) } }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(tail[at + $1]) << (8 * UInt32($1)) } }
        var counts: [UInt64] = []
        let footerCount = UInt64(u32(Int(tailLen) - 16))
        if footerCount > 0, entryStart(footerCount) != nil { counts.append(footerCount) }
        var c: UInt64 = 1
        while let at = entryStart(c) {
            if u64(at + 40) == 8, !counts.contains(c) { counts.append(c) }
            c += 1
        }
        var best: SalvageResult?
        for count in counts {
            guard let at = entryStart(count) else { continue }
            let r = verify(storage, pack: pack, tail: tail, at: at, count: Int(count), blocksEnd: size - 16 - count * 64)
            if r.entries.count > (best?.entries.count ?? 0) { best = r }
        }
        return best
    }

    /// Checks each entry against the bytes, repairing offsets and lengths from neighbours.
    private static func verify(_ storage: PackStorage, pack: String, tail: [UInt8], at: Int, count: Int, blocksEnd: UInt64) -> SalvageResult {
        struct Raw { var id: BlockId; var kind: UInt8; var codec: UInt8; var offset: UInt64; var stored: UInt32; var raw: UInt32; var crc: UInt32 }
        var raws: [Raw] = []
        for i in 0..<count {
            let b = at + i * 64
            var r = BinaryReader(Array(tail[b..<(b + 64)]), what: pack)
            guard let id = try? BlockId(r.raw(32)), let kind = try? r.u8(), let codec = try? r.u8(), (try? r.u16()) != nil, (try? r.u32()) != nil,
                  let off = try? r.u64(), let st = try? r.u32(), let rl = try? r.u32(), let crc = try? r.u32() else { continue }
            raws.append(Raw(id: id, kind: kind, codec: codec, offset: off, stored: st, raw: rl, crc: crc))
        }
        let hasher = SHA256Hasher()
        var out: [PackEntry] = []
        var unverified = 0
        var prevEnd: UInt64 = 8
        for (i, e) in raws.enumerated() {
            let nextOffset = i + 1 < raws.count ? raws[i + 1].offset : blocksEnd
            var offsets = [e.offset]
            if prevEnd != e.offset { offsets.append(prevEnd) }
            var found: PackEntry?
            search: for off in offsets where off >= 8 && off < blocksEnd {
                var lengths = [UInt64(e.stored)]
                if nextOffset > off, nextOffset - off != UInt64(e.stored) { lengths.append(nextOffset - off) }
                for len in lengths where len <= UInt64(PackFormat.maxBlockLength) && off + len <= blocksEnd {
                    for codec in [BlockCodec.none, BlockCodec.lz4] {
                        let rawLen = codec == .none ? UInt32(len) : e.raw
                        let cand = PackEntry(id: e.id, kind: BlockKind(rawValue: e.kind) ?? .data, codec: codec, offset: off,
                                             storedLength: UInt32(len), rawLength: rawLen, crc32: e.crc)
                        guard cand.problem == nil, let plain = decode(storage, pack: pack, cand) else { continue }
                        let id = plain.withUnsafeBytes { hasher.hash($0) }
                        if id == e.id { found = cand; break search }
                    }
                }
            }
            if found == nil, e.offset >= 8, let codec = BlockCodec(rawValue: e.codec) {
                // The id itself may be the damaged field: bytes at a consistent place that decode
                // are a block whose true id is their hash.
                var cand = PackEntry(id: e.id, kind: .data, codec: codec, offset: e.offset, storedLength: e.stored, rawLength: e.raw, crc32: e.crc)
                if cand.problem == nil, cand.offset + UInt64(cand.storedLength) <= blocksEnd, let plain = decode(storage, pack: pack, cand) {
                    cand.id = plain.withUnsafeBytes { hasher.hash($0) }
                    found = cand
                }
            }
            if var f = found {
                if BlockKind(rawValue: e.kind) == nil, let plain = decode(storage, pack: pack, f) {
                    // A damaged kind byte: trees and lists say what they are.
                    let magic = Array(plain.prefix(4))
                    f.kind = magic == Tree.magic ? .tree : magic == ContentList.magic ? .list : .data
                }
                out.append(f)
                prevEnd = f.offset + UInt64(f.storedLength)
            } else {
                unverified += 1
                prevEnd = e.offset &+ UInt64(e.stored)
            }
        }
        return SalvageResult(entries: out, unverified: unverified + (count - raws.count))
    }

    /// Entries the previous index recorded for `pack` whose bytes still verify: a pack whose
    /// trailer is gone (truncated) keeps every block the old index can still locate.
    static func fromIndex(_ old: RepositoryIndex, storage: PackStorage, pack: String) -> [PackEntry] {
        let hasher = SHA256Hasher()
        var out: [PackEntry] = []
        try? old.forEachBlock { loc in
            guard loc.pack == pack, let plain = decode(storage, pack: pack, loc.entry) else { return }
            if plain.withUnsafeBytes({ hasher.hash($0) }) == loc.entry.id { out.append(loc.entry) }
        }
        return out
    }

    /// The plaintext of a candidate entry, or nil when its bytes do not decode.
    private static func decode(_ storage: PackStorage, pack: String, _ e: PackEntry) -> [UInt8]? {
        guard let stored = try? storage.read(pack: pack, offset: e.offset, count: Int(e.storedLength)) else { return nil }
        if e.codec == .none { return stored }
        var plain = [UInt8](repeating: 0, count: Int(e.rawLength))
        let ok = stored.withUnsafeBytes { s in plain.withUnsafeMutableBytes { p in LZ4.decompress(s, into: p.baseAddress!, rawLength: Int(e.rawLength)) } }
        return ok ? plain : nil
    }
}
