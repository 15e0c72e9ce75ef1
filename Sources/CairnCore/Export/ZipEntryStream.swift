// Streaming reader for one ZIP entry: checks the local header against the central directory,
// then yields stored or inflated bytes while enforcing the declared sizes, the zip-bomb ratio
// and, at the end, the CRC-32.

#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Streams one entry's uncompressed content. `read(into:)` returns 0 only after the whole
/// content arrived and its size and CRC-32 matched the central directory; any lie throws.
public final class ZipEntryStream {
    public let entry: ZipEntry
    private let reader: ZipReader
    /// Next compressed byte to read and how many remain.
    private var inputOffset: UInt64
    private var inputRemaining: UInt64
    private var produced: UInt64 = 0
    private var crc: UInt32 = 0
    private var done = false
    private var zstream: UnsafeMutablePointer<z_stream>?
    private var inBuffer: UnsafeMutableRawPointer?
    private let inSize = 64 << 10

    private let maxRatio: UInt64
    /// Encrypted entries: the decryptor and where the authentication code lies.
    private var decryptor: ZipAESDecryptor?
    private var macOffset: UInt64 = 0

    init(reader: ZipReader, entry: ZipEntry, maxRatio: UInt64) throws {
        self.reader = reader
        self.entry = entry
        self.maxRatio = maxRatio
        let h = try reader.read(Int(ZipConst.localHeaderSize), at: entry.localHeaderOffset, entry: entry.name)
        if ZipLE.u32(h, 0) != ZipSig.local {
            throw reader.reject(entry.name, "has no local header signature at offset \(entry.localHeaderOffset); the archive is corrupt", offset: entry.localHeaderOffset)
        }
        let flags = ZipLE.u16(h, 6), method = ZipLE.u16(h, 8), crc = ZipLE.u32(h, 14)
        let csize = ZipLE.u32(h, 18), usize = ZipLE.u32(h, 22)
        let nameLength = Int(ZipLE.u16(h, 26)), extraLength = UInt64(ZipLE.u16(h, 28))
        // Offsets are checked against the file by `read`; the sums here must not wrap either
        // (a `ZipEntry` is a public value a caller could change).
        let (nameOffset, o1) = entry.localHeaderOffset.addingReportingOverflow(ZipConst.localHeaderSize)
        if o1 { throw reader.reject(entry.name, "has a local header offset past the end of any file; the archive is corrupt", offset: entry.localHeaderOffset) }
        let nameBytes = try reader.read(nameLength, at: nameOffset, entry: entry.name)
        if nameBytes != entry.storedName {
            let local = FileName.escape(nameBytes)
            throw reader.reject(entry.name, "has a local header that names it \(ZipLE.quote(local)); names that differ between headers are a smuggling technique, the archive is rejected", offset: entry.localHeaderOffset)
        }
        if flags & ZipConst.flagEncrypted != 0 && entry.aes == nil {
            throw reader.reject(entry.name, "is encrypted (local header); decrypt the archive with the tool that made it and import the result")
        }
        var differs = entry.aes == nil ? method != entry.method : (method != ZipAESConst.method || flags & ZipConst.flagEncrypted == 0)
        if flags & ZipConst.flagDescriptor == 0 {
            differs = differs || crc != entry.crc
                || (UInt64(csize) != ZipConst.max32 && UInt64(csize) != entry.compressedSize)
                || (UInt64(usize) != ZipConst.max32 && UInt64(usize) != entry.size)
        }
        if differs {
            throw reader.reject(entry.name, "has a local header whose method, CRC or sizes disagree with the central directory; the archive is corrupt or hostile", offset: entry.localHeaderOffset)
        }
        inputOffset = nameOffset + UInt64(nameLength) + extraLength
        inputRemaining = entry.compressedSize
        let (dataEnd, o2) = inputOffset.addingReportingOverflow(inputRemaining)
        if o2 || dataEnd > entry.dataLimit || dataEnd > reader.fileSize {
            throw reader.reject(entry.name, "has data that runs past offset \(entry.dataLimit), into the next entry or the central directory; the archive is corrupt or hostile", offset: inputOffset)
        }
        if let info = entry.aes {
            guard inputRemaining >= info.overhead, let password = try reader.password?.bytes() else {
                throw reader.reject(entry.name, "is encrypted and no password was given, or its data is too short for the AES header; give the password (CAIRN_PASSWORD, --password-file or --password-command)")
            }
            let head = try reader.read(info.saltLength + ZipAESConst.verifierLength, at: inputOffset, entry: entry.name)
            guard let d = try ZipAESDecryptor(password: password, salt: Array(head[0..<info.saltLength]), verifier: Array(head[info.saltLength...]), info: info) else {
                throw CairnError(.wrongPassword, "the password does not open ZIP entry \(ZipLE.quote(entry.name)) in \(reader.path) (its AES password check fails); give the password the archive was made with", path: reader.path)
            }
            decryptor = d
            inputOffset += UInt64(head.count)
            inputRemaining -= info.overhead
            macOffset = inputOffset + inputRemaining
        }
        if entry.method == 8 {
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            let rc = inflateInit2_(z, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            if rc != Z_OK {
                z.deallocate()
                throw CairnError(.internalError, "zlib inflateInit2 failed (\(rc)); the process may be out of memory")
            }
            zstream = z
            inBuffer = UnsafeMutableRawPointer.allocate(byteCount: inSize, alignment: 16)
        }
    }

    deinit { release() }

    private func release() {
        if let z = zstream {
            inflateEnd(z)
            z.deallocate()
            zstream = nil
        }
        inBuffer?.deallocate()
        inBuffer = nil
    }

    /// Fills `buffer` with the next content bytes; returns 0 at the verified end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !done, let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n: Int
        do {
            n = zstream == nil ? try readStored(out, buffer.count) : try readDeflated(out, buffer.count)
        } catch let e as CairnError where decryptor != nil && e.code == .invalidInput {
            throw try authenticationFailure() ?? e
        }
        if n > 0 {
            crc = CRC32.checksum(UnsafeRawBufferPointer(start: out, count: n), seed: crc)
            produced += UInt64(n)
        }
        if done { try verify() }
        return n
    }

