// Materializer: writes snapshot entries to disk, verified, then made durable.
//
// Every data block goes through BlockReader, which checks its SHA-256 before the bytes
// are written, so a damaged repository fails here, inside a staging directory, never in
// a live silo. All-zero blocks become holes (sparse files stay sparse). Each directory
// gets its mode and mtime after its children (setting them before would be undone).
// Durability: by default each finished file is fsynced on a background thread (Syncer.swift)
// while the next ones are written, and `finishSync` waits for them and fsyncs the
// directories before anything is swapped in. `fsyncEach` fsyncs inline instead.

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

    public init(repository: Repository, reader: BlockReader? = nil) {
        repo = repository
        self.reader = reader ?? repository.makeReader()
    }

    /// Writes the children of tree `id` into the existing directory `dir`. `display` names
    /// the directory in errors (e.g. "SILO/sub").
    public func writeTree(_ id: BlockId, into dir: String, display: String) throws {
        let t = try repo.tree(id, reader: reader, path: display)
        for e in t.entries {
            try writeEntry(e, at: dir + "/" + e.name, display: display + "/" + e.name)
        }
        if fsyncEach { try FS.syncDirectory(dir) } else { syncer.directory(dir) }
    }

    /// Creates one entry (file, symlink or whole directory) at `path`, which must not exist.
    public func writeEntry(_ e: TreeEntry, at path: String, display: String) throws {
        try Cancellation.check()
        switch e.kind {
        case .directory:
            if mkdir(path, 0o700) != 0 { throw CairnError.posix("cannot create directory", path: path) }
            counts.dirs += 1
            if let sub = e.subtree { try writeTree(sub, into: path, display: display) }
            try setMetadata(path, e)
        case .symlink:
            if symlink(e.target ?? "", path) != 0 { throw CairnError.posix("cannot create symlink", path: path) }
            counts.symlinks += 1
            if cairn_set_mtime_ns(path, e.mtimeNs) != 0 { throw CairnError.posix("cannot set mtime of", path: path) }
        case .file:
            try writeFile(e, at: path, display: display)
            counts.files += 1
            counts.bytes += e.size
            onProgress?(counts)
        }
    }

    func writeFile(_ e: TreeEntry, at path: String, display: String) throws {
        let f = try PosixFile.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o600)
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
        if ftruncate(f.fd, off_t(e.size)) != 0 { throw CairnError.posix("cannot set size of", path: path) }
        if fchmod(f.fd, mode_t(e.mode & 0o7777)) != 0 { throw CairnError.posix("cannot set mode of", path: path) }
        if fsyncEach { try f.sync() } else { syncer.file(f.fd, path: path) }
        if cairn_set_mtime_ns(path, e.mtimeNs) != 0 { throw CairnError.posix("cannot set mtime of", path: path) }
    }

    func setMetadata(_ path: String, _ e: TreeEntry) throws {
        if fsyncEach { try FS.syncDirectory(path) }
        if chmod(path, mode_t(e.mode & 0o7777)) != 0 { throw CairnError.posix("cannot set mode of", path: path) }
        if cairn_set_mtime_ns(path, e.mtimeNs) != 0 { throw CairnError.posix("cannot set mtime of", path: path) }
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
