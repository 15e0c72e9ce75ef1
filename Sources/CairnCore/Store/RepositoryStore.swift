// Store: the engine's synchronous door to the storage seam (`CairnStorage.Backend`).
//
// Owns: calling a backend from the engine's own threads (through `BlockingBridge`, never from
// inside a Swift concurrency task) and the ONE mapping from `StorageError` to `CairnError`
// (`CairnError.init(storage:)`). Every repository object (config, snapshot records, index
// objects, packs) is reached through this type; nothing in the engine opens repository files
// except the local fast path for pack reads (`pread` on the file `LocalBackend` wrote).
//
// Crash properties are the backend's (Docs/Backends.md): a `put` that returned is durable, a
// failed one leaves nothing under the final name; objects are never replaced or renamed.

#if canImport(Glibc)
import Glibc
#endif
import CairnStorage

/// Synchronous access to one repository's objects, with errors as `CairnError`.
public final class RepositoryStore: @unchecked Sendable {
    /// The backend every object goes through.
    public let backend: any Backend
    /// The same backend when it is a local folder (pack reads then use `pread` directly).
    public let local: LocalBackend?
    private let files = NSLockish()
    private var openFiles: [String: PosixFile] = [:]

    /// A store over `backend`.
    public init(backend: any Backend) {
        self.backend = backend
        local = backend as? LocalBackend
    }

    /// Where the repository is, for messages (folder path or `s3:` URL without credentials).
    public var location: String { backend.location }

    /// A human name of one object (the file path on a local folder).
    public func display(_ h: ObjectHandle) -> String {
        local != nil ? location + "/" + ObjectLayout.relativePath(h) : location + "/" + h.description
    }

    /// Runs one backend call from synchronous code; storage errors become `CairnError`s.
    func call<T: Sendable>(_ what: @autoclosure () -> String, notFound: CairnError.Code = .notFound,
                           _ op: @escaping @Sendable (any Backend) async throws -> T) throws -> T {
        let b = backend
        do { return try BlockingBridge.run { try await op(b) } } catch let e as StorageError {
            throw CairnError(storage: e, notFound: notFound, what: what())
        }
    }

    /// Stores `bytes` under `h` (write-once). With `existingIsFine`, a name already taken counts as
    /// success: content-addressed objects (snapshot records, index objects) have one byte string per name.
    public func put(_ h: ObjectHandle, bytes: [UInt8], existingIsFine: Bool = false) throws {
        do { try call("store \(display(h))") { try await $0.put(h, bytes: bytes) } } catch let e as CairnError where e.code == .alreadyExists && existingIsFine {}
    }

    /// Stores the bytes at `pointer` (valid until this returns) under `h`.
    public func put(_ h: ObjectHandle, pointer: UnsafeRawBufferPointer) throws {
        let src = PointerSource(base: pointer.baseAddress, count: pointer.count)
        try call("store \(display(h))") { try await $0.put(h, from: src) }
    }

    /// The whole object, at most `limit` bytes (a damaged or hostile object cannot exhaust memory).
    public func bytes(_ h: ObjectHandle, limit: Int, notFound: CairnError.Code = .notFound) throws -> [UInt8] {
        try call("read \(display(h))", notFound: notFound) { try await $0.bytes(h, limit: limit) }
    }

    /// The whole object, or nil when it does not exist.
    public func bytesIfExists(_ h: ObjectHandle, limit: Int) throws -> [UInt8]? {
        do { return try bytes(h, limit: limit, notFound: .notFound) } catch let e as CairnError where e.code == .notFound { return nil }
    }

    /// Up to `count` bytes at `offset` of `h` into `buffer`; fewer only where the object ends.
    public func read(_ h: ObjectHandle, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
        if local != nil { return try localRead(h, offset: offset, count: count, into: buffer) }
        let dst = PointerSink(base: buffer, count: count)
        return try call("read \(display(h))", notFound: .integrity) { b in
            var got = 0
            try await b.get(h, range: ByteRange(offset: offset, length: UInt64(count))) { chunk in
                let n = min(chunk.count, dst.count - got)
                if n > 0 { (dst.base + got).copyMemory(from: chunk.baseAddress!, byteCount: n) }
                got += n
            }
            return got
        }
    }