    private func readStored(_ out: UnsafeMutableRawPointer, _ count: Int) throws -> Int {
        let n = Int(min(UInt64(min(count, 1 << 30)), inputRemaining))
        if n > 0 {
            try reader.file.pread(into: out, count: n, offset: inputOffset)
            decryptor?.decrypt(UnsafeMutableRawBufferPointer(start: out, count: n))
            inputOffset += UInt64(n)
            inputRemaining -= UInt64(n)
        }
        if inputRemaining == 0 { done = true }
        return n
    }

    private func readDeflated(_ out: UnsafeMutableRawPointer, _ count: Int) throws -> Int {
        guard let z = zstream, let input = inBuffer else { return 0 }
        let limit = min(count, 1 << 30)
        while true {
            if z.pointee.avail_in == 0 && inputRemaining > 0 {
                let n = Int(min(UInt64(inSize), inputRemaining))
                try reader.file.pread(into: input, count: n, offset: inputOffset)
                decryptor?.decrypt(UnsafeMutableRawBufferPointer(start: input, count: n))
                inputOffset += UInt64(n)
                inputRemaining -= UInt64(n)
                z.pointee.next_in = input.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_in = uInt(n)
            }
            z.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_out = uInt(limit)
            let rc = inflate(z, Z_NO_FLUSH)
            let got = limit - Int(z.pointee.avail_out)
            switch rc {
            case Z_OK, Z_BUF_ERROR, Z_STREAM_END:
                break
            case Z_NEED_DICT, Z_DATA_ERROR:
                let why = z.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw reader.reject(entry.name, "has corrupt deflate data (\(why)) after \(produced + UInt64(got)) bytes; re-create or re-download the archive")
            default:
                throw CairnError(.internalError, "zlib inflate failed (\(rc)) on \(entry.name); the process may be out of memory")
            }
            let total = produced + UInt64(got)
            if total > entry.size {
                throw reader.reject(entry.name, "inflates to more than its declared \(entry.size) bytes; the sizes lie, the archive is corrupt or hostile")
            }
            let consumed = UInt64(z.pointee.total_in)
            if total > reader.limits.ratioFloor && total / max(consumed, 1) > maxRatio {
                throw reader.reject(entry.name, "exceeded the compression ratio limit of \(maxRatio):1 while inflating (\(total) bytes from \(consumed)); this looks like a zip bomb")
            }
            if rc == Z_STREAM_END {
                let unused = UInt64(z.pointee.avail_in) + inputRemaining
                if unused > 0 {
                    throw reader.reject(entry.name, "declares \(entry.compressedSize) compressed bytes but its deflate stream ends after \(entry.compressedSize - unused); the sizes lie, the archive is corrupt or hostile")
                }
                done = true
                return got
            }
            if got > 0 { return got }
            if z.pointee.avail_in == 0 && inputRemaining == 0 {
                throw reader.reject(entry.name, "has a deflate stream that is cut off after \(entry.compressedSize) compressed bytes (no end marker); the archive is truncated or its sizes lie")
            }
        }
    }

