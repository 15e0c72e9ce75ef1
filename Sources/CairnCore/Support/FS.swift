// Path-level file system helpers: directory listing, atomic replace, durable renames.

#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

/// Path helpers over POSIX calls. All errors name the path.
public enum FS {
    public static func lstat(_ path: String) throws -> FileStat {
        var st = Glibc.stat()
        if Glibc.lstat(path, &st) != 0 { throw CairnError.posix("cannot stat", path: path) }
        return FileStat(st)
    }

    /// `lstat` that returns nil when the path does not exist.
    public static func lstatIfExists(_ path: String) throws -> FileStat? {
        var st = Glibc.stat()
        if Glibc.lstat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw CairnError.posix("cannot stat", path: path)
        }
        return FileStat(st)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 || (try? lstatIfExists(path)) != nil }

    /// Names in a directory (without "." and ".."), sorted by their UTF-8 bytes.
    public static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw CairnError.posix("cannot list directory", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return names
    }

    public static func readlink(_ path: String) throws -> String {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = Glibc.readlink(path, &buf, 4096)
        if n < 0 { throw CairnError.posix("cannot read link", path: path) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Creates a directory and its parents (like `mkdir -p`).
    public static func mkdirs(_ path: String, mode: mode_t = 0o755) throws {
        if path.isEmpty || path == "/" { return }
        if let st = try lstatIfExists(path) {
            if st.kind == .directory { return }
            throw CairnError(.io, "\(path) exists and is not a directory", path: path)
        }
        try mkdirs(parent(path), mode: mode)
        if Glibc.mkdir(path, mode) != 0 && errno != EEXIST { throw CairnError.posix("cannot create directory", path: path) }
    }

    public static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        if i == path.startIndex { return "/" }
        return String(path[..<i])
    }

    public static func basename(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let i = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: i)...])
    }

    public static func join(_ a: String, _ b: String) -> String {
        if a.isEmpty { return b }
        if b.isEmpty { return a }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// Absolute, normalized form of a path (relative paths are taken from the working directory).
    public static func absolute(_ path: String) -> String {
        var base = path
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: 4096)
            let cwd = getcwd(&buf, 4096) != nil ? FS.string(cBuffer: buf) : "."
            base = cwd + "/" + path
        }
        var parts: [Substring] = []
        for c in base.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// fsyncs a directory so that renames and creations inside it are durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw CairnError.posix("cannot open directory", path: path) }
        defer { Glibc.close(fd) }
        if fsync(fd) != 0 { throw CairnError.posix("cannot fsync directory", path: path) }
    }

    /// Writes `bytes` to `path` atomically and durably: temp file, fsync, rename, fsync of the directory.
    public static func atomicWrite(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            let f = try PosixFile.open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
            try f.write(bytes)
            try f.sync()
            f.close()
            try rename(tmp, path)
        } catch {
            unlink(tmp)
            throw error
        }
        try syncDirectory(parent(path))
    }

    public static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw CairnError.posix("cannot rename \(from) to", path: to) }
    }

    public static func readAll(_ path: String) throws -> [UInt8] {
        let f = try PosixFile.open(path, O_RDONLY)
        defer { f.close() }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try buf.withUnsafeMutableBytes { try f.read(into: $0.baseAddress!, count: 65536) }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Removes a file, symlink or whole directory tree; missing paths are fine.
    public static func removeTree(_ path: String) throws {
        guard let st = try lstatIfExists(path) else { return }
        if st.kind == .directory {
            for name in try list(path) { try removeTree(join(path, name)) }
            if rmdir(path) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove directory", path: path) }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw CairnError.posix("cannot remove", path: path)
        }
    }

    /// Free bytes available to unprivileged users on the filesystem holding `path`.
    public static func freeBytes(_ path: String) throws -> UInt64 {
        var s = statvfs()
        if statvfs(path, &s) != 0 { throw CairnError.posix("cannot statvfs", path: path) }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize)
    }

    /// Decodes a NUL-terminated C buffer as UTF-8.
    public static func string(cBuffer buf: [CChar]) -> String {
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return FS.string(cBuffer: buf)
    }
}
