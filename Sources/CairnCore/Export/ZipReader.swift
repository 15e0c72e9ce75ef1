// A hardened ZIP reader over a seekable file: finds the end records (classic and ZIP64), parses
// the central directory into entries, rejects hostile structure up front (lying sizes, overlaps,
// encryption, unsupported methods, zip-bomb ratios, unsafe names and symlinks) and hands out
// streaming readers that verify each entry's size and CRC-32 (ZipEntryStream.swift).
// Every rejection is a one-line `CairnError(.invalidInput, …)` naming the entry.

#if canImport(Glibc)
import Glibc
#endif

/// Limits a `ZipReader` enforces. The defaults suit untrusted archives.
public struct ZipLimits: Sendable {
    /// Zip-bomb guard: an entry whose uncompressed size exceeds `ratioFloor` may expand at most
    /// `maxRatio` times its compressed size, judged from declared sizes and again while inflating.
    /// (Plain deflate tops out near 1032:1, so only near-maximal compression trips 1000.)
    public var maxRatio: UInt64 = 1000
    /// Entries up to this uncompressed size are exempt from the ratio check (1 MiB).
    public var ratioFloor: UInt64 = 1 << 20
    /// Cap on the sum of all entries' uncompressed sizes; nil for none.
    public var maxTotalSize: UInt64?
    /// Cap on the number of entries.
    public var maxEntries: Int = 10_000_000
    /// Cap on the central directory's size in bytes.
    public var maxCentralDirectorySize: UInt64 = 1 << 30
    /// Cap on a symlink target's length in bytes.
    public var maxSymlinkTarget: Int = 4095
    /// Which symlink targets `ZipSafety.validate` accepts.
    public var symlinks: ZipSafety.SymlinkPolicy = .confineToSilo
    /// Accept backslashes in entry names (as ordinary name bytes). Off by default: Windows
    /// tools read them as separators, so their meaning in a foreign archive is ambiguous.
    public var allowBackslash = false
    /// Check compression ratios when the archive is opened and while inflating. Importers that
    /// must decide per entry (Cairn's own exports) turn this off and call `checkRatios(exempt:)`.
    public var checkRatioOnOpen = true
    /// Names without the UTF-8 flag that are not valid UTF-8: mapped from IBM code page 437
    /// (legacy DOS/Windows archivers, the default) or kept as raw bytes (Cairn's own exports,
    /// whose manifest carries the exact bytes; Unix archivers also store raw bytes).
    public var rawLegacyNames = false

    public init(maxTotalSize: UInt64? = nil, symlinks: ZipSafety.SymlinkPolicy = .confineToSilo) {
        self.maxTotalSize = maxTotalSize
        self.symlinks = symlinks
    }

    public static let `default` = ZipLimits()
}

/// One entry of a ZIP archive, from its central directory.
public struct ZipEntry: Sendable, Equatable {
    /// Position in the central directory.
    public var index: Int
    /// The name for messages and listings: `nameBytes` escaped (`FileName.escape`). Never
    /// compare or split it; use `nameBytes` / `pathName`.
    public var name: String
    /// `pathName` escaped, for messages and listings.
    public var path: String
    /// The name's bytes (directories usually end with "/"): as stored when the UTF-8 flag is
    /// set or the bytes are valid UTF-8, else legacy IBM code page 437 mapped to UTF-8 bytes.
    public var nameBytes: [UInt8]
    /// `nameBytes` without a trailing "/": the entry's path inside the archive.
    public var pathName: FileName
    public var kind: ZipEntryKind
    /// Permission bits (0o7777).
    public var mode: UInt32
    /// Modification time, seconds since the epoch (0x5455 when present, else the DOS time).
    public var mtime: Int64
    /// Compression method: 0 store, 8 deflate.
    public var method: UInt16
    /// General-purpose bit flags (bit 3: data descriptor, bit 11: UTF-8 name).
    public var flags: UInt16
    /// CRC-32 of the uncompressed content, from the central directory.
    public var crc: UInt32
    public var compressedSize: UInt64
    /// Uncompressed size.
    public var size: UInt64
    /// Offset of the entry's local header in the archive.
    public var localHeaderOffset: UInt64
    /// The link target's bytes for symlinks (read and checked when the archive is opened).
    public var targetBytes: [UInt8]?
    /// The link target escaped, for messages and listings.
    public var symlinkTarget: String? { targetBytes.map { FileName.escape($0) } }
    /// The name bytes exactly as stored in the central directory (the local header must match).
    let storedName: [UInt8]
    /// Where the next entry's local header (or the central directory) starts.
    var dataLimit: UInt64
    /// WinZip AES parameters of an encrypted entry (`method` is then the real method), else nil.
    public var aes: ZipAESInfo? = nil
}