    /// Checks the authentication code of all ciphertext and returns the error to report when it
    /// fails (a changed byte), else nil.
    private func checkAuthentication(_ d: ZipAESDecryptor) throws -> CairnError? {
        decryptor = nil
        let code = try reader.read(ZipAESConst.macLength, at: macOffset, entry: entry.name)
        if d.verify(code) { return nil }
        return reader.reject(entry.name, "fails its AES authentication code check: its encrypted data was changed after the archive was made; re-create or re-download it", offset: macOffset)
    }

    /// After a decoding error in an encrypted entry: authenticates the rest of the ciphertext, so
    /// a changed byte is reported as such rather than as the deflate or size error it caused.
    private func authenticationFailure() throws -> CairnError? {
        guard let d = decryptor else { return nil }
        var scratch = [UInt8](repeating: 0, count: 64 << 10)
        while inputRemaining > 0 {
            let n = Int(min(UInt64(scratch.count), inputRemaining))
            try scratch.withUnsafeMutableBytes { b in
                try reader.file.pread(into: b.baseAddress!, count: n, offset: inputOffset)
                d.decrypt(UnsafeMutableRawBufferPointer(rebasing: b[0..<n]))
            }
            inputOffset += UInt64(n)
            inputRemaining -= UInt64(n)
        }
        return try checkAuthentication(d)
    }

    private func verify() throws {
        release()
        if let d = decryptor, let failure = try checkAuthentication(d) { throw failure }
        if produced != entry.size {
            throw reader.reject(entry.name, "holds \(produced) bytes but declares \(entry.size); the sizes lie, the archive is corrupt or hostile")
        }
        if crc != entry.crc && entry.aes?.version != 2 {
            throw reader.reject(entry.name, "fails its CRC-32 check (archive says \(ZipLE.hex(entry.crc)), content gives \(ZipLE.hex(crc))); the archive is corrupt, re-create or re-download it")
        }
    }
}

/// Little-endian field access over byte arrays (callers check bounds) and hex formatting.
enum ZipLE {
    @inline(__always) static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    @inline(__always) static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
    @inline(__always) static func u64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }
    /// A name in double quotes with control characters escaped, so messages stay on one line.
    static func quote<S: StringProtocol>(_ s: S) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F || u == "\"" {
                out += u == "\"" ? "\\\"" : "\\u{" + String(u.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}
