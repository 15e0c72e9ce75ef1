// Thin, throwing wrappers over POSIX file calls. Every error names the path.

#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

/// A point in time as seconds and nanoseconds since the epoch: the whole `timespec` range, so
/// times before 1678 or after 2262 (outside Int64 nanoseconds) are kept without wrapping.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var seconds: Int64
    /// 0 ..< 1_000_000_000.
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// From nanoseconds since the epoch (floor division, so negative times stay exact).
    public init(ns: Int64) {
        let (q, r) = ns.quotientAndRemainder(dividingBy: 1_000_000_000)
        if r < 0 {
            seconds = q - 1
            nanoseconds = UInt32(r + 1_000_000_000)
        } else {
            seconds = q
            nanoseconds = UInt32(r)
        }
    }

    /// Nanoseconds since the epoch, clamped to the Int64 range.
    public var nanosecondsClamped: Int64 {
        let (m, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (v, o2) = m.addingReportingOverflow(Int64(nanoseconds))
        if o1 || o2 { return seconds < 0 ? Int64.min : Int64.max }
        return v
    }

    /// The value as a C `timespec` (utimensat).
    public var timespec: Glibc.timespec { Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
}

/// The subset of `stat` Cairn records and compares.
public struct FileStat: Sendable, Equatable {
    public enum Kind: Sendable { case file, directory, symlink, other }
    public var kind: Kind
    public var mode: UInt32
    public var size: UInt64
    public var mtime: Timestamp
    public var ctime: Timestamp
    public var inode: UInt64
    public var device: UInt64
    public var uid: UInt32
    public var gid: UInt32
    public var links: UInt64

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        mode = UInt32(st.st_mode & 0o7777)
        size = UInt64(max(0, st.st_size))
        mtime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: UInt32(clamping: st.st_mtim.tv_nsec))
        ctime = Timestamp(seconds: Int64(st.st_ctim.tv_sec), nanoseconds: UInt32(clamping: st.st_ctim.tv_nsec))
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        uid = UInt32(st.st_uid)
        gid = UInt32(st.st_gid)
        links = UInt64(st.st_nlink)
    }

    /// `mtime` in nanoseconds, clamped to the Int64 range.
    public var mtimeNs: Int64 { mtime.nanosecondsClamped }
    /// `ctime` in nanoseconds, clamped to the Int64 range.
    public var ctimeNs: Int64 { ctime.nanosecondsClamped }
}

/// An open file descriptor. Close it explicitly; reads and writes retry on EINTR.
public final class PosixFile {
    public let fd: Int32
    public let path: String
    private var closed = false

    public init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Opens `path` with `flags` (O_* constants); `mode` applies when creating.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> PosixFile {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        if fd < 0 { throw CairnError.posix("cannot open", path: path) }
        return PosixFile(fd: fd, path: path)
    }

    deinit { if !closed { Glibc.close(fd) } }

    public func close() {
        if !closed { Glibc.close(fd); closed = true }
    }

    public func stat() throws -> FileStat {
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { throw CairnError.posix("cannot stat", path: path) }
        return FileStat(st)
    }

    /// Reads up to `count` bytes into `buffer`; returns 0 at end of file.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw CairnError.posix("cannot read", path: path)
        }
    }

    /// Fills `buffer` as far as possible (short only at end of file).
    public func readFully(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = try read(into: buffer + done, count: count - done)
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Positioned read of exactly `count` bytes; throws an integrity error when the file is shorter.
    public func pread(into buffer: UnsafeMutableRawPointer, count: Int, offset: UInt64) throws {
        var done = 0
        while done < count {
            let n = Glibc.pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CairnError.posix("cannot read", path: path)
            }
            if n == 0 {
                throw CairnError(.integrity, "\(path) ends before byte offset \(offset + UInt64(count)); the file is truncated, run `cairn check`", path: path, offset: offset + UInt64(done))
            }
            done += n
        }
    }

    public func pread(count: Int, offset: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try pread(into: $0.baseAddress!, count: count, offset: offset) }
        return out
    }

    /// Writes all of `count` bytes.
    public func write(_ buffer: UnsafeRawPointer, count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, buffer + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CairnError.posix("cannot write", path: path)
            }
            done += n
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { if $0.count > 0 { try write($0.baseAddress!, count: $0.count) } }
    }

    public func sync() throws {
        if fsync(fd) != 0 { throw CairnError.posix("cannot fsync", path: path) }
    }

    public func seek(to offset: UInt64) throws {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 { throw CairnError.posix("cannot seek", path: path) }
    }
}