/// Reads a ZIP archive from a seekable file. Opening parses and checks the whole central
/// directory; `open(_:)` streams one entry's content. Not thread-safe.
public final class ZipReader {
    public let path: String
    public let limits: ZipLimits
    /// All entries, in central directory order.
    public private(set) var entries: [ZipEntry] = []
    let file: PosixFile
    let fileSize: UInt64
    /// Asked for the password when the archive has WinZip AES entries; without one they are refused.
    let password: ZipPassword?

    /// Opens and checks the archive at `path`.
    public convenience init(path: String, limits: ZipLimits = .default, password: ZipPassword? = nil) throws {
        try self.init(file: PosixFile.open(path, O_RDONLY), limits: limits, password: password)
    }

    /// Checks an open archive file (the reader keeps it; it closes when released). With
    /// `password`, WinZip AES entries are read (ZipAES.swift) and the password is checked on
    /// the first encrypted entry before this returns: a wrong one is `wrongPassword`.
    public init(file: PosixFile, limits: ZipLimits = .default, password: ZipPassword? = nil) throws {
        self.file = file
        self.path = file.path
        self.limits = limits
        self.password = password
        fileSize = try file.stat().size
        let end = try readEnd()
        try readCentralDirectory(end)
        try checkLayout(cdOffset: end.cdOffset)
        for i in entries.indices where entries[i].kind == .symlink {
            entries[i].targetBytes = try readSymlinkTarget(entries[i])
        }
        if let e = entries.first(where: { $0.aes != nil && $0.kind == .file }) {
            _ = try open(e)  // checks the password verifier
        }
        do {
            try ZipSafety.validate(entries, symlinks: limits.symlinks, allowBackslash: limits.allowBackslash)
        } catch var e as CairnError {
            e.path = path
            throw e
        }
    }

    /// A streaming reader of `entry`'s content that verifies size, CRC-32 and ratio.
    /// - Parameter maxRatio: the inflate ratio limit for this entry (default: the limits',
    ///   or none when `checkRatioOnOpen` is off).
    public func open(_ entry: ZipEntry, maxRatio: UInt64? = nil) throws -> ZipEntryStream {
        try ZipEntryStream(reader: self, entry: entry, maxRatio: maxRatio ?? (limits.checkRatioOnOpen ? limits.maxRatio : UInt64.max))
    }

    /// Applies the zip-bomb ratio limit to every entry's declared sizes except those in `exempt`
    /// (entry paths); the first offender throws. Used after opening with `checkRatioOnOpen` off.
    public func checkRatios(exempt: Set<FileName> = []) throws {
        for e in entries where !exempt.contains(e.pathName) {
            if e.size > limits.ratioFloor && e.size / max(e.compressedSize, 1) > limits.maxRatio {
                throw reject(e.name, "declares a compression ratio of \(e.size / max(e.compressedSize, 1)):1 (\(e.size) bytes from \(e.compressedSize)), above the limit of \(limits.maxRatio):1; this looks like a zip bomb")
            }
        }
    }

