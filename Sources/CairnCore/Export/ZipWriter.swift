// Export owns turning snapshot content into standard archives and reading such archives back:
// a strictly sequential, streaming ZIP writer (this file; it works on pipes), the ZIP record
// layouts it shares with the size estimate (ZipFormat.swift), and a hardened ZIP reader with
// hostile-input checks (ZipReader.swift, ZipEntryStream.swift, ZipSafety.swift).

#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Where archive bytes go. Writes are sequential; a sink never seeks.
public protocol ByteSink: AnyObject {
    /// Appends all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes buffered bytes (and makes them durable where that applies). Called by `ZipWriter.finish()`.
    func finish() throws
}

extension ByteSink {
    public func finish() throws {}
}

/// A buffered sink over a file descriptor: a path, or standard output (a pipe works).
public final class FileSink: ByteSink {
    /// The file written to.
    public let file: PosixFile
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0
    private let isRegular: Bool

    /// Creates (or truncates) `path` and writes to it.
    public convenience init(path: String, mode: mode_t = 0o644, bufferSize: Int = 1 << 20) throws {
        try self.init(file: PosixFile.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode), bufferSize: bufferSize)
    }

    /// Writes to an already open file; the sink closes it when it is released.
    public init(file: PosixFile, bufferSize: Int = 1 << 20) {
        self.file = file
        capacity = max(4096, bufferSize)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        var st = Glibc.stat()
        isRegular = fstat(file.fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// A sink on a duplicate of `fd` (1 = standard output); `fd` itself stays open.
    public static func descriptor(_ fd: Int32 = 1, name: String = "<stdout>") throws -> FileSink {
        let d = dup(fd)
        if d < 0 { throw CairnError.posix("cannot duplicate file descriptor \(fd) for", path: name) }
        return FileSink(file: PosixFile(fd: d, path: name))
    }

    deinit { buffer.deallocate() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if bytes.count >= capacity / 2 {
            // Large writes go straight through (after what is buffered) instead of being copied.
            try flush()
            try file.write(base, count: bytes.count)
            return
        }
        if used + bytes.count > capacity { try flush() }
        (buffer + used).copyMemory(from: base, byteCount: bytes.count)
        used += bytes.count
    }

    /// Writes out buffered bytes.
    public func flush() throws {
        if used > 0 {
            try file.write(buffer, count: used)
            used = 0
        }
    }

    /// Flushes, and fsyncs when the sink is a regular file.
    public func finish() throws {
        try flush()
        if isRegular { try file.sync() }
    }
}

/// Collects everything in memory (tests, small archives).
public final class MemorySink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
}

/// One entry's shape for `ZipWriter.estimateStoredSize` and `ZipSizeEstimator`.
public struct ZipEntrySpec: Sendable, Equatable {
    /// The entry name as raw bytes.
    public var name: FileName
    public var kind: ZipEntryKind
    /// Content bytes: file size, symlink target length in bytes, 0 for directories.
    public var size: UInt64
    /// How a file's content will be written (directories and symlinks are always stored).
    public var method: ZipMethod

    /// A spec for a name given as text (its UTF-8 bytes).
    public init(name: String, kind: ZipEntryKind, size: UInt64 = 0, method: ZipMethod = .store) {
        self.init(name: FileName(utf8: name), kind: kind, size: size, method: method)
    }

    public init(name: FileName, kind: ZipEntryKind, size: UInt64 = 0, method: ZipMethod = .store) {
        self.name = name
        self.kind = kind
        self.size = size
        self.method = method
    }
}

/// Adds up the size of an archive entry by entry, as `ZipWriter` lays it out. Exact while
/// every entry is stored (and files are given their `size:`); for deflated entries it uses
/// zlib's deflate bound, so the total is an upper bound.
public struct ZipSizeEstimator: Sendable {
    /// Bytes of local headers, data and descriptors so far (where the central directory starts).
    public private(set) var offset: UInt64 = 0
    /// Bytes of central directory headers so far.
    public private(set) var centralDirectorySize: UInt64 = 0
    /// Entries added.
    public private(set) var count: UInt64 = 0
    /// False once a deflated entry made the total a bound rather than an exact size.
    public private(set) var isExact = true
    /// Sizes for an encrypted archive (`ZipWriter(sink:encryption:)`).
    public let encrypted: Bool

    public init(encrypted: Bool = false) { self.encrypted = encrypted }

