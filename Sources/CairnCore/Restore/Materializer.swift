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
// Reuse (in-place restores, `reuse` set): a file whose live counterpart is provably the
// stored one (rule at `reusableLive`) is hard-linked from the live tree into staging instead
// of being decoded and written again; it is fsynced like a written file, and the live tree
// itself is not changed (a link only adds a name; the swap then keeps the inode).

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
    /// In-place restores: the staging root being built and the live root it replaces. Files
    /// under `staging` whose live counterpart under `live` passes `reusableLive` are linked, not written.
    public var reuse: (staging: FileName, live: FileName)?
    /// Files linked from the live tree instead of written (see `reuse`).
    public private(set) var reusedFiles = 0

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
                if try !linkLive(e, at: path) { try writeFile(e, at: path, display: display) }
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

    /// The reuse rule: the live file is the stored file when the entry is a plain capture (not
    /// a SQLite capture, not changed while read, not a hard-link group) and the live file has
    /// the entry's inode (and device when recorded), size, mtime and ctime to the nanosecond,
    /// permission bits, one link, and (when owners are restored) the owner that would be set.
    /// ctime is the kernel's: any write, truncate, chmod, chown or rename of the inode since
    /// the snapshot moves it, and it cannot be set back from user space, so a file rewritten
    /// with its old size and mtime put back is never reused. Imported entries (no inode) never are.
    func reusableLive(_ e: TreeEntry, _ st: FileStat) -> Bool {
        guard e.flags & (TreeEntry.flagSQLite | TreeEntry.flagChangedWhileReading) == 0, e.links <= 1, e.inode != 0,
              st.kind == .file, st.links == 1, st.inode == e.inode, e.device == 0 || st.device == e.device,
              st.size == e.size, st.mtime == e.mtime, st.ctime == e.ctime, st.mode & 0o7777 == e.mode & 0o7777 else { return false }
        if restoreOwner, let o = e.owner {
            let uid = numericOwner ? o.uid : accounts.uid(named: o.user) ?? o.uid
            let gid = numericOwner ? o.gid : accounts.gid(named: o.group) ?? o.gid
            return st.uid == uid && st.gid == gid
        }
        return true
    }

    /// Links the live counterpart of `path` into staging when `reuse` is set and it passes
    /// `reusableLive`; false (nothing changed) when the file must be written instead.
    func linkLive(_ e: TreeEntry, at path: FileName) throws -> Bool {
        guard let r = reuse, path.bytes.starts(with: r.staging.bytes) else { return false }
        let live = FileName(bytes: r.live.bytes + path.bytes[r.staging.bytes.count...])
        guard let st = try? FS.lstatIfExists(live), reusableLive(e, st) else { return false }
        guard live.withCString({ l in path.withCString { link(l, $0) } }) == 0 else { return false }
        // The name now in staging must be that inode still (a rename over the live path
        // between the stat and the link would have linked another file): else write it.
        guard let now = try? FS.lstatIfExists(path), now.inode == st.inode, now.size == e.size, now.mtime == e.mtime else {
            _ = path.withCString { unlink($0) }
            return false
        }
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw CairnError.posix("cannot open", path: path.escaped) }
        let f = PosixFile(fd: fd, path: path.escaped)
        defer { f.close() }
        // Durable like a written file (cheap when the live data is already on disk).
        if fsyncEach { try f.sync() } else { syncer.file(f.fd, path: f.path) }
        reusedFiles += 1
        return true
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
