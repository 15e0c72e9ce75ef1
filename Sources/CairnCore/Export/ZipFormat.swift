// ZIP record layouts (PKWARE APPNOTE 6.3.x) shared by the writer, the size estimate and the
// reader: signatures, limits, the ZIP64 rules, name checks, DOS times and record encoders.
//
// Layout rules (deterministic, so `ZipWriter.estimateStoredSize` is exact):
// - Every entry: local header with flags bit 3 (data descriptor) and bit 11 (UTF-8; only for names that are valid UTF-8), CRC and
//   sizes zero in the local header, then an extended-timestamp extra (0x5455, mtime only).
// - The local header carries a ZIP64 extra (0x0001, both sizes zero, 32-bit size fields
//   0xFFFFFFFF) exactly when the entry's size is unknown when it starts or may reach 4 GiB
//   (`ZipLayout.localZip64`); the data descriptor then has 8-byte sizes, otherwise 4-byte sizes.
//   The descriptor always starts with its signature.
// - The central header carries a ZIP64 extra only with the fields that do not fit in 32 bits
//   (uncompressed size, compressed size, local header offset, in that order), then 0x5455.
// - ZIP64 end of central directory record + locator are written when there are 65,535 or more
//   entries or the central directory's size or offset does not fit in 32 bits.
// - Encrypted archives (ZipAES.swift): every file entry has flag bit 0, method 99, version
//   needed 51, an 0x9901 extra after 0x5455 in both headers, CRC-32 0, and 28 more bytes of
//   data (salt, verifier, authentication code). Directories and symlinks are not encrypted
//   (like names, link targets stay readable; libarchive cannot read encrypted links).

#if canImport(Glibc)
import Glibc
#endif

/// What a ZIP entry is on disk.
public enum ZipEntryKind: Sendable, Equatable {
    case file
    case directory
    case symlink
}

/// How an entry's data is stored.
public enum ZipMethod: Sendable, Equatable {
    /// Stored verbatim (method 0).
    case store
    /// Raw deflate (method 8) at a zlib level, 0-9.
    case deflate(level: Int32)

    /// The default deflate (zlib level 6).
    public static let deflate = ZipMethod.deflate(level: 6)

    var code: UInt16 {
        switch self {
        case .store: return 0
        case .deflate: return 8
        }
    }
}

enum ZipSig {
    static let local: UInt32 = 0x0403_4b50
    static let central: UInt32 = 0x0201_4b50
    static let descriptor: UInt32 = 0x0807_4b50
    static let end: UInt32 = 0x0605_4b50
    static let zip64End: UInt32 = 0x0606_4b50
    static let zip64Locator: UInt32 = 0x0706_4b50
}

enum ZipConst {
    /// "Version made by": Unix host (3), APPNOTE 6.3.
    static let versionMadeBy: UInt16 = 3 << 8 | 63
    static let versionDefault: UInt16 = 20
    static let versionZip64: UInt16 = 45
    static let flagEncrypted: UInt16 = 1 << 0
    static let flagDescriptor: UInt16 = 1 << 3
    static let flagStrongEncryption: UInt16 = 1 << 6
    static let flagUTF8: UInt16 = 1 << 11
    static let flagMaskedHeaders: UInt16 = 1 << 13
    static let writerFlags: UInt16 = flagDescriptor | flagUTF8
    /// The writer's flags for one name: bit 11 (UTF-8) only when the whole name is valid UTF-8.
    static func writerFlags(name: ArraySlice<UInt8>) -> UInt16 {
        String(validating: name, as: UTF8.self) != nil ? writerFlags : flagDescriptor
    }
    static let max16: UInt64 = 0xFFFF
    static let max32: UInt64 = 0xFFFF_FFFF
    static let extraZip64: UInt16 = 0x0001
    static let extraTimestamp: UInt16 = 0x5455

