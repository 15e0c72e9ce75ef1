// Index objects (Docs/Format.md, "Index objects"): one per pack, named like the pack, stored in
// the repository after the pack is durable. They list the pack's blocks, so a machine with an
// empty cache learns every block location by reading these small objects, never pack data.
//
// Layout (all integers little-endian):
//   "CAIRNIX1"                      8 bytes
//   pack name                       16 bytes (the 32 hex digits as raw bytes)
//   pack size                       u64
//   entries                         count x 64 bytes, as in a pack trailer
//   count u32, crc32 u32 of the entry bytes, "CAIRNPKT"   16 bytes (the pack's footer)
// Pure functions: encode and a bounded, hostile-input-safe decode.

/// The block list of one pack, as stored in its index object.
public struct IndexObject: Sendable, Equatable {
    public var pack: String
    public var packSize: UInt64
    public var entries: [PackEntry]

    public init(pack: String, packSize: UInt64, entries: [PackEntry]) {
        self.pack = pack
        self.packSize = packSize
        self.entries = entries
    }

    public static let magic: [UInt8] = Array("CAIRNIX1".utf8)
    static let headerSize = 8 + 16 + 8
    /// The most entries an index object may list (a pack holds at most 20,000 blocks; prune's
    /// packs as many). Bounds the bytes read for one object.
    public static let maxEntries = 1 << 16
    /// The largest valid index object.
    public static let maxSize = headerSize + maxEntries * PackFormat.entrySize + PackFormat.footerSize

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: Self.headerSize)
        w.raw(Self.magic)
        w.raw(Hex.decode(pack) ?? [UInt8](repeating: 0, count: 16))
        w.u64(packSize)
        return w.bytes + PackFormat.encodeTrailer(entries)
    }

    /// Decodes the index object `name` (which must be the pack's name). Refuses, as an integrity
    /// error naming the object and offset: a wrong magic, a pack name that differs from the object
    /// name, a size that does not match the entry count, a checksum mismatch, an entry count above
    /// `maxEntries`, and every entry a pack trailer would refuse (including blocks that end past
    /// the start of the pack's trailer, computed from `packSize`).
    public static func decode(_ bytes: [UInt8], name: String, what: String) throws -> IndexObject {
        func bad(_ why: String, _ off: UInt64) -> CairnError {
            CairnError(.integrity, "index object \(what) is damaged (\(why)) at byte offset \(off); run `cairn check --rebuild-index` to write it again from its pack", path: what, offset: off)
        }
        guard PackFormat.isValidName(name) else { throw bad("its name is not a pack name", 0) }
        guard bytes.count >= headerSize + PackFormat.footerSize, bytes.count <= maxSize else { throw bad("size \(bytes.count) out of range", 0) }
        guard Array(bytes[0..<8]) == magic else { throw bad("no magic", 0) }
        guard Hex.encode(Array(bytes[8..<24])) == name else { throw bad("it names another pack", 8) }
        var r = BinaryReader(bytes, what: what, position: 24)
        let packSize = try r.u64()
        guard packSize <= PackFormat.maxPackOffset else { throw bad("pack size \(packSize) out of range", 24) }
        let footer = Array(bytes[(bytes.count - PackFormat.footerSize)...])
        guard Array(footer[8..<16]) == PackFormat.trailerMagic else { throw bad("no trailer magic", UInt64(bytes.count - 8)) }
        var fr = BinaryReader(footer, what: what)
        let count = Int(try fr.u32())
        let crc = try fr.u32()
        guard count <= maxEntries, headerSize + count * PackFormat.entrySize + PackFormat.footerSize == bytes.count else {
            throw bad("entry count \(count) does not match its size", UInt64(bytes.count - 16))
        }
        let raw = Array(bytes[headerSize..<(bytes.count - PackFormat.footerSize)])
        guard CRC32.checksum(raw) == crc else { throw bad("checksum mismatch", UInt64(headerSize)) }
        let trailer = UInt64(raw.count + PackFormat.footerSize)
        guard packSize >= trailer + UInt64(PackFormat.headerMagic.count) else { throw bad("pack size \(packSize) cannot hold its trailer", 24) }
        let entries = try PackFormat.decodeEntries(raw, count: count, dataEnd: packSize - trailer, what: what) { bad($0, UInt64(headerSize) + $1) }
        return IndexObject(pack: name, packSize: packSize, entries: entries)
    }
}
