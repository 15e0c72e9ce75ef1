// Upload sources: positional, re-readable byte providers, so a backend streams an upload in
// bounded chunks and can send it again on a retry or split it into multipart parts.

#if canImport(Glibc)
import Glibc
#endif

/// Bytes to upload, readable at any offset any number of times.
public protocol ByteSource: Sendable {
    /// Total length in bytes.
    var length: UInt64 { get }
    /// Fills `buffer` with bytes from `offset`; returns the count (short only at the end).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteSource {
    /// Calls `body` with consecutive chunks of `[offset, offset+count)`, at most `bufferSize` each,
    /// through one reused buffer (memory bounded by `bufferSize`).
    public func forEachChunk(from offset: UInt64 = 0, count: UInt64? = nil, bufferSize: Int = 1 << 20,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let end = min(length, offset.addingReportingOverflow(count ?? length).overflow ? length : offset + (count ?? length))
        var pos = offset
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bufferSize, 1), alignment: 16)
        defer { buf.deallocate() }
        while pos < end {
            let want = Int(min(UInt64(buf.count), end - pos))
            let got = try read(at: pos, into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<want]))
            guard got > 0 else {
                throw StorageError(.fatal, "upload source ended at byte \(pos) of \(length); the file changed while it was being stored, run the command again")
            }
            try body(UnsafeRawBufferPointer(rebasing: buf[0..<got]))
            pos += UInt64(got)
        }
    }
}

/// Bytes held in memory.
public struct BytesSource: ByteSource {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var length: UInt64 { UInt64(bytes.count) }
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < UInt64(bytes.count) else { return 0 }
        let start = Int(offset)
        let n = min(buffer.count, bytes.count - start)
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + start, byteCount: n)
        }
        return n
    }
}

/// A region of an open file (e.g. a spooled pack), read with `pread`. The caller keeps the file
/// descriptor open and unchanged until the upload finished.
public struct FileRegionSource: ByteSource {
    public let fd: Int32
    public let offset: UInt64
    public let length: UInt64
    /// A message name for errors (the file's path, escaped by the caller).
    public let displayName: String

    public init(fd: Int32, offset: UInt64 = 0, length: UInt64, displayName: String) {
        self.fd = fd
        self.offset = offset
        self.length = length
        self.displayName = displayName
    }

    public func read(at pos: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard pos < length, buffer.count > 0 else { return 0 }
        let want = Int(min(UInt64(buffer.count), length - pos))
        guard let at = off_t(exactly: offset + pos) else { throw StorageError(.fatal, "offset \(offset + pos) of \(displayName) is out of range") }
        while true {
            let n = pread(fd, buffer.baseAddress, want, at)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw StorageError.posix("read", displayName, errno)
        }
    }
}