    static let localHeaderSize: UInt64 = 30
    static let centralHeaderSize: UInt64 = 46
    static let endSize: UInt64 = 22
    static let zip64EndSize: UInt64 = 56
    static let zip64LocatorSize: UInt64 = 20
    /// 0x5455 with flags + mtime.
    static let timestampExtraSize: UInt64 = 9
    /// 0x0001 with both sizes, as written in local headers.
    static let zip64LocalExtraSize: UInt64 = 20
    static let descriptorSize32: UInt64 = 16
    static let descriptorSize64: UInt64 = 24
}

/// The size arithmetic both the writer and the estimate follow.
enum ZipLayout {
    /// Whether an entry's local header carries a ZIP64 extra (and its descriptor 8-byte sizes).
    /// Unknown sizes always do; for deflate a pessimistic bound on expansion is used.
    static func localZip64(size: UInt64?, method: ZipMethod, aes: Bool = false) -> Bool {
        guard let size else { return true }
        if size >= ZipConst.max32 || (aes && size >= ZipConst.max32 - ZipAESInfo.written.overhead) { return true }
        switch method {
        case .store: return false
        case .deflate: return size + size >> 3 + size >> 6 + 1024 >= ZipConst.max32
        }
    }

    static func localHeaderLength(nameLength: Int, zip64: Bool, aes: Bool = false) -> UInt64 {
        ZipConst.localHeaderSize + UInt64(nameLength) + ZipConst.timestampExtraSize + (zip64 ? ZipConst.zip64LocalExtraSize : 0)
            + (aes ? ZipAESConst.extraLength : 0)
    }

    static func descriptorLength(zip64: Bool) -> UInt64 { zip64 ? ZipConst.descriptorSize64 : ZipConst.descriptorSize32 }

    /// Length of the central ZIP64 extra (0 when nothing overflows).
    static func centralZip64ExtraLength(uncompressed: UInt64, compressed: UInt64, offset: UInt64) -> UInt64 {
        var n: UInt64 = 0
        if uncompressed >= ZipConst.max32 { n += 8 }
        if compressed >= ZipConst.max32 { n += 8 }
        if offset >= ZipConst.max32 { n += 8 }
        return n == 0 ? 0 : n + 4
    }

    static func centralHeaderLength(nameLength: Int, uncompressed: UInt64, compressed: UInt64, offset: UInt64, aes: Bool = false) -> UInt64 {
        ZipConst.centralHeaderSize + UInt64(nameLength) + ZipConst.timestampExtraSize
            + centralZip64ExtraLength(uncompressed: uncompressed, compressed: compressed, offset: offset)
            + (aes ? ZipAESConst.extraLength : 0)
    }

    static func needsZip64End(count: UInt64, cdSize: UInt64, cdOffset: UInt64) -> Bool {
        count >= ZipConst.max16 || cdSize >= ZipConst.max32 || cdOffset >= ZipConst.max32
    }

    static func endLength(count: UInt64, cdSize: UInt64, cdOffset: UInt64) -> UInt64 {
        ZipConst.endSize + (needsZip64End(count: count, cdSize: cdSize, cdOffset: cdOffset) ? ZipConst.zip64EndSize + ZipConst.zip64LocatorSize : 0)
    }

    /// Checks an entry name for writing and returns its bytes (see `ZipWriter.entryName`).
    static func entryName(_ name: String, kind: ZipEntryKind) throws -> [UInt8] { try ZipWriter.entryName(FileName(utf8: name), kind: kind) }

    /// `st_mode` for an entry: type bits from its kind plus permission bits.
    static func unixMode(kind: ZipEntryKind, permissions: UInt32) -> UInt32 {
        let type: UInt32
        switch kind {
        case .file: type = UInt32(S_IFREG)
        case .directory: type = UInt32(S_IFDIR)
        case .symlink: type = UInt32(S_IFLNK)
        }
        return type | (permissions & 0o7777)
    }

    /// External attributes: Unix mode in the high 16 bits, MS-DOS directory bit for directories.
    static func externalAttributes(kind: ZipEntryKind, permissions: UInt32) -> UInt32 {
        unixMode(kind: kind, permissions: permissions) << 16 | (kind == .directory ? 0x10 : 0)
    }
}

