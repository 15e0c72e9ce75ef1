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
}

/// Encodes and decodes pack headers and trailers.
public enum PackFormat {
    public static let headerMagic: [UInt8] = Array("CAIRNPK1".utf8)
    public static let trailerMagic: [UInt8] = Array("CAIRNPKT".utf8)
    public static let entrySize = 64
    public static let footerSize = 16

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
        var er = BinaryReader(raw, what: path)
        var out: [PackEntry] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let id = BlockId(try er.raw(32))
            guard let kind = BlockKind(rawValue: try er.u8()), let codec = BlockCodec(rawValue: try er.u8()) else {
                throw bad("unknown block kind or codec", start + UInt64(er.position))
            }
            _ = try er.u16(); _ = try er.u32()
            let off = try er.u64()
            let stored = try er.u32()
            let rawLen = try er.u32()
            let c = try er.u32()
            _ = try er.u32()
            let (end, overflow) = off.addingReportingOverflow(UInt64(stored))
            guard off >= 8, !overflow, end <= start else { throw bad("entry out of range", start + UInt64(er.position)) }
            out.append(PackEntry(id: id, kind: kind, codec: codec, offset: off, storedLength: stored, rawLength: rawLen, crc32: c))
        }
        return out
    }
}
