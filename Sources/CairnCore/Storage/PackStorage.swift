// Storage: immutable pack files, behind a narrow protocol.
//
// Owns: the bytes of packs. A pack is written whole to a temporary name, fsynced,
// renamed into place and its directory fsynced (`PackSink.commit`) before any index
// row may refer to it. Packs are never modified after that; prune deletes whole
// packs only after their live blocks were rewritten and re-indexed elsewhere.
// A crash leaves at worst a temporary file (removed on the next open) or a complete
// pack that no index row names yet (reported by check, adopted by --rebuild-index).

#if canImport(Glibc)
import Glibc
#endif

/// Where packs live. `LocalPackStorage` is the folder of a repository; `MemoryPackStorage` serves tests.
public protocol PackStorage: AnyObject {
    /// Writes a complete pack durably under `name`. After it returns, the pack survives a crash.
    func writePack(name: String, bytes: UnsafeRawBufferPointer) throws
    /// Reads `count` bytes at `offset` of pack `name` into `buffer`.
    func read(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws
    /// Reads up to `count` bytes at `offset` into `buffer`; fewer only where the pack ends.
    /// Returns the number of bytes read (read-ahead for consecutive blocks).
    func readAvailable(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int
    /// Size in bytes of pack `name`.
    func size(of name: String) throws -> UInt64
    /// Names of all committed packs.
    func list() throws -> [String]
    /// Deletes pack `name` (missing is fine).
    func remove(_ name: String) throws
    /// A path that identifies the pack in messages.
    func displayPath(_ name: String) -> String
}

extension PackStorage {
    /// Reads `count` bytes of pack `name` at `offset`.
    public func read(pack name: String, offset: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 { try out.withUnsafeMutableBytes { try read(pack: name, offset: offset, count: count, into: $0.baseAddress!) } }
        return out
    }
}

/// Packs as files under `REPO/packs/XX/NAME.pack`.
public final class LocalPackStorage: PackStorage {
    public let root: String
    private var openFiles: [String: PosixFile] = [:]
    private let lock = NSLockish()

    public init(root: String) { self.root = root }

    public func path(_ name: String) -> String { "\(root)/\(name.prefix(2))/\(name).pack" }
    public func displayPath(_ name: String) -> String { path(name) }

    public func writePack(name: String, bytes: UnsafeRawBufferPointer) throws {
        let dir = "\(root)/\(name.prefix(2))"
        try FS.mkdirs(dir)
        let final = path(name)
        let tmp = "\(root)/tmp/\(Leftovers.ownedName(name)).pack.tmp"
        try FS.mkdirs("\(root)/tmp")
        do {
            let f = try PosixFile.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o444)
            try f.write(bytes.baseAddress!, count: bytes.count)
            try f.sync()
            f.close()
            try FS.rename(tmp, final)
            try FS.syncDirectory(dir)
        } catch {
            unlink(tmp)
            throw error
        }
    }

    func file(_ name: String) throws -> PosixFile {
        try lock.locked {
            if let f = openFiles[name] { return f }
            if openFiles.count > 64 { openFiles.removeAll() }
            let p = path(name)
            guard FS.exists(p) else {
                throw CairnError(.integrity, "pack \(p) is missing; run `cairn check` to see the snapshots that need it", path: p)
            }
            let f = try PosixFile.open(p, O_RDONLY)
            openFiles[name] = f
            return f
        }
    }

    public func read(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws {
        try file(name).pread(into: buffer, count: count, offset: offset)
    }

    public func readAvailable(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
        let f = try file(name)
        var done = 0
        while done < count {
            let n = Glibc.pread(f.fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CairnError.posix("cannot read", path: path(name))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    public func size(of name: String) throws -> UInt64 { try FS.lstat(path(name)).size }

    public func list() throws -> [String] {
        guard FS.exists(root) else { return [] }
        var out: [String] = []
        for sub in try FS.list(root) where sub.utf8.count == 2 {
            for f in try FS.list("\(root)/\(sub)") where f.hasSuffix(".pack") {
                let name = String(f.dropLast(5))
                // Only names a writer makes, in the folder of their first two digits.
                if PackFormat.isValidName(name), name.hasPrefix(sub) { out.append(name) }
            }
        }
        return out
    }

    public func remove(_ name: String) throws {
        lock.locked { openFiles[name] = nil }
        if unlink(path(name)) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove pack", path: path(name)) }
    }

    /// Removes temporary files left by an interrupted writer.
    public func cleanTemporaries() {
        try? FS.removeTree("\(root)/tmp")
    }
}

/// Packs in memory, for tests. Thread-safe: `BlockWriter` writes sealed packs from its
/// background queue while the caller's thread reads others, so every access holds `lock`.
public final class MemoryPackStorage: PackStorage, @unchecked Sendable {
    private var stored: [String: [UInt8]] = [:]
    private let lock = NSLockish()
    public init() {}
    /// A copy of every pack, by name.
    public var packs: [String: [UInt8]] { lock.locked { stored } }
    public func writePack(name: String, bytes: UnsafeRawBufferPointer) throws {
        let copy = Array(bytes)
        lock.locked { stored[name] = copy }
    }
    public func read(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws {
        try lock.locked {
            guard let p = stored[name], count >= 0, offset <= UInt64(p.count), UInt64(count) <= UInt64(p.count) - offset else {
                throw CairnError(.integrity, "pack \(name) is missing or short", path: name, offset: offset)
            }
            p.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: count) }
        }
    }
    public func readAvailable(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
        try lock.locked {
            guard let p = stored[name], count >= 0, offset <= UInt64(p.count) else {
                throw CairnError(.integrity, "pack \(name) is missing or short", path: name, offset: offset)
            }
            let n = min(count, p.count - Int(offset))
            p.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: n) }
            return n
        }
    }
    public func size(of name: String) throws -> UInt64 { lock.locked { UInt64(stored[name]?.count ?? 0) } }
    public func list() throws -> [String] { lock.locked { Array(stored.keys) } }
    public func remove(_ name: String) throws { lock.locked { stored[name] = nil } }
    public func displayPath(_ name: String) -> String { "memory:\(name)" }
    /// Flips one byte (tests of corruption detection).
    public func corrupt(_ name: String, at offset: Int) {
        lock.locked {
            guard var p = stored[name], p.indices.contains(offset) else { return }
            p[offset] ^= 0xff
            stored[name] = p
        }
    }
}

/// A tiny mutex over pthread, usable from Swift 6 without Foundation.
public final class NSLockish: @unchecked Sendable {
    private var m = pthread_mutex_t()
    public init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