/// DOS date/time and Unix time conversions. DOS times are local time, like Info-ZIP's.
enum ZipTime {
    /// Seconds since the epoch from nanoseconds (floor).
    static func seconds(fromNs ns: Int64) -> Int64 {
        ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
    }

    /// The 0x5455 value: signed 32-bit seconds, clamped to its range (1901-2038).
    static func unix32(_ seconds: Int64) -> Int32 {
        Int32(clamping: seconds)
    }

    /// (time, date) in MS-DOS format, local time, clamped to 1980...2107.
    static func dos(_ seconds: Int64) -> (time: UInt16, date: UInt16) {
        var t = time_t(clamping: seconds)
        var tm = Glibc.tm()
        guard localtime_r(&t, &tm) != nil else { return (0, 1 << 5 | 1) }
        let year = Int(tm.tm_year) + 1900
        if year < 1980 { return (0, 1 << 5 | 1) }
        if year > 2107 { return (23 << 11 | 59 << 5 | 29, 127 << 9 | 12 << 5 | 31) }
        let time = UInt16(tm.tm_hour) << 11 | UInt16(tm.tm_min) << 5 | UInt16(tm.tm_sec / 2)
        let date = UInt16(year - 1980) << 9 | UInt16(tm.tm_mon + 1) << 5 | UInt16(tm.tm_mday)
        return (time, date)
    }

    /// Seconds since the epoch for a DOS (time, date), read as local time.
    static func unix(dosTime: UInt16, dosDate: UInt16) -> Int64 {
        var tm = Glibc.tm()
        tm.tm_year = Int32(dosDate >> 9) + 80
        tm.tm_mon = max(0, Int32(dosDate >> 5 & 0xF) - 1)
        tm.tm_mday = max(1, Int32(dosDate & 0x1F))
        tm.tm_hour = Int32(dosTime >> 11)
        tm.tm_min = Int32(dosTime >> 5 & 0x3F)
        tm.tm_sec = Int32(dosTime & 0x1F) * 2
        tm.tm_isdst = -1
        return Int64(mktime(&tm))
    }
}

/// Record encoders. Each appends one record to `w`.
enum ZipRecords {
    static func localHeader(_ w: inout BinaryWriter, name: [UInt8], method: UInt16, dosTime: UInt16, dosDate: UInt16, mtime: Int32, zip64: Bool, aes: Bool = false) {
        w.u32(ZipSig.local)
        w.u16(aes ? ZipAESConst.versionNeeded : zip64 ? ZipConst.versionZip64 : ZipConst.versionDefault)
        w.u16(ZipConst.writerFlags(name: name[...]) | (aes ? ZipConst.flagEncrypted : 0))
        w.u16(aes ? ZipAESConst.method : method)
        w.u16(dosTime)
        w.u16(dosDate)
        w.u32(0)  // CRC-32: in the data descriptor
        w.u32(zip64 ? UInt32(ZipConst.max32) : 0)
        w.u32(zip64 ? UInt32(ZipConst.max32) : 0)
        w.u16(UInt16(name.count))
        w.u16(UInt16(ZipConst.timestampExtraSize + (zip64 ? ZipConst.zip64LocalExtraSize : 0) + (aes ? ZipAESConst.extraLength : 0)))
        w.raw(name)
        if zip64 {
            w.u16(ZipConst.extraZip64)
            w.u16(16)
            w.u64(0)
            w.u64(0)
        }
        timestamp(&w, mtime)
        if aes { ZipAESConst.extra(&w, actualMethod: method) }
    }

    static func timestamp(_ w: inout BinaryWriter, _ mtime: Int32) {
        w.u16(ZipConst.extraTimestamp)
        w.u16(5)
        w.u8(1)  // mtime present
        w.u32(UInt32(bitPattern: mtime))
    }

    static func descriptor(_ w: inout BinaryWriter, crc: UInt32, compressed: UInt64, uncompressed: UInt64, zip64: Bool) {
        w.u32(ZipSig.descriptor)
        w.u32(crc)
        if zip64 {
            w.u64(compressed)
            w.u64(uncompressed)
        } else {
            w.u32(UInt32(compressed))
            w.u32(UInt32(uncompressed))
        }
    }