    /// The whole content of `entry` (for small entries).
    public func contents(_ entry: ZipEntry, maxRatio: UInt64? = nil) throws -> [UInt8] {
        let s = try open(entry, maxRatio: maxRatio)
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = try buf.withUnsafeMutableBytes { try s.read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
    }

    // MARK: - Errors and bytes

    func reject(_ entry: String?, _ what: String, offset: UInt64? = nil) -> CairnError {
        let subject = entry.map { "ZIP entry \(ZipLE.quote($0)) in \(path)" } ?? "ZIP archive \(path)"
        return CairnError(.invalidInput, "\(subject): \(what)", path: path, offset: offset)
    }

    /// Positioned read that reports a short file as a truncated archive.
    func read(_ count: Int, at offset: UInt64, entry: String?) throws -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(count))
        if overflow || end > fileSize {
            throw reject(entry, "the archive is truncated (needs bytes up to offset \(end) but is \(fileSize) bytes); re-create or re-download it", offset: offset)
        }
        return count == 0 ? [] : try file.pread(count: count, offset: offset)
    }

    // MARK: - End records

    struct End {
        var count: UInt64
        var cdSize: UInt64
        var cdOffset: UInt64
        /// Where the central directory must end: the ZIP64 end record, or the classic one.
        var recordsStart: UInt64
    }

    private func readEnd() throws -> End {
        let minEnd = ZipConst.endSize
        guard fileSize >= minEnd else {
            throw reject(nil, "no end of central directory record found (the file is only \(fileSize) bytes); it is not a ZIP archive or it is truncated")
        }
        let tailLength = min(fileSize, minEnd + ZipConst.max16)
        let tailStart = fileSize - tailLength
        let tail = try read(Int(tailLength), at: tailStart, entry: nil)
        var found: Int?
        var sawMismatch = false
        var i = tail.count - Int(minEnd)
        while i >= 0 {
            if ZipLE.u32(tail, i) == ZipSig.end {
                if UInt64(ZipLE.u16(tail, i + 20)) == UInt64(tail.count - i) - minEnd { found = i; break }
                sawMismatch = true
            }
            i -= 1
        }
        guard let e = found else {
            if sawMismatch {
                throw reject(nil, "the end of central directory record's comment length does not match the file's end (truncated, or bytes appended after the archive); re-create or re-download it")
            }
            throw reject(nil, "no end of central directory record found; it is not a ZIP archive or it is truncated")
        }
        let endOffset = tailStart + UInt64(e)
        let disk = ZipLE.u16(tail, e + 4), cdDisk = ZipLE.u16(tail, e + 6)
        let onDisk = UInt64(ZipLE.u16(tail, e + 8)), total = UInt64(ZipLE.u16(tail, e + 10))
        let cdSize = UInt64(ZipLE.u32(tail, e + 12)), cdOffset = UInt64(ZipLE.u32(tail, e + 16))
        if disk != 0 || cdDisk != 0 || onDisk != total {
            throw reject(nil, "split or spanned (multi-disk) archives are not supported; join the parts into one archive first")
        }
        var end = End(count: total, cdSize: cdSize, cdOffset: cdOffset, recordsStart: endOffset)
        if endOffset >= ZipConst.zip64LocatorSize,
           try ZipLE.u32(read(4, at: endOffset - ZipConst.zip64LocatorSize, entry: nil), 0) == ZipSig.zip64Locator {
            end = try readZip64End(locator: endOffset - ZipConst.zip64LocatorSize, classic: end)
        } else if cdSize == ZipConst.max32 || cdOffset == ZipConst.max32 {
            throw reject(nil, "the end record uses ZIP64 markers but the ZIP64 end of central directory locator is missing; the archive is corrupt")
        }
        let (cdEnd, overflow) = end.cdOffset.addingReportingOverflow(end.cdSize)
        if overflow || cdEnd > end.recordsStart {
            throw reject(nil, "the central directory (offset \(end.cdOffset), \(end.cdSize) bytes) lies outside the archive before its end records; the archive is truncated or corrupt", offset: end.cdOffset)
        }
        if cdEnd < end.recordsStart {
            throw reject(nil, "\(end.recordsStart - cdEnd) unexplained bytes lie between the central directory and the end records; the archive is corrupt or was tampered with", offset: cdEnd)
        }
        if end.cdSize > limits.maxCentralDirectorySize {
            throw reject(nil, "the central directory is \(end.cdSize) bytes, more than the limit of \(limits.maxCentralDirectorySize); raise the limit or split the archive")
        }
        if end.count > UInt64(limits.maxEntries) {
            throw reject(nil, "the archive has \(end.count) entries, more than the limit of \(limits.maxEntries); raise the limit or split the archive")
        }
        if end.count > end.cdSize / ZipConst.centralHeaderSize {
            throw reject(nil, "the end record claims \(end.count) entries but the central directory is only \(end.cdSize) bytes; the archive is corrupt")
        }
        return end
    }

    private func readZip64End(locator: UInt64, classic: End) throws -> End {
        let loc = try read(Int(ZipConst.zip64LocatorSize), at: locator, entry: nil)
        let recordOffset = ZipLE.u64(loc, 8)
        if ZipLE.u32(loc, 4) != 0 || ZipLE.u32(loc, 16) > 1 {
            throw reject(nil, "split or spanned (multi-disk) ZIP64 archives are not supported; join the parts into one archive first")
        }
        let (recEnd, overflow) = recordOffset.addingReportingOverflow(ZipConst.zip64EndSize)
        if overflow || recEnd > locator {
            throw reject(nil, "the ZIP64 end of central directory locator points outside the archive (offset \(recordOffset)); the archive is corrupt", offset: locator)
        }
        let r = try read(Int(ZipConst.zip64EndSize), at: recordOffset, entry: nil)
        if ZipLE.u32(r, 0) != ZipSig.zip64End {
            throw reject(nil, "the ZIP64 end of central directory record is missing at offset \(recordOffset); the archive is corrupt", offset: recordOffset)
        }
        let recordSize = ZipLE.u64(r, 4)
        if recordSize < ZipConst.zip64EndSize - 12 || recordSize > locator - recordOffset - 12 {
            throw reject(nil, "the ZIP64 end of central directory record declares a bad size (\(recordSize)); the archive is corrupt", offset: recordOffset)
        }
        if ZipLE.u32(r, 16) != 0 || ZipLE.u32(r, 20) != 0 || ZipLE.u64(r, 24) != ZipLE.u64(r, 32) {
            throw reject(nil, "split or spanned (multi-disk) ZIP64 archives are not supported; join the parts into one archive first")
        }
        let end = End(count: ZipLE.u64(r, 32), cdSize: ZipLE.u64(r, 40), cdOffset: ZipLE.u64(r, 48), recordsStart: recordOffset)
        if (classic.count != ZipConst.max16 && classic.count != end.count)
            || (classic.cdSize != ZipConst.max32 && classic.cdSize != end.cdSize)
            || (classic.cdOffset != ZipConst.max32 && classic.cdOffset != end.cdOffset) {
            throw reject(nil, "the ZIP64 end record disagrees with the classic end record about the central directory; the archive is corrupt")
        }
        return end
    }

    // MARK: - Central directory

    private func readCentralDirectory(_ end: End) throws {
        let cd = try read(Int(end.cdSize), at: end.cdOffset, entry: nil)
        var p = 0
        var total: UInt64 = 0
        entries.reserveCapacity(Int(end.count))
        for index in 0..<Int(end.count) {
            func truncated() -> CairnError {
                reject(nil, "the central directory is truncated at entry #\(index + 1) of \(end.count); the archive is corrupt", offset: end.cdOffset + UInt64(p))
            }
            guard p + Int(ZipConst.centralHeaderSize) <= cd.count else { throw truncated() }
            if ZipLE.u32(cd, p) != ZipSig.central {
                throw reject(nil, "central directory entry #\(index + 1) has a bad signature; the archive is corrupt", offset: end.cdOffset + UInt64(p))
            }
            let madeBy = ZipLE.u16(cd, p + 4), flags = ZipLE.u16(cd, p + 8), rawMethod = ZipLE.u16(cd, p + 10)
            let dosTime = ZipLE.u16(cd, p + 12), dosDate = ZipLE.u16(cd, p + 14), crc = ZipLE.u32(cd, p + 16)
            var csize = UInt64(ZipLE.u32(cd, p + 20)), usize = UInt64(ZipLE.u32(cd, p + 24))
            let nameLength = Int(ZipLE.u16(cd, p + 28)), extraLength = Int(ZipLE.u16(cd, p + 30)), commentLength = Int(ZipLE.u16(cd, p + 32))
            var disk = UInt64(ZipLE.u16(cd, p + 34))
            let external = ZipLE.u32(cd, p + 38)
            var offset = UInt64(ZipLE.u32(cd, p + 42))
            let nameStart = p + Int(ZipConst.centralHeaderSize)
            let next = nameStart + nameLength + extraLength + commentLength
            guard next <= cd.count else { throw truncated() }
            let storedName = Array(cd[nameStart..<nameStart + nameLength])
            let nameBytes = decodeName(storedName, utf8Flag: flags & ZipConst.flagUTF8 != 0)
            let name = FileName.escape(nameBytes)
            // Extra fields: ZIP64 sizes/offset and the extended timestamp.
            var mtime: Int64?
            var zip64Seen = false
            var aesExtra: (ZipAESInfo, UInt16)?
            var q = nameStart + nameLength
            let extraEnd = q + extraLength
            while q < extraEnd {
                guard q + 4 <= extraEnd, q + 4 + Int(ZipLE.u16(cd, q + 2)) <= extraEnd else {
                    throw reject(name, "has a malformed extra field (its length runs past the header); the archive is corrupt")
                }
                let id = ZipLE.u16(cd, q), size = Int(ZipLE.u16(cd, q + 2))
                var f = q + 4
                let fEnd = f + size
                if id == ZipConst.extraZip64 {
                    zip64Seen = true
                    func take(_ n: Int) throws -> UInt64 {
                        guard f + n <= fEnd else { throw reject(name, "has a ZIP64 extra field that is too short for the values it must hold; the archive is corrupt") }
                        defer { f += n }
                        return n == 8 ? ZipLE.u64(cd, f) : UInt64(ZipLE.u32(cd, f))
                    }
                    if usize == ZipConst.max32 { usize = try take(8) }
                    if csize == ZipConst.max32 { csize = try take(8) }
                    if offset == ZipConst.max32 { offset = try take(8) }
                    if disk == ZipConst.max16 { disk = try take(4) }
                } else if id == ZipConst.extraTimestamp && size >= 5 && cd[f] & 1 != 0 {
                    mtime = Int64(Int32(bitPattern: ZipLE.u32(cd, f + 1)))
                } else if id == ZipAESConst.extraId {
                    aesExtra = ZipAESConst.parseExtra(cd, f, size)
                }
                q = fEnd
            }
            if !zip64Seen && (usize == ZipConst.max32 || csize == ZipConst.max32 || offset == ZipConst.max32 || disk == ZipConst.max16) {
                throw reject(name, "uses ZIP64 size or offset markers but has no ZIP64 extra field; the archive is corrupt")
            }
            if disk != 0 { throw reject(name, "starts on another disk; split or spanned archives are not supported") }
            if flags & (ZipConst.flagStrongEncryption | ZipConst.flagMaskedHeaders) != 0
                || (flags & ZipConst.flagEncrypted != 0 && rawMethod != ZipAESConst.method) {
                throw reject(name, "is encrypted; decrypt the archive with the tool that made it and import the result")
            }
            var method = rawMethod
            var aes: ZipAESInfo?
            if method == ZipAESConst.method {
                guard flags & ZipConst.flagEncrypted != 0, let (info, actual) = aesExtra else {
                    throw reject(name, "is encrypted (method 99) but lacks the encryption flag or a valid WinZip AES extra field (0x9901); the archive is corrupt")
                }
                guard password != nil else {
                    throw reject(name, "is encrypted (WinZip AES); give its password (CAIRN_PASSWORD, --password-file or --password-command)")
                }
                guard csize >= info.overhead else {
                    throw reject(name, "is encrypted but its \(csize) bytes of data cannot hold the \(info.overhead)-byte AES salt, verifier and authentication code; the archive is corrupt")
                }
                aes = info
                method = actual
            }
            if method != 0 && method != 8 {
                throw reject(name, "uses compression method \(method), which is unsupported (only store and deflate are); re-create the archive with deflate")
            }
            let (kind, mode) = try classify(name: name, slash: nameBytes.last == ZipSafety.slash, madeBy: madeBy, external: external)
            if kind == .directory && (usize != 0 || csize > 2) {
                throw reject(name, "is a directory but has \(usize) bytes of content; the archive is corrupt or hostile")
            }
            if method == 0 && csize - (aes?.overhead ?? 0) != usize {
                throw reject(name, "is stored uncompressed but declares compressed size \(csize) and size \(usize); the sizes lie, the archive is corrupt")
            }
            if limits.checkRatioOnOpen && usize > limits.ratioFloor && usize / max(csize, 1) > limits.maxRatio {
                throw reject(name, "declares a compression ratio of \(usize / max(csize, 1)):1 (\(usize) bytes from \(csize)), above the limit of \(limits.maxRatio):1; this looks like a zip bomb")
            }
            total = total &+ usize
            if let cap = limits.maxTotalSize, total > cap || total < usize {
                throw reject(name, "takes the archive's uncompressed total past the size limit of \(cap) bytes; raise the limit or import a smaller archive")
            }
            let path = FileName(bytes: nameBytes.last == ZipSafety.slash ? nameBytes.dropLast() : nameBytes[...])
            entries.append(ZipEntry(index: index, name: name, path: path.escaped, nameBytes: nameBytes, pathName: path, kind: kind, mode: mode,
                                    mtime: mtime ?? ZipTime.unix(dosTime: dosTime, dosDate: dosDate),
                                    method: method, flags: flags, crc: crc, compressedSize: csize, size: usize,
                                    localHeaderOffset: offset, targetBytes: nil, storedName: storedName, dataLimit: 0, aes: aes))
            p = next
        }
        if p != cd.count {
            throw reject(nil, "the central directory has \(cd.count - p) bytes beyond its \(end.count) entries; the archive is corrupt", offset: end.cdOffset + UInt64(p))
        }
    }

    /// Names are bytes. With the UTF-8 flag (Cairn always sets it) or when they are valid UTF-8
    /// they are kept as stored, invalid UTF-8 included; legacy names without the flag that are not
    /// UTF-8 are IBM code page 437 (APPNOTE appendix D) and are mapped to its UTF-8 bytes.
    private func decodeName(_ bytes: [UInt8], utf8Flag: Bool) -> [UInt8] {
        if utf8Flag || limits.rawLegacyNames || !bytes.contains(where: { $0 >= 0x80 }) || String(validating: bytes, as: UTF8.self) != nil { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            if b < 0x80 { out.append(b) } else { out += Array(String(ZipReader.cp437High[Int(b) - 0x80]).utf8) }
        }
        return out
    }

    private static let cp437High: [Unicode.Scalar] = Array(
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{00A0}".unicodeScalars)

    /// Kind and permission bits from the external attributes (Unix hosts) or the name.
    private func classify(name: String, slash: Bool, madeBy: UInt16, external: UInt32) throws -> (ZipEntryKind, UInt32) {
        let host = madeBy >> 8
        let unix = external >> 16
        var kind: ZipEntryKind = slash || external & 0x10 != 0 ? .directory : .file
        var mode: UInt32 = kind == .directory ? 0o755 : 0o644
        if (host == 3 || host == 19) && unix != 0 {
            switch unix & UInt32(S_IFMT) {
            case UInt32(S_IFREG): kind = .file
            case UInt32(S_IFDIR): kind = .directory
            case UInt32(S_IFLNK): kind = .symlink
            case 0: break
            default:
                throw reject(name, "is a special file (mode \(String(unix, radix: 8))): devices, FIFOs and sockets cannot be imported; remove it from the archive")
            }
            mode = unix & 0o7777
        }
        if slash && kind != .directory {
            throw reject(name, "ends with \"/\" but its attributes say it is a \(kind == .symlink ? "symlink" : "file"); the archive is corrupt or hostile")
        }
        return (kind, mode)
    }

    /// Every entry's local header and data must fit before the next entry and the central directory.
    private func checkLayout(cdOffset: UInt64) throws {
        let order = entries.indices.sorted { entries[$0].localHeaderOffset < entries[$1].localHeaderOffset }
        for (k, i) in order.enumerated() {
            let e = entries[i]
            let limit = k + 1 < order.count ? entries[order[k + 1]].localHeaderOffset : cdOffset
            let (minEnd, o1) = e.localHeaderOffset.addingReportingOverflow(ZipConst.localHeaderSize + UInt64(e.storedName.count))
            let (dataEnd, o2) = minEnd.addingReportingOverflow(e.compressedSize)
            if o1 || o2 || dataEnd > limit {
                if k + 1 < order.count {
                    let other = entries[order[k + 1]]
                    throw reject(e.name, "overlaps entry \(ZipLE.quote(other.name)) (its data runs past offset \(other.localHeaderOffset)); overlapping entries are a zip-bomb technique, the archive is rejected", offset: e.localHeaderOffset)
                }
                throw reject(e.name, "has data that overlaps the central directory at offset \(cdOffset); the archive is truncated or hostile", offset: e.localHeaderOffset)
            }
            entries[i].dataLimit = limit
        }
    }

    private func readSymlinkTarget(_ e: ZipEntry) throws -> [UInt8] {
        if e.size == 0 || e.size > UInt64(limits.maxSymlinkTarget) {
            throw reject(e.name, "is a symlink with a \(e.size)-byte target (allowed: 1 to \(limits.maxSymlinkTarget)); the archive is corrupt or hostile")
        }
        let bytes = try contents(e)
        if bytes.contains(0) { throw reject(e.name, "is a symlink whose target contains a NUL byte; the archive is corrupt or hostile") }
        return bytes
    }
}
