// Storage: immutable packs and their index objects, behind a narrow protocol.
//
// Owns: the bytes of packs. A pack is `put` whole through the backend (local folder:
// temporary file, fsync, rename, directory fsync) before its index object is stored and
// before any cache row may refer to it. Packs are never modified after that; prune deletes whole
// packs only after their live blocks were rewritten and re-indexed elsewhere.
// A crash leaves at worst a temporary file (removed on the next open) or a complete
// pack that no index row names yet (reported by check, adopted by --rebuild-index).

#if canImport(Glibc)
import Glibc
#endif
import CairnStorage

/// Where packs live. `BackendPackStorage` is a repository's backend; `MemoryPackStorage` serves tests.
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
    /// Stores the index object of the durable pack `name` (its block list, Docs/Format.md).
    func writeIndex(pack name: String, size: UInt64, entries: [PackEntry]) throws
    /// Deletes pack `name` and its index object (missing is fine).
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

/// Packs and their index objects as objects of a `Backend` (through `RepositoryStore`): a pack
/// is `put` whole (durable when it returns), its index object after it; `remove` deletes the index
/// object first, so a crash in between leaves a pack no index object names (an orphan prune
/// deletes), never an index object naming a missing pack. Reads of a local folder use `pread`.
public final class BackendPackStorage: PackStorage {
    public let store: RepositoryStore

    public init(store: RepositoryStore) { self.store = store }

    func pack(_ name: String) throws -> ObjectHandle { try .make(.pack, name) }
    func indexObject(_ name: String) throws -> ObjectHandle { try .make(.index, name) }

    public func displayPath(_ name: String) -> String {
        (try? store.display(pack(name))) ?? "\(store.location)/packs/\(name.prefix(80))"
    }

    public func writePack(name: String, bytes: UnsafeRawBufferPointer) throws {
        try store.put(try pack(name), pointer: bytes)
    }

    public func writeIndex(pack name: String, size: UInt64, entries: [PackEntry]) throws {
        try store.put(try indexObject(name), bytes: IndexObject(pack: name, packSize: size, entries: entries).encoded(), existingIsFine: true)
    }

    public func read(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws {
        let got = try store.read(try pack(name), offset: offset, count: count, into: buffer)
        guard got == count else {
            throw CairnError(.integrity, "pack \(displayPath(name)) ends before byte \(offset + UInt64(count)); run `cairn check --read-data`", path: displayPath(name), offset: offset)
        }
    }

    public func readAvailable(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
        try store.read(try pack(name), offset: offset, count: count, into: buffer)
    }

    public func size(of name: String) throws -> UInt64 {
        guard let n = try store.size(try pack(name)) else {
            throw CairnError(.integrity, "pack \(displayPath(name)) is missing; run `cairn check` to see the snapshots that need it", path: displayPath(name))
        }
        return n
    }

    public func list() throws -> [String] {
        try store.list(.pack).map(\.handle.name).filter(PackFormat.isValidName)
    }

    public func remove(_ name: String) throws {
        try store.delete(try indexObject(name))
        try store.delete(try pack(name))
    }

    /// Removes temporary files of interrupted puts (local folder: `tmp/TYPE-NAME.N.tmp`, and the
    /// `packs/tmp/` of format 2). Only under the exclusive lock: no writer is running.
    public func cleanTemporaries() {
        guard let local = store.local else { return }
        _ = try? local.removeStaleTemporaries(olderThan: 0)
        try? FS.removeTree(store.location + "/packs/tmp")
    }
}

/// Packs in memory, for tests.
public final class MemoryPackStorage: PackStorage {
    public private(set) var packs: [String: [UInt8]] = [:]
    public init() {}
    public private(set) var indexes: [String: IndexObject] = [:]
    public func writePack(name: String, bytes: UnsafeRawBufferPointer) throws { packs[name] = Array(bytes) }
    public func writeIndex(pack name: String, size: UInt64, entries: [PackEntry]) throws {
        indexes[name] = IndexObject(pack: name, packSize: size, entries: entries)
    }
    public func read(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws {
        guard let p = packs[name], offset + UInt64(count) <= UInt64(p.count) else {
            throw CairnError(.integrity, "pack \(name) is missing or short", path: name, offset: offset)
        }
        p.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: count) }
    }
    public func readAvailable(pack name: String, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
        guard let p = packs[name], offset <= UInt64(p.count) else {
            throw CairnError(.integrity, "pack \(name) is missing or short", path: name, offset: offset)
        }
        let n = min(count, p.count - Int(offset))
        p.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: n) }
        return n
    }
    public func size(of name: String) throws -> UInt64 { UInt64(packs[name]?.count ?? 0) }
    public func list() throws -> [String] { Array(packs.keys) }
    public func remove(_ name: String) throws { packs[name] = nil; indexes[name] = nil }
    public func displayPath(_ name: String) -> String { "memory:\(name)" }
    /// Flips one byte (tests of corruption detection).
    public func corrupt(_ name: String, at offset: Int) { packs[name]?[offset] ^= 0xff }
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