    static func centralHeader(_ w: inout BinaryWriter, _ r: ZipCentralRecord, name: ArraySlice<UInt8>) {
        let u = r.uncompressed >= ZipConst.max32, c = r.compressed >= ZipConst.max32, o = r.offset >= ZipConst.max32
        let extra64 = ZipLayout.centralZip64ExtraLength(uncompressed: r.uncompressed, compressed: r.compressed, offset: r.offset)
        w.u32(ZipSig.central)
        w.u16(ZipConst.versionMadeBy)
        w.u16(r.aes ? ZipAESConst.versionNeeded : r.localZip64 || extra64 > 0 ? ZipConst.versionZip64 : ZipConst.versionDefault)
        w.u16(ZipConst.writerFlags(name: name) | (r.aes ? ZipConst.flagEncrypted : 0))
        w.u16(r.aes ? ZipAESConst.method : r.method)
        w.u16(r.dosTime)
        w.u16(r.dosDate)
        w.u32(r.crc)
        w.u32(c ? UInt32(ZipConst.max32) : UInt32(r.compressed))
        w.u32(u ? UInt32(ZipConst.max32) : UInt32(r.uncompressed))
        w.u16(UInt16(name.count))
        w.u16(UInt16(extra64 + ZipConst.timestampExtraSize + (r.aes ? ZipAESConst.extraLength : 0)))
        w.u16(0)  // comment length
        w.u16(0)  // disk number start
        w.u16(0)  // internal attributes
        w.u32(r.externalAttributes)
        w.u32(o ? UInt32(ZipConst.max32) : UInt32(r.offset))
        w.raw(name)
        if extra64 > 0 {
            w.u16(ZipConst.extraZip64)
            w.u16(UInt16(extra64 - 4))
            if u { w.u64(r.uncompressed) }
            if c { w.u64(r.compressed) }
            if o { w.u64(r.offset) }
        }
        timestamp(&w, r.mtime)
        if r.aes { ZipAESConst.extra(&w, actualMethod: r.method) }
    }

    /// End records: ZIP64 record and locator when needed, then the classic end record.
    static func end(_ w: inout BinaryWriter, count: UInt64, cdSize: UInt64, cdOffset: UInt64) {
        if ZipLayout.needsZip64End(count: count, cdSize: cdSize, cdOffset: cdOffset) {
            let recordOffset = cdOffset + cdSize
            w.u32(ZipSig.zip64End)
            w.u64(ZipConst.zip64EndSize - 12)
            w.u16(ZipConst.versionMadeBy)
            w.u16(ZipConst.versionZip64)
            w.u32(0)  // this disk
            w.u32(0)  // disk with the central directory
            w.u64(count)
            w.u64(count)
            w.u64(cdSize)
            w.u64(cdOffset)
            w.u32(ZipSig.zip64Locator)
            w.u32(0)
            w.u64(recordOffset)
            w.u32(1)  // total disks
        }
        w.u32(ZipSig.end)
        w.u16(0)
        w.u16(0)
        w.u16(UInt16(min(count, ZipConst.max16)))
        w.u16(UInt16(min(count, ZipConst.max16)))
        w.u32(UInt32(min(cdSize, ZipConst.max32)))
        w.u32(UInt32(min(cdOffset, ZipConst.max32)))
        w.u16(0)  // comment length
    }
}

/// One finished entry as the central directory needs it; the name lives in the writer's arena.
struct ZipCentralRecord {
    var nameStart: Int
    var nameLength: Int
    var crc: UInt32
    var externalAttributes: UInt32
    var mtime: Int32
    var method: UInt16
    var dosTime: UInt16
    var dosDate: UInt16
    var localZip64: Bool
    var compressed: UInt64
    var uncompressed: UInt64
    var offset: UInt64
    /// WinZip AES (AE-2): method 99 and an 0x9901 extra are written, `method` is the real one.
    var aes = false
}
