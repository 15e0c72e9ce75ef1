// Byte-exact tree digests: names are read from the directory as raw bytes and never pass
// through `String`, so two spellings that `String` would call equal (NFC/NFD) or repair
// (invalid UTF-8) stay distinct.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `byteTreeDigest` records besides names, kinds, modes, sizes and content.
public struct ByteDigestOptions: Sendable {
    public var mtimes = true
    /// uid:gid of every entry.
    public var owners = false
    /// Hard-link groups: files sharing an inode get the same group number (by first path).
    public var links = false
    public init(mtimes: Bool = true, owners: Bool = false, links: Bool = false) {
        self.mtimes = mtimes
        self.owners = owners
        self.links = links
    }
}

/// One line per entry below `root`, depth first in byte order:
/// `HEXPATH dir MODE SEC.NSEC 0 -`, `HEXPATH file MODE SEC.NSEC SIZE SHA256`,
/// `HEXPATH symlink 0 - 0 HEXTARGET` (the format of Tests/Fixtures/format1/digest-*.txt),
/// plus ` uid:gid` and ` link=N` when asked for.
public func byteTreeDigest(_ root: FileName, _ o: ByteDigestOptions = ByteDigestOptions()) throws -> [String] {
    var out: [String] = []
    var groups: [UInt64: Int] = [:]
    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
    func time(_ t: Timestamp) -> String { o.mtimes ? "\(t.seconds).\(String(format: "%09d", t.nanoseconds))" : "-" }
    func walk(_ dir: FileName, _ rel: FileName) throws {
        for n in try FS.list(dir) {
            let p = dir.appending(n), r = rel.appending(n)
            let st = try FS.lstat(p)
            var line: String
            switch st.kind {
            case .directory: line = "\(hex(r.bytes)) dir \(String(st.mode, radix: 8)) \(time(st.mtime)) 0 -"
            case .symlink: line = "\(hex(r.bytes)) symlink 0 - 0 \(hex(try FS.readlink(p).bytes))"
            case .file: line = "\(hex(r.bytes)) file \(String(st.mode, radix: 8)) \(time(st.mtime)) \(st.size) \(try fileSHA(bytes: p))"
            case .other: line = "\(hex(r.bytes)) other"
            }
            if o.owners { line += " \(st.uid):\(st.gid)" }
            if o.links && st.kind == .file && st.links > 1 {
                let g = groups[st.inode] ?? groups.count
                groups[st.inode] = g
                line += " link=\(g)"
            }
            out.append(line)
            if st.kind == .directory { try walk(p, r) }
        }
    }
    try walk(root, FileName(bytes: []))
    return out
}

/// SHA-256 of a file named by raw bytes.
public func fileSHA(bytes path: FileName) throws -> String {
    let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
    if fd < 0 { throw CairnError.posix("cannot open", path: path.escaped) }
    let f = PosixFile(fd: fd, path: path.escaped)
    defer { f.close() }
    let h = SHA256Hasher()
    h.reset()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = try buf.withUnsafeMutableBytes { try f.read(into: $0.baseAddress!, count: 65536) }
        if n == 0 { break }
        buf.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return h.finish().hex
}

/// Creates a file named by raw bytes with `content`.
public func writeFile(bytes path: FileName, _ content: [UInt8], mode: mode_t = 0o644) throws {
    let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
    if fd < 0 { throw CairnError.posix("cannot create", path: path.escaped) }
    let f = PosixFile(fd: fd, path: path.escaped)
    defer { f.close() }
    try f.write(content)
}

/// Creates a directory named by raw bytes.
public func makeDirectory(bytes path: FileName, mode: mode_t = 0o755) throws {
    if path.withCString({ mkdir($0, mode) }) != 0 { throw CairnError.posix("cannot create directory", path: path.escaped) }
}

/// Creates a symlink named by raw bytes pointing at raw bytes.
public func makeSymlink(bytes path: FileName, target: FileName) throws {
    if target.withCString({ t in path.withCString { symlink(t, $0) } }) != 0 { throw CairnError.posix("cannot create symlink", path: path.escaped) }
}

/// Sets a path's mtime (and atime) exactly, without following symlinks; false when the
/// filesystem cannot hold it (read back differs).
public func setExactTime(_ path: FileName, _ t: Timestamp) throws -> Bool {
    try FS.setTimes(path, t)
    return try FS.lstat(path).mtime == t
}
