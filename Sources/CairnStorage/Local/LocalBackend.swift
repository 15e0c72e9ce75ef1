// The local folder backend: one file per object under the repository folder (layout in
// `ObjectLayout`, matching format 1's `packs/XX/NAME.pack` and `snapshots/ID.json`).
//
// Crash properties: a put writes `tmp/NAME.RANDOM.tmp`, fsyncs it, links it under the final name
// with renameat2(RENAME_NOREPLACE) (link(2) where the filesystem lacks it; both refuse an existing
// name atomically) and fsyncs the folder. A crash leaves at worst a temporary file, never a partial
// object under its final name. Deletes fsync the folder.

#if canImport(Glibc)
import Glibc
#endif
import CCairnSys
import Synchronization

/// Objects as files in a folder.
public final class LocalBackend: Backend {
    /// The repository folder, as bytes (names are bytes; no String round trip for syscalls).
    public let root: [UInt8]
    public let location: String
    public var writeOnce: WriteOnce { .atomic }
    /// Bytes per `pread`/`write` and the largest chunk handed to a `get` sink.
    public let bufferSize: Int
    private let files = FileCache(capacity: 32)

    /// A backend over the existing folder `root` (bytes of its path).
    public init(root: [UInt8], bufferSize: Int = 1 << 20) {
        var r = root
        while r.count > 1, r.last == UInt8(ascii: "/") { r.removeLast() }
        self.root = r
        location = String(decoding: r, as: UTF8.self)
        self.bufferSize = max(bufferSize, 4096)
    }

    public convenience init(path: String, bufferSize: Int = 1 << 20) {
        self.init(root: Array(path.utf8), bufferSize: bufferSize)
    }

    func path(_ rel: String) -> [CChar] {
        var p = root
        p.append(UInt8(ascii: "/"))
        p += rel.utf8
        return p.map { CChar(bitPattern: $0) } + [0]
    }

    func display(_ rel: String) -> String { location + "/" + rel }

    public func put(_ handle: ObjectHandle, from source: any ByteSource) async throws {
        let rel = ObjectLayout.relativePath(handle)
        let dir = String(rel.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/"))
        if !dir.isEmpty { try makeDirs(dir) }
        try makeDirs("tmp")
        let tmpRel = "tmp/\(handle.type.rawValue)-\(handle.name).\(UInt64.random(in: 0...UInt64.max)).tmp"
        let tmp = path(tmpRel), final = path(rel)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw StorageError.posix("create", display(tmpRel), errno) }
        var linked = false
        defer { if !linked { unlink(tmp) } }
        do {
            defer { close(fd) }
            try source.forEachChunk(bufferSize: bufferSize) { chunk in try writeAll(fd, chunk, display(tmpRel)) }
            guard fsync(fd) == 0 else { throw StorageError.posix("fsync", display(tmpRel), errno) }
        }
        if cairn_rename_noreplace(tmp, final) == 0 {
            linked = true
        } else if errno == EINVAL || errno == ENOSYS {
            guard link(tmp, final) == 0 else { throw putFailed(handle, rel, errno) }
        } else {
            throw putFailed(handle, rel, errno)
        }
        try syncDir(dir)
    }

    private func putFailed(_ h: ObjectHandle, _ rel: String, _ e: Int32) -> StorageError {
        if e == EEXIST { return StorageError(.alreadyExists, "\(display(rel)) already exists; objects are written once", object: rel, errno: e) }
        return StorageError.posix("store", display(rel), e)
    }

    public func get(_ handle: ObjectHandle, range: ByteRange?, sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        let rel = ObjectLayout.relativePath(handle)
        let file = try files.open(handle) { try openRead(rel) }
        let size = try file.size(display(rel))
        var pos = min(range?.offset ?? 0, size)
        let end = min(range?.end ?? size, size)
        guard pos < end else { return }
        let cap = Int(min(UInt64(bufferSize), end - pos))
        try withUnsafeTemporaryAllocation(byteCount: cap, alignment: 16) { buf in
            while pos < end {
                let want = Int(min(UInt64(cap), end - pos))
                let n = pread(file.fd, buf.baseAddress, want, off_t(pos))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError.posix("read", display(rel), errno)
                }
                guard n > 0 else {
                    throw StorageError(.fatal, "\(display(rel)) ended at byte \(pos) while being read; run `cairn check`", object: rel)
                }
                try sink(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                pos += UInt64(n)
            }
        }
    }

    public func stat(_ handle: ObjectHandle) async throws -> ObjectInfo {
        let rel = ObjectLayout.relativePath(handle)
        guard let size = fileSize(path(rel)) else { throw StorageError.posix("stat", display(rel), errno) }
        return ObjectInfo(handle: handle, size: size)
    }

