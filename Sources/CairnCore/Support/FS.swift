// Path-level file system helpers: directory listing, atomic replace, durable renames.
//
// Names are bytes: the `FileName` overloads (and the directory-fd calls in `FS.At`) take and
// return raw bytes and build the C paths handed to syscalls from them, never through
// `String`. The `String` forms remain for paths Cairn itself chose or a user typed
// (repository files, silo roots).

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

    public static func lstat(_ path: FileName) throws -> FileStat {
        var st = Glibc.stat()
        if path.withCString({ Glibc.lstat($0, &st) }) != 0 { throw CairnError.posix("cannot stat", path: path.escaped) }
        return FileStat(st)
    }

    /// `lstat` of a byte path that returns nil when the path does not exist.
    public static func lstatIfExists(_ path: FileName) throws -> FileStat? {
        var st = Glibc.stat()
        if path.withCString({ Glibc.lstat($0, &st) }) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw CairnError.posix("cannot stat", path: path.escaped)
        }
        return FileStat(st)
    }

    /// Names in a directory as raw bytes (without "." and ".."), in byte order.
    public static func list(_ path: FileName) throws -> [FileName] {
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if fd < 0 { throw CairnError.posix("cannot list directory", path: path.escaped) }
        defer { Glibc.close(fd) }
        return try At.names(fd, display: path.escaped)
    }

    /// A symlink's target as raw bytes.
    public static func readlink(_ path: FileName) throws -> FileName {
        try path.withCString { try At.readlink(AT_FDCWD, $0, display: path.escaped) }
    }

    /// Removes a file, symlink or whole directory tree given as bytes; missing paths are fine.
    public static func removeTree(_ path: FileName) throws {
        guard let st = try lstatIfExists(path) else { return }
        if st.kind == .directory {
            for name in try list(path) { try removeTree(path.appending(name)) }
            if path.withCString({ rmdir($0) }) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove directory", path: path.escaped) }
        } else if path.withCString({ unlink($0) }) != 0 && errno != ENOENT {
            throw CairnError.posix("cannot remove", path: path.escaped)
        }
    }

    /// Calls relative to an open directory descriptor, with names as raw bytes.
    public enum At {
        /// The names in the directory open as `fd` (without "." and ".."), in byte order. The
        /// descriptor stays open and its position is rewound.
        public static func names(_ fd: Int32, display: String) throws -> [FileName] {
            let d = dup(fd)
            if d < 0 { throw CairnError.posix("cannot list directory", path: display) }
            guard let dir = fdopendir(d) else {
                Glibc.close(d)
                throw CairnError.posix("cannot list directory", path: display)
            }
            defer { closedir(dir) }
            rewinddir(dir)
            var names: [FileName] = []
            while let ent = readdir(dir) {
                let name: FileName? = withUnsafePointer(to: &ent.pointee.d_name) {
                    $0.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout.size(ofValue: ent.pointee.d_name)) { p in
                        let n = strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
                        if n == 1 && p[0] == 0x2E { return nil }
                        if n == 2 && p[0] == 0x2E && p[1] == 0x2E { return nil }
                        return FileName(bytes: UnsafeBufferPointer(start: p, count: n))
                    }
                }
                if let name { names.append(name) }
            }
            names.sort()
            return names
        }

        /// `fstatat` without following a final symlink.
        public static func lstat(_ fd: Int32, _ name: FileName, display: @autoclosure () -> String) throws -> FileStat {
            var st = Glibc.stat()
            if name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) != 0 { throw CairnError.posix("cannot stat", path: display()) }
            return FileStat(st)
        }

        /// Opens `name` inside the directory `fd`; `flags` get O_CLOEXEC.
        public static func open(_ fd: Int32, _ name: FileName, _ flags: Int32, display: String) throws -> PosixFile {
            let f = name.withCString { openat(fd, $0, flags | O_CLOEXEC) }
            if f < 0 { throw CairnError.posix("cannot open", path: display) }
            return PosixFile(fd: f, path: display)
        }

        /// Reads the target of the symlink `path` (relative to `fd`) as raw bytes, whatever its length.
        static func readlink(_ fd: Int32, _ path: UnsafePointer<CChar>, display: String) throws -> FileName {
            var size = 256
            while true {
                var buf = [UInt8](repeating: 0, count: size)
                let n = buf.withUnsafeMutableBytes { readlinkat(fd, path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), size) }
                if n < 0 { throw CairnError.posix("cannot read link", path: display) }
                if n < size { return FileName(bytes: buf[0..<n]) }
                guard size < 1 << 20 else { throw CairnError(.io, "\(display): symlink target is longer than 1 MiB", path: display) }
                size *= 4
            }
        }

        /// The target of the symlink `name` inside the directory `fd`.
        public static func readlink(_ fd: Int32, _ name: FileName, display: String) throws -> FileName {
            try name.withCString { try readlink(fd, $0, display: display) }
        }
    }

    /// Names of a folder whose entries Cairn chose (repository files), sorted by their bytes.
    /// Names that are not valid UTF-8 are returned with replacement characters: use the
    /// `FileName` overload for user data.
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

    /// fsyncs a directory given as bytes.
    public static func syncDirectory(_ path: FileName) throws {
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if fd < 0 { throw CairnError.posix("cannot open directory", path: path.escaped) }
        defer { Glibc.close(fd) }
        if fsync(fd) != 0 { throw CairnError.posix("cannot fsync directory", path: path.escaped) }
    }

    /// Sets a path's access and modification times to `t` without following a final symlink
    /// (the full `timespec` range: no nanosecond overflow).
    public static func setTimes(_ path: FileName, _ t: Timestamp) throws {
        var ts = [t.timespec, t.timespec]
        if path.withCString({ utimensat(AT_FDCWD, $0, &ts, AT_SYMLINK_NOFOLLOW) }) != 0 {
            throw CairnError.posix("cannot set mtime of", path: path.escaped)
        }
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

    /// `rename` of byte paths.
    public static func rename(_ from: FileName, _ to: FileName) throws {
        if from.withCString({ f in to.withCString { Glibc.rename(f, $0) } }) != 0 {
            throw CairnError.posix("cannot rename \(from.escaped) to", path: to.escaped)
        }
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

    /// Removes a file, symlink or whole directory tree; missing paths are fine. Works on the
    /// names' bytes below `path`, so names that are not UTF-8 are removed too.
    public static func removeTree(_ path: String) throws { try removeTree(FileName(utf8: path)) }

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

    /// This machine's name: `CAIRN_HOSTNAME` when set and not empty (tests run several "machines"
    /// on one host), else gethostname(2).
    public static func hostname() -> String {
        if let e = getenv("CAIRN_HOSTNAME"), e.pointee != 0 { return String(cString: e) }
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return FS.string(cBuffer: buf)
    }

    /// The user's home folder from the password database (when `HOME` is unset), else /tmp.
    public static func homeDirectory() -> String {
        if let pw = getpwuid(geteuid()), let d = pw.pointee.pw_dir {
            let h = String(cString: d)
            if h.hasPrefix("/") { return h }
        }
        return "/tmp"
    }
}