    /// Upper bound of raw deflate output for `n` input bytes at the default window and memory
    /// level (zlib's `deflateBound` for those parameters, plus a margin).
    public static func deflateBound(_ n: UInt64) -> UInt64 {
        n + n >> 12 + n >> 14 + n >> 25 + 7 + 64
    }

    /// Adds one entry.
    public mutating func add(_ e: ZipEntrySpec) throws {
        let nameLength = try ZipWriter.entryName(e.name, kind: e.kind).count
        let size = e.kind == .directory ? 0 : e.size
        let method: ZipMethod = e.kind == .file ? e.method : .store
        let aes = encrypted && e.kind == .file
        var compressed: UInt64
        if case .deflate = method {
            compressed = ZipSizeEstimator.deflateBound(size)
            isExact = false
        } else {
            compressed = size
        }
        if aes { compressed += ZipAESInfo.written.overhead }
        let zip64 = ZipLayout.localZip64(size: size, method: method, aes: aes)
        centralDirectorySize += ZipLayout.centralHeaderLength(nameLength: nameLength, uncompressed: size, compressed: compressed, offset: offset, aes: aes)
        offset += ZipLayout.localHeaderLength(nameLength: nameLength, zip64: zip64, aes: aes) + compressed + ZipLayout.descriptorLength(zip64: zip64)
        count += 1
    }

    /// The archive's total size: entries, central directory and end records.
    public var total: UInt64 {
        offset + centralDirectorySize + ZipLayout.endLength(count: count, cdSize: centralDirectorySize, cdOffset: offset)
    }
}

/// A streaming ZIP writer: strictly sequential output (works on a pipe), data descriptors for
/// every entry, UTF-8 names, Unix modes and mtimes, ZIP64 where needed. Not thread-safe.
///
/// Usage: `beginFile` / `writeData`* / `finishFile`, `addDirectory`, `addSymlink`, then `finish`.
/// After any thrown error the writer is unusable (the output is incomplete).
public final class ZipWriter {
    private let sink: ByteSink
    /// Bytes handed to the sink so far.
    public private(set) var bytesWritten: UInt64 = 0
    private var records: [ZipCentralRecord] = []
    private var names: [UInt8] = []
    private var open: OpenEntry?
    private var failed = false
    private var finished = false
    private var zstream: UnsafeMutablePointer<z_stream>?
    private var zlevel: Int32 = Int32.min
    private let outSize = 256 << 10
    private var outBuffer: UnsafeMutableRawPointer?
    private let encryption: ZipEncryption?
    /// The open entry's encryptor (encrypted archives, file entries).
    private var cipher: ZipAESEncryptor?

    private struct OpenEntry {
        var record: ZipCentralRecord
        var name: FileName
        var expectedSize: UInt64?
        var computeCRC: Bool
        var crc: UInt32 = 0
        var deflate: Bool
    }

    /// A writer to `sink`; with `encryption`, every file entry's content is AES-256 encrypted
    /// (WinZip AE-2, ZipAES.swift). Names, sizes, times and symlink targets stay readable.
    public init(sink: ByteSink, encryption: ZipEncryption? = nil) {
        self.sink = sink
        self.encryption = encryption
    }

    deinit {
        if let z = zstream {
            deflateEnd(z)
            z.deallocate()
        }
        outBuffer?.deallocate()
    }

    /// Entries finished so far.
    public var entryCount: Int { records.count }

    // MARK: - Entries

    /// `beginFile` for a name given as text (its UTF-8 bytes).
    public func beginFile(name: String, mode: UInt32 = 0o644, mtimeNs: Int64, method: ZipMethod = .deflate,
                          size: UInt64? = nil, precomputedCRC: Bool = false) throws {
        try beginFile(name: FileName(utf8: name), mode: mode, mtimeNs: mtimeNs, method: method, size: size, precomputedCRC: precomputedCRC)
    }

    /// `addDirectory` for a name given as text.
    public func addDirectory(name: String, mode: UInt32 = 0o755, mtimeNs: Int64) throws {
        try addDirectory(name: FileName(utf8: name), mode: mode, mtimeNs: mtimeNs)
    }

    /// `addSymlink` for a name and target given as text.
    public func addSymlink(name: String, target: String, mode: UInt32 = 0o777, mtimeNs: Int64) throws {
        try addSymlink(name: FileName(utf8: name), target: FileName(utf8: target), mode: mode, mtimeNs: mtimeNs)
    }