    /// The `pread` fast path of a local folder: descriptors of recently read objects stay open
    /// (objects never change once written).
    private func localRead(_ h: ObjectHandle, offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
        let path = display(h)
        let f: PosixFile = try files.locked {
            if let f = openFiles[h.name] { return f }
            if openFiles.count > 64 { openFiles.removeAll() }
            guard FS.exists(path) else {
                throw CairnError(.integrity, "\(h.type.rawValue) \(path) is missing; run `cairn check` to see the snapshots that need it", path: path)
            }
            let f = try PosixFile.open(path, O_RDONLY)
            openFiles[h.name] = f
            return f
        }
        guard let base = off_t(exactly: offset) else { return 0 }
        var done = 0
        while done < count {
            let n = Glibc.pread(f.fd, buffer + done, count - done, base + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CairnError.posix("cannot read", path: path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Size of `h`, or nil when it does not exist.
    public func size(_ h: ObjectHandle) throws -> UInt64? {
        do { return try call("stat \(display(h))") { try await $0.stat(h).size } } catch let e as CairnError where e.code == .notFound { return nil }
    }

    /// Every object of `type`, in byte order of names.
    public func list(_ type: ObjectType) throws -> [ObjectInfo] {
        try call("list the \(type.rawValue) objects of \(location)") { try await $0.listAll(type) }
    }

    /// Deletes `h` (missing is fine).
    public func delete(_ h: ObjectHandle) throws {
        files.locked { openFiles[h.name] = nil }
        try call("delete \(display(h))") { try await $0.delete(h) }
    }
}

/// Bytes the caller keeps alive and unchanged until the put returned (the bridge blocks it).
private struct PointerSource: ByteSource, @unchecked Sendable {
    let base: UnsafeRawPointer?
    let count: Int
    var length: UInt64 { UInt64(count) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base, offset < UInt64(count), let start = Int(exactly: offset) else { return 0 }
        let n = min(buffer.count, count - start)
        buffer.baseAddress!.copyMemory(from: base + start, byteCount: n)
        return n
    }
}

/// A caller's buffer filled by a ranged get (the caller blocks until the get returned).
private struct PointerSink: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int
}

extension ObjectHandle {
    /// The handle of a name Cairn generated (hex ids): valid by construction.
    static func make(_ type: ObjectType, _ name: String) throws -> ObjectHandle {
        guard let h = ObjectHandle(type, name) else {
            throw CairnError(.integrity, "'\(name.prefix(80))' is not a valid \(type.rawValue) name", path: name)
        }
        return h
    }
}

extension CairnError {
    /// The one mapping from storage errors to Cairn's error codes (and so exit codes):
    /// permission and bad credentials -> access-denied (25), unreachable or transient after the
    /// retries -> unreachable (26), clock skew -> clock-skew (27), a missing bucket ->
    /// repository-not-found (10), no space -> 16, a missing object -> `notFound` (the caller's
    /// choice: 13, or 15 where the object must exist), taken name -> 20, anything else -> io (17).
    public init(storage e: StorageError, notFound: Code = .notFound, what: String = "") {
        let code: Code
        switch (e.kind, e.detail) {
        case (_, .clockSkew?): code = .clockSkew
        case (_, .badCredentials?), (.permission, _): code = .accessDenied
        case (_, .noSuchBucket?): code = .repositoryNotFound
        case (_, .unreachable?), (.transient, _): code = .unreachable
        case (.noSpace, _): code = .noSpace
        case (.notFound, _): code = notFound
        case (.alreadyExists, _): code = .alreadyExists
        case (.fatal, _): code = .io
        }
        self.init(code, e.message, path: e.object, errno: e.errno)
    }
}
