// Pack byte layout (Docs/Format.md, "Packs"):
//   header  "CAIRNPK1" (8 bytes)
//   blocks  stored bytes, back to back
//   trailer count x 64-byte entries, then u32 count, u32 crc32(entries), "CAIRNPKT"

/// What a block holds.
public enum BlockKind: UInt8, Sendable, Codable {
    /// File content.
    case data = 0
    /// A serialized directory node.
    case tree = 1
    /// A list of content block references (for large files).
    case list = 2
}

/// One block's location and shape, as listed in a pack trailer and in the index.
public struct PackEntry: Sendable, Equatable {
    public var id: BlockId
    public var kind: BlockKind
    public var codec: BlockCodec
    public var offset: UInt64
    public var storedLength: UInt32
    public var rawLength: UInt32
    /// CRC-32 of the plaintext (lets ZIP export skip a pass over the data).
    public var crc32: UInt32

    public init(id: BlockId, kind: BlockKind, codec: BlockCodec, offset: UInt64, storedLength: UInt32, rawLength: UInt32, crc32: UInt32) {
        self.id = id
        self.kind = kind
        self.codec = codec
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.crc32 = crc32
    }

    /// Why this entry cannot describe a block of a pack (offsets, lengths and codec out of
    /// range), or nil when it can. Every entry read from a trailer or an index row passes
    /// through here before any length is used for an allocation or a read.
    public var problem: String? {
        if offset < UInt64(PackFormat.headerMagic.count) { return "offset \(offset) lies inside the pack header" }
        if offset > PackFormat.maxPackOffset { return "offset \(offset) is beyond any pack size" }
        if storedLength > PackFormat.maxBlockLength || rawLength > PackFormat.maxBlockLength {
            return "length \(max(storedLength, rawLength)) exceeds the largest block (\(PackFormat.maxBlockLength) bytes)"
        }
        switch codec {
        case .none where storedLength != rawLength: return "stored length \(storedLength) differs from raw length \(rawLength) for an uncompressed block"
        case .lz4 where storedLength == 0 || rawLength == 0: return "an LZ4 block with a zero length"
        default: return nil
        }
    }
}

/// Encodes and decodes pack headers and trailers.
public enum PackFormat {
    public static let headerMagic: [UInt8] = Array("CAIRNPK1".utf8)
    public static let trailerMagic: [UInt8] = Array("CAIRNPKT".utf8)
    public static let entrySize = 64
    public static let footerSize = 16
    /// The largest stored or raw length a block may have (trees of huge directories stay well below).
    public static let maxBlockLength: UInt32 = 1 << 28
    /// The largest offset a block may start at (keeps `offset + length` far from overflow).
    public static let maxPackOffset: UInt64 = 1 << 50

    /// True for a pack name as writers make them: 32 lowercase hex digits.
    public static func isValidName(_ name: String) -> Bool {
        name.utf8.count == 32 && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    public static func encodeTrailer(_ entries: [PackEntry]) -> [UInt8] {
        var w = BinaryWriter(capacity: entries.count * entrySize + footerSize)
        for e in entries {
            w.raw(e.id.bytes)
            w.u8(e.kind.rawValue)
            w.u8(e.codec.rawValue)
            w.u16(0)
            w.u32(0)
            w.u64(e.offset)
            w.u32(e.storedLength)
            w.u32(e.rawLength)
            w.u32(e.crc32)
            w.u32(0)
        }
        let crc = CRC32.checksum(w.bytes)
        w.u32(UInt32(entries.count))
        w.u32(crc)
        w.raw(trailerMagic)
        return w.bytes
    }

    /// Reads the trailer of a pack through `storage`; throws an integrity error naming the pack if it is damaged.
    public static func readTrailer(_ storage: PackStorage, pack: String) throws -> [PackEntry] {
        let path = storage.displayPath(pack)
        let size = try storage.size(of: pack)
        func bad(_ why: String, _ off: UInt64) -> CairnError {
            CairnError(.integrity, "pack \(path) has a damaged trailer (\(why)) at byte offset \(off); run `cairn check --read-data`", path: path, offset: off)
        }
        guard size >= UInt64(headerMagic.count + footerSize) else { throw bad("too short", 0) }
        let footer = try storage.read(pack: pack, offset: size - UInt64(footerSize), count: footerSize)
        guard Array(footer[8..<16]) == trailerMagic else { throw bad("no trailer magic", size - 8) }
        var r = BinaryReader(footer, what: path)
        let count = Int(try r.u32())
        let crc = try r.u32()
        let tlen = UInt64(count * entrySize)
        guard tlen + UInt64(footerSize + headerMagic.count) <= size else { throw bad("entry count \(count) too large", size - 16) }
        let start = size - UInt64(footerSize) - tlen
        let raw = try storage.read(pack: pack, offset: start, count: Int(tlen))
        guard CRC32.checksum(raw) == crc else { throw bad("checksum mismatch", start) }
        return try decodeEntries(raw, count: count, dataEnd: start, what: path) { bad($0, start + $1) }
    }

    /// Decodes `count` 64-byte trailer entries from `raw` (exactly `count * entrySize` bytes),
    /// refusing unknown kinds or codecs, lengths out of range and blocks that end past `dataEnd`
    /// (where the trailer starts). `bad` makes the error from a reason and an offset into `raw`.
    static func decodeEntries(_ raw: [UInt8], count: Int, dataEnd: UInt64, what: String,
                              bad: (String, UInt64) -> CairnError) throws -> [PackEntry] {
        guard count >= 0, raw.count == count * entrySize else { throw bad("entry bytes do not match the count \(count)", 0) }
        var er = BinaryReader(raw, what: what)
        var out: [PackEntry] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let id = BlockId(try er.raw(32))
            guard let kind = BlockKind(rawValue: try er.u8()), let codec = BlockCodec(rawValue: try er.u8()) else {
                throw bad("unknown block kind or codec", UInt64(er.position))
            }
            _ = try er.u16(); _ = try er.u32()
            let off = try er.u64()
            let stored = try er.u32()
            let rawLen = try er.u32()
            let c = try er.u32()
            _ = try er.u32()
            let e = PackEntry(id: id, kind: kind, codec: codec, offset: off, storedLength: stored, rawLength: rawLen, crc32: c)
            if let why = e.problem { throw bad(why, UInt64(er.position)) }
            let (end, overflow) = off.addingReportingOverflow(UInt64(stored))
            guard off >= 8, !overflow, end <= dataEnd else { throw bad("entry out of range", UInt64(er.position)) }
            out.append(e)
        }
        return out
    }
}
