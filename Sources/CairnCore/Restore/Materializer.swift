// Materializer: writes snapshot entries to disk, verified, then made durable.
//
// Every data block goes through BlockReader, which checks its SHA-256 before the bytes
// are written, so a damaged repository fails here, inside a staging directory, never in
// a live silo. All-zero blocks become holes (sparse files stay sparse). Each directory
// gets its mode and mtime after its children (setting them before would be undone).
// Durability: by default each finished file is fsynced on a background thread (Syncer.swift)
// while the next ones are written, and `finishSync` waits for them and fsyncs the
// directories before anything is swapped in. `fsyncEach` fsyncs inline instead.
// Names are bytes: every path is built from the entries' raw names. Running as root, owner
// and group are restored (names first, like restic; ids with `numericOwner`); files of one
// hard-link group (same device and inode in the snapshot) become hard links of the first
// one written; times are set with utimensat from seconds and nanoseconds (no wrap).

#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

/// Counts of what a materialisation wrote.
public struct MaterializeCounts: Sendable, Equatable, Codable {
    public var files = 0
    public var dirs = 0
    public var symlinks = 0
    /// Content bytes written (holes count as written: they are part of the file's size).
    public var bytes: UInt64 = 0
    public init() {}
}

/// Writes trees and entries from a repository into directories.
public final class Materializer {
    let repo: Repository
    let reader: BlockReader
    /// Called after each file with the running counts (progress).
    public var onProgress: ((MaterializeCounts) -> Void)?
    public private(set) var counts = MaterializeCounts()
    /// The write-gathering buffer (reused across files).
    private var out = [UInt8](repeating: 0, count: 1 << 20)
    /// fsync every file and directory as it is written (otherwise call `finishSync` at the end).
    public var fsyncEach = false
    private let syncer = Syncer()

    /// Restore owner and group (chown/lchown): by default when running as root.
    public var restoreOwner = geteuid() == 0
    /// Use the stored numeric uid/gid even when the stored user/group name exists here.
    public var numericOwner = false
    private let accounts = Accounts()
    /// The first path written for each hard-link group.
    private var linked: [HardLinkKey: FileName] = [:]

    public init(repository: Repository, reader: BlockReader? = nil) {
        repo = repository
        self.reader = reader ?? repository.makeReader()
    }

    /// Writes the children of tree `id` into the existing directory `dir`. `display` names
    /// the directory in errors (e.g. "SILO/sub").
    public func writeTree(_ id: BlockId, into dir: String, display: String) throws {
        try writeTree(id, into: FileName(utf8: dir), display: display)
    }

    /// `writeTree` into a directory given as bytes.
    public func writeTree(_ id: BlockId, into dir: FileName, display: String) throws {
        let t = try repo.tree(id, reader: reader, path: display)
        for e in t.entries {
            try writeEntry(e, at: dir.appending(e.name), display: display + "/" + e.name.escaped)
        }
        if fsyncEach { try FS.syncDirectory(dir) } else { syncer.directory(dir) }
    }

    /// Creates one entry (file, symlink or whole directory) at `path`, which must not exist.
    public func writeEntry(_ e: TreeEntry, at path: String, display: String) throws {
        try writeEntry(e, at: FileName(utf8: path), display: display)
    }

    /// `writeEntry` at a path given as bytes.
    public func writeEntry(_ e: TreeEntry, at path: FileName, display: String) throws {
        try Cancellation.check()
        switch e.kind {
        case .directory:
            if path.withCString({ mkdir($0, 0o700) }) != 0 { throw CairnError.posix("cannot create directory", path: path.escaped) }
            counts.dirs += 1
            if let sub = e.subtree { try writeTree(sub, into: path, display: display) }
            try setMetadata(path, e)
        case .symlink:
            let ok = (e.target ?? FileName(bytes: [])).withCString { t in path.withCString { symlink(t, $0) } }
            if ok != 0 { throw CairnError.posix("cannot create symlink", path: path.escaped) }
            counts.symlinks += 1
            try setOwner(path, e, fd: nil)
            try FS.setTimes(path, e.mtime)
        case .file:
            if let key = e.linkKey, let first = linked[key],
               first.withCString({ f in path.withCString { link(f, $0) } }) == 0 {
                // Another name of a file already written: the same inode, so nothing more to set.
            } else {
                try writeFile(e, at: path, display: display)
                if let key = e.linkKey { linked[key] = path }
            }
            counts.files += 1
            counts.bytes += e.size
            onProgress?(counts)
        }
    }