    /// Starts a regular file entry.
    /// - Parameters:
    ///   - name: relative path with "/" separators (no "..", ".", empty components, NUL).
    ///   - mode: permission bits (the file type is added).
    ///   - mtimeNs: modification time, nanoseconds since the epoch (stored in seconds).
    ///   - method: `.store` or `.deflate(level:)`.
    ///   - size: the content length when known. With a size, entries under 4 GiB get compact
    ///     32-bit headers and `finishFile` checks that exactly `size` bytes came; without one the
    ///     entry always gets ZIP64 fields. `estimateStoredSize` assumes sizes are given.
    ///   - precomputedCRC: true when the caller will pass `knownCRC` to `finishFile`; the writer
    ///     then does not compute CRC-32 itself.
    public func beginFile(name: FileName, mode: UInt32 = 0o644, mtimeNs: Int64, method: ZipMethod = .deflate,
                          size: UInt64? = nil, precomputedCRC: Bool = false) throws {
        try begin(name: name, kind: .file, mode: mode, mtimeNs: mtimeNs, method: method, size: size, computeCRC: !precomputedCRC)
    }

    /// Streams content of the open file entry.
    public func writeData(_ bytes: UnsafeRawBufferPointer) throws {
        guard var e = open, !failed else { throw misuse("writeData called without an open entry") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        do {
            let n = UInt64(bytes.count)
            e.record.uncompressed += n
            if let expected = e.expectedSize, e.record.uncompressed > expected {
                throw CairnError(.invalidInput, "ZIP entry \(ZipLE.quote(e.name.escaped)) got more than its declared \(expected) bytes; the source changed while exporting, run the export again")
            }
            if e.computeCRC {
                var off = 0
                while off < bytes.count {
                    let m = min(bytes.count - off, 1 << 30)
                    e.crc = CRC32.checksum(UnsafeRawBufferPointer(start: base + off, count: m), seed: e.crc)
                    off += m
                }
            }
            if e.deflate {
                e.record.compressed += try deflate(bytes, finish: false)
            } else {
                try emitData(bytes)
                e.record.compressed += n
            }
            open = e
        } catch {
            failed = true
            throw error
        }
    }

    /// Ends the open file entry: flushes the compressor and writes the data descriptor.
    /// - Parameter knownCRC: CRC-32 of the whole content. Required when the entry began with
    ///   `precomputedCRC: true`; otherwise, when given, it is checked against the computed one.
    public func finishFile(knownCRC: UInt32? = nil) throws {
        guard var e = open, !failed else { throw misuse("finishFile called without an open entry") }
        do {
            if e.deflate { e.record.compressed += try deflate(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) }
            if let c = cipher {
                let code = c.authCode()
                try emit(code)
                e.record.compressed += UInt64(code.count)
                cipher = nil
            }
            if let expected = e.expectedSize, e.record.uncompressed != expected {
                throw CairnError(.invalidInput, "ZIP entry \(ZipLE.quote(e.name.escaped)) got \(e.record.uncompressed) bytes but declared \(expected); the source changed while exporting, run the export again")
            }
            if e.computeCRC {
                if let k = knownCRC, k != e.crc {
                    throw CairnError(.integrity, "ZIP entry \(ZipLE.quote(e.name.escaped)): the content's CRC-32 is \(ZipLE.hex(e.crc)) but the caller expected \(ZipLE.hex(k)); the stored data is damaged, run `cairn check --read-data`")
                }
                e.record.crc = e.crc
            } else {
                guard let k = knownCRC else { throw misuse("finishFile for \(ZipLE.quote(e.name.escaped)) needs knownCRC (the entry began with precomputedCRC: true)") }
                e.record.crc = k
            }
            if e.record.aes { e.record.crc = 0 }  // AE-2: the authentication code replaces CRC-32
            if !e.record.localZip64 && (e.record.compressed >= ZipConst.max32 || e.record.uncompressed >= ZipConst.max32) {
                throw misuse("ZIP entry \(ZipLE.quote(e.name.escaped)) reached 4 GiB but was declared smaller")
            }
            var w = BinaryWriter(capacity: 24)
            ZipRecords.descriptor(&w, crc: e.record.crc, compressed: e.record.compressed, uncompressed: e.record.uncompressed, zip64: e.record.localZip64)
            try emit(w.bytes)
            records.append(e.record)
            open = nil
        } catch {
            failed = true
            throw error
        }
    }

    /// Adds a directory entry (a "/" is appended to `name` when missing).
    public func addDirectory(name: FileName, mode: UInt32 = 0o755, mtimeNs: Int64) throws {
        try begin(name: name, kind: .directory, mode: mode, mtimeNs: mtimeNs, method: .store, size: 0, computeCRC: false)
        try finishFile(knownCRC: 0)
    }

    /// Adds a symbolic link: a stored entry whose content is `target`, with an S_IFLNK mode.
    public func addSymlink(name: FileName, target: FileName, mode: UInt32 = 0o777, mtimeNs: Int64) throws {
        let t = target.bytes
        if t.isEmpty || t.contains(0) {
            throw CairnError(.invalidInput, "cannot add symlink \(ZipLE.quote(name.escaped)) to a ZIP archive: its target is empty or contains a NUL byte")
        }
        try begin(name: name, kind: .symlink, mode: mode, mtimeNs: mtimeNs, method: .store, size: UInt64(t.count), computeCRC: true)
        try t.withUnsafeBytes { try writeData($0) }
        try finishFile()
    }

    /// Writes the central directory and end records, then finishes the sink.
    /// Returns the archive's total size in bytes.
    @discardableResult
    public func finish() throws -> UInt64 {
        guard open == nil, !failed, !finished else { throw misuse("finish called with an open entry, twice, or after a failure") }
        do {
            let cdOffset = bytesWritten
            var w = BinaryWriter(capacity: 1 << 16)
            for r in records {
                ZipRecords.centralHeader(&w, r, name: names[r.nameStart..<r.nameStart + r.nameLength])
                if w.bytes.count >= 1 << 16 - 1024 {
                    try emit(w.bytes)
                    w = BinaryWriter(capacity: 1 << 16)
                }
            }
            try emit(w.bytes)
            let cdSize = bytesWritten - cdOffset
            var end = BinaryWriter(capacity: 128)
            ZipRecords.end(&end, count: UInt64(records.count), cdSize: cdSize, cdOffset: cdOffset)
            try emit(end.bytes)
            try sink.finish()
            finished = true
            return bytesWritten
        } catch {
            failed = true
            throw error
        }
    }

    // MARK: - Size estimate

    /// The exact size of the archive this writer produces for `entries` when every file uses
    /// `.store` and is given its `size:` (directories and symlinks as `addDirectory`/`addSymlink`).
    public static func estimateStoredSize<S: Sequence>(entries: S) throws -> UInt64 where S.Element == ZipEntrySpec {
        var est = ZipSizeEstimator()
        for e in entries {
            var s = e
            s.method = .store
            try est.add(s)
        }
        return est.total
    }

    /// Checks an entry name for writing and returns its bytes; directories get a trailing "/".
    /// Names are raw bytes, written as they are (bit 11 marks the ones that are valid UTF-8).
    static func entryName(_ name: FileName, kind: ZipEntryKind) throws -> [UInt8] {
        var b = name.bytes
        if kind == .directory && b.last != 0x2F { b.append(0x2F) }
        func bad(_ why: String) -> CairnError {
            CairnError(.invalidInput, "cannot add \(ZipLE.quote(name.escaped)) to a ZIP archive: \(why); use a relative path like \"folder/file\"")
        }
        if b.isEmpty || b == [0x2F] { throw bad("the name is empty") }
        if b.first == 0x2F { throw bad("the name is absolute") }
        if b.contains(0) { throw bad("the name contains a NUL byte") }
        if kind != .directory && b.last == 0x2F { throw bad("only directory names may end with \"/\"") }
        let body = kind == .directory ? b.dropLast() : b[...]
        for c in body.split(separator: 0x2F, omittingEmptySubsequences: false) {
            if c.isEmpty { throw bad("the name has an empty component (\"//\")") }
            if c.elementsEqual([0x2E]) || c.elementsEqual([0x2E, 0x2E]) { throw bad("the name has a \(ZipLE.quote(FileName(bytes: c).escaped)) component") }
        }
        if b.count > Int(ZipConst.max16) { throw bad("the name is longer than 65,535 bytes") }
        return b
    }

    // MARK: - Internals

    private func begin(name: FileName, kind: ZipEntryKind, mode: UInt32, mtimeNs: Int64, method: ZipMethod, size: UInt64?, computeCRC: Bool) throws {
        guard open == nil, !failed, !finished else { throw misuse("cannot start \(ZipLE.quote(name.escaped)): another entry is open, or the writer finished or failed") }
        let nameBytes = try Self.entryName(name, kind: kind)
        let seconds = ZipTime.seconds(fromNs: mtimeNs)
        let dos = ZipTime.dos(seconds)
        let aes = encryption != nil && kind == .file
        let zip64 = ZipLayout.localZip64(size: size, method: method, aes: aes)
        var record = ZipCentralRecord(
            nameStart: names.count, nameLength: nameBytes.count, crc: 0,
            externalAttributes: ZipLayout.externalAttributes(kind: kind, permissions: mode),
            mtime: ZipTime.unix32(seconds), method: method.code, dosTime: dos.time, dosDate: dos.date,
            localZip64: zip64, compressed: 0, uncompressed: 0, offset: bytesWritten, aes: aes)
        var w = BinaryWriter(capacity: Int(ZipLayout.localHeaderLength(nameLength: nameBytes.count, zip64: zip64, aes: aes)))
        ZipRecords.localHeader(&w, name: nameBytes, method: method.code, dosTime: dos.time, dosDate: dos.date, mtime: record.mtime, zip64: zip64, aes: aes)
        var isDeflate = false
        if case .deflate(let level) = method {
            isDeflate = true
            try prepareDeflate(level: level)
        }
        do {
            try emit(w.bytes)
            cipher = nil
            if aes, let enc = encryption {
                let c = try ZipAESEncryptor(password: enc.password)
                try emit(c.header)
                record.compressed = UInt64(c.header.count)
                cipher = c
            }
        } catch {
            failed = true
            throw error
        }
        names.append(contentsOf: nameBytes)
        open = OpenEntry(record: record, name: name, expectedSize: size, computeCRC: computeCRC, deflate: isDeflate)
    }

    private func prepareDeflate(level: Int32) throws {
        let level = max(0, min(9, level))
        if let z = zstream, zlevel == level {
            deflateReset(z)
            return
        }
        if let z = zstream {
            deflateEnd(z)
        } else {
            zstream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        }
        zstream!.initialize(to: z_stream())
        let rc = deflateInit2_(zstream!, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        if rc != Z_OK {
            zstream!.deallocate()
            zstream = nil
            throw CairnError(.internalError, "zlib deflateInit2 failed (\(rc)); the process may be out of memory")
        }
        zlevel = level
        if outBuffer == nil { outBuffer = UnsafeMutableRawPointer.allocate(byteCount: outSize, alignment: 16) }
    }

    /// Feeds `input` to the compressor (ending the stream when `finish`) and writes what it
    /// produces through the reused output buffer; returns the compressed bytes written.
    private func deflate(_ input: UnsafeRawBufferPointer, finish: Bool) throws -> UInt64 {
        guard let z = zstream, let out = outBuffer else { throw misuse("deflate stream not initialised") }
        var produced: UInt64 = 0
        var offset = 0
        repeat {
            let chunk = min(input.count - offset, 1 << 30)
            z.pointee.next_in = chunk > 0 ? UnsafeMutablePointer(mutating: (input.baseAddress! + offset).assumingMemoryBound(to: Bytef.self)) : nil
            z.pointee.avail_in = uInt(chunk)
            offset += chunk
            let flush = finish && offset == input.count ? Z_FINISH : Z_NO_FLUSH
            var rc: Int32
            repeat {
                z.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_out = uInt(outSize)
                rc = CZlib.deflate(z, flush)
                if rc == Z_STREAM_ERROR { throw CairnError(.internalError, "zlib deflate failed (\(rc)); this is a bug in Cairn, please report it") }
                let n = outSize - Int(z.pointee.avail_out)
                if n > 0 {
                    try emitData(UnsafeRawBufferPointer(start: out, count: n))
                    produced += UInt64(n)
                }
            } while z.pointee.avail_out == 0 || z.pointee.avail_in > 0 || (flush == Z_FINISH && rc != Z_STREAM_END)
        } while offset < input.count
        return produced
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        bytesWritten += UInt64(bytes.count)
    }

    /// Entry content (stored bytes or deflate output): encrypted when the entry is.
    private func emitData(_ bytes: UnsafeRawBufferPointer) throws {
        if let c = cipher { try c.encrypt(bytes) { try emit($0) } } else { try emit(bytes) }
    }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private func misuse(_ what: String) -> CairnError {
        CairnError(.internalError, "ZipWriter misuse: \(what); this is a bug in Cairn, please report it")
    }
}