    public func list(_ type: ObjectType, after: String?, limit: Int) async throws -> ListPage {
        let parts = ObjectLayout.parts(type)
        let base = String(parts.dir.dropLast())
        var found: [ObjectInfo] = []
        let want = max(limit, 1)
        if type == .config {
            if let info = try? await stat(.config), after == nil { found.append(info) }
            return ListPage(objects: found, next: nil)
        }
        // Fan-out folders in byte order from the one `after` falls in; each is listed whole.
        let dirs: [String]
        if parts.fanOut {
            let start = after.map { ObjectLayout.fanOutDir($0) }
            dirs = try entries(base).filter { $0.utf8.count == 2 && (start == nil || !ObjectLayout.sorts(start!, after: $0)) }
                .sorted { ObjectLayout.sorts($1, after: $0) }.map { base + "/" + $0 }
        } else {
            dirs = [base]
        }
        for d in dirs {
            var names = try entries(d).compactMap { ObjectLayout.name(fromFile: $0, type: type) }
                .filter { after == nil || ObjectLayout.sorts($0, after: after!) }
            if parts.fanOut { names = names.filter { ObjectLayout.fanOutDir($0) == String(d.utf8.suffix(2))! } }
            names.sort { ObjectLayout.sorts($1, after: $0) }
            for n in names {
                guard let h = ObjectHandle(type, n) else { continue }
                guard let info = try? await stat(h) else { continue }  // deleted meanwhile
                found.append(info)
                if found.count == want { return ListPage(objects: found, next: n) }
            }
        }
        return ListPage(objects: found, next: nil)
    }

    public func delete(_ handle: ObjectHandle) async throws {
        let rel = ObjectLayout.relativePath(handle)
        files.forget(handle)
        if unlink(path(rel)) != 0 {
            if errno == ENOENT { return }
            throw StorageError.posix("delete", display(rel), errno)
        }
        let dir = rel.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(rel.utf8[..<$0])! } ?? ""
        try syncDir(dir)
    }

    /// Removes temporary files of puts that a crash interrupted: `tmp/TYPE-NAME.N.tmp` older than
    /// `age` seconds (younger ones may belong to a writer still running, on this or another
    /// machine sharing the folder). Returns how many were removed.
    @discardableResult
    public func removeStaleTemporaries(olderThan age: Int = 3600) throws -> Int {
        let now = time(nil)
        var removed = 0
        for name in try entries("tmp") where name.hasSuffix(".tmp") && ObjectType.allCases.contains(where: { name.hasPrefix($0.rawValue + "-") }) {
            var st = Glibc.stat()
            let p = path("tmp/" + name)
            guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, now - st.st_mtim.tv_sec > age else { continue }
            if unlink(p) == 0 { removed += 1 }
        }
        return removed
    }

    // MARK: - file system helpers

    private func openRead(_ rel: String) throws -> OpenFile {
        let fd = open(path(rel), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw StorageError(.notFound, "\(display(rel)) does not exist", object: rel, errno: e) }
            throw StorageError.posix("open", display(rel), e)
        }
        return OpenFile(fd: fd)
    }

    /// Creates `rel` and missing parents under the root; fsyncs the parent of each created folder.
    private func makeDirs(_ rel: String) throws {
        if fileSize(path(rel)) != nil { return }
        let comps = rel.split(separator: "/")
        var cur = ""
        for c in comps {
            let parent = cur
            cur = cur.isEmpty ? String(c) : cur + "/" + c
            if mkdir(path(cur), 0o755) == 0 {
                try syncDir(parent)
            } else if errno != EEXIST {
                let e = errno
                if e == ENOENT, parent.isEmpty {
                    throw StorageError(.notFound, "repository folder \(location) does not exist; check the path or run `cairn init`", object: location, errno: e)
                }
                throw StorageError.posix("create folder", display(cur), e)
            }
        }
    }

    private func syncDir(_ rel: String) throws {
        let p = rel.isEmpty ? root.map { CChar(bitPattern: $0) } + [0] : path(rel)
        let fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.posix("open folder", rel.isEmpty ? location : display(rel), errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StorageError.posix("fsync folder", rel.isEmpty ? location : display(rel), errno) }
    }

    /// Names in folder `rel` (missing folder: none). Names not valid UTF-8 are skipped: no object has one.
    private func entries(_ rel: String) throws -> [String] {
        guard let d = opendir(path(rel)) else {
            if errno == ENOENT { return [] }
            throw StorageError.posix("list", display(rel), errno)
        }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name: [UInt8] = withUnsafeBytes(of: e.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name.first == UInt8(ascii: ".") { continue }
            if let s = String(validating: name, as: UTF8.self) { out.append(s) }
        }
        return out
    }
}

/// The size of the file at `p`, or nil with errno set.
private func fileSize(_ p: [CChar]) -> UInt64? {
    var st = stat()
    guard stat(p, &st) == 0 else { return nil }
    return UInt64(max(st.st_size, 0))
}

private func writeAll(_ fd: Int32, _ chunk: UnsafeRawBufferPointer, _ name: String) throws {
    var off = 0
    while off < chunk.count {
        let n = write(fd, chunk.baseAddress! + off, chunk.count - off)
        if n < 0 {
            if errno == EINTR { continue }
            throw StorageError.posix("write", name, errno)
        }
        off += n
    }
}

/// An open read-only descriptor, closed when the last user lets go.
final class OpenFile: Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
    func size(_ name: String) throws -> UInt64 {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.posix("stat", name, errno) }
        return UInt64(max(st.st_size, 0))
    }
}

/// A few open descriptors of recently read objects (objects never change once written).
final class FileCache: Sendable {
    private let open = Mutex<[ObjectHandle: OpenFile]>([:])
    let capacity: Int
    init(capacity: Int) { self.capacity = capacity }

    func open(_ h: ObjectHandle, _ make: () throws -> OpenFile) throws -> OpenFile {
        if let f = open.withLock({ $0[h] }) { return f }
        let f = try make()
        open.withLock { m in
            if m.count >= capacity, let victim = m.keys.first { m.removeValue(forKey: victim) }
            m[h] = f
        }
        return f
    }

    func forget(_ h: ObjectHandle) { _ = open.withLock { $0.removeValue(forKey: h) } }
}