    func writeFile(_ e: TreeEntry, at path: FileName, display: String) throws {
        let fd = path.withCString { Glibc.open($0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        if fd < 0 { throw CairnError.posix("cannot open", path: path.escaped) }
        let f = PosixFile(fd: fd, path: path.escaped)
        defer { f.close() }
        // Blocks are gathered into 1 MiB writes; a zero block becomes a hole (a seek).
        var offset: UInt64 = 0
        var used = 0
        let cap = 1 << 20
        func drain() throws {
            if used > 0 {
                try out.withUnsafeBytes { try f.write($0.baseAddress!, count: used) }
                used = 0
            }
        }
        try repo.readContent(e, path: display, reader: reader) { buf in
            if Self.isZero(buf) {
                try drain()
                offset += UInt64(buf.count)
                try f.seek(to: offset)
                return
            }
            if used + buf.count > cap { try drain() }
            if buf.count >= cap {
                try f.write(buf.baseAddress!, count: buf.count)
            } else {
                out.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: used).copyMemory(from: buf.baseAddress!, byteCount: buf.count) }
                used += buf.count
            }
            offset += UInt64(buf.count)
        }
        try drain()
        // A trailing hole: extend the file to its size without writing zeros.
        guard let size = off_t(exactly: e.size), ftruncate(f.fd, size) == 0 else { throw CairnError.posix("cannot set size of", path: f.path) }
        // chown clears setuid/setgid bits: owner first, then the mode.
        try setOwner(path, e, fd: f.fd)
        if fchmod(f.fd, mode_t(e.mode & 0o7777)) != 0 { throw CairnError.posix("cannot set mode of", path: f.path) }
        if fsyncEach { try f.sync() } else { syncer.file(f.fd, path: f.path) }
        try FS.setTimes(path, e.mtime)
    }

    func setMetadata(_ path: FileName, _ e: TreeEntry) throws {
        if fsyncEach { try FS.syncDirectory(path) }
        try setOwner(path, e, fd: nil)
        if path.withCString({ chmod($0, mode_t(e.mode & 0o7777)) }) != 0 { throw CairnError.posix("cannot set mode of", path: path.escaped) }
        try FS.setTimes(path, e.mtime)
    }

    /// Sets the stored owner and group when restoring owners (root) and the entry has them:
    /// the local ids of the stored names when they exist here (unless `numericOwner`), else
    /// the stored ids. Never follows a symlink.
    func setOwner(_ path: FileName, _ e: TreeEntry, fd: Int32?) throws {
        guard restoreOwner, let o = e.owner else { return }
        let uid = numericOwner ? o.uid : accounts.uid(named: o.user) ?? o.uid
        let gid = numericOwner ? o.gid : accounts.gid(named: o.group) ?? o.gid
        let rc = fd.map { fchown($0, uid_t(uid), gid_t(gid)) } ?? path.withCString { lchown($0, uid_t(uid), gid_t(gid)) }
        if rc != 0 { throw CairnError.posix("cannot set owner \(uid):\(gid) of", path: path.escaped) }
    }

    /// Makes everything written so far durable: waits for the background fsyncs (or syncs the
    /// filesystem holding `root` once, for huge trees) and fsyncs the directories created.
    public func finishSync(root: String) throws {
        try syncer.finish(root: root)
    }

    /// True when every byte is zero (checked 8 bytes at a time).
    static func isZero(_ buf: UnsafeRawBufferPointer) -> Bool {
        guard let base = buf.baseAddress, buf.count > 0 else { return false }
        let words = buf.count / 8
        var i = 0
        while i < words {
            if base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != 0 { return false }
            i += 1
        }
        var j = words * 8
        while j < buf.count {
            if base.load(fromByteOffset: j, as: UInt8.self) != 0 { return false }
            j += 1
        }
        return true
    }
}
