// In-memory backend for tests: objects in a dictionary behind a mutex. Put-if-absent is atomic;
// nothing survives the process.

import Synchronization

/// Objects held in memory. `chunkSize` bounds the chunks `get` hands to its sink.
public final class MemoryBackend: Backend {
    private let objects = Mutex<[ObjectHandle: [UInt8]]>([:])
    public let chunkSize: Int
    public let location: String
    public var writeOnce: WriteOnce { .atomic }

    public init(name: String = "memory", chunkSize: Int = 64 << 10) {
        location = name
        self.chunkSize = max(chunkSize, 1)
    }

    public func put(_ handle: ObjectHandle, from source: any ByteSource) async throws {
        guard let n = Int(exactly: source.length) else { throw StorageError(.noSpace, "\(handle) is too large for memory") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(n)
        try source.forEachChunk(bufferSize: chunkSize) { bytes.append(contentsOf: $0) }
        try objects.withLock { objs in
            guard objs[handle] == nil else { throw StorageError(.alreadyExists, "\(handle) already exists in \(location)", object: handle.description) }
            objs[handle] = bytes
        }
    }

    public func get(_ handle: ObjectHandle, range: ByteRange?, sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        guard let bytes = objects.withLock({ $0[handle] }) else { throw notFound(handle) }
        let size = UInt64(bytes.count)
        let start = min(range?.offset ?? 0, size), end = min(range?.end ?? size, size)
        var pos = Int(start)
        try bytes.withUnsafeBytes { all in
            while pos < Int(end) {
                let n = min(chunkSize, Int(end) - pos)
                try sink(UnsafeRawBufferPointer(rebasing: all[pos..<pos + n]))
                pos += n
            }
        }
    }

    public func stat(_ handle: ObjectHandle) async throws -> ObjectInfo {
        guard let n = objects.withLock({ $0[handle]?.count }) else { throw notFound(handle) }
        return ObjectInfo(handle: handle, size: UInt64(n))
    }

    public func list(_ type: ObjectType, after: String?, limit: Int) async throws -> ListPage {
        let all = objects.withLock { objs in
            objs.filter { $0.key.type == type }.map { ObjectInfo(handle: $0.key, size: UInt64($0.value.count)) }
        }
        return ListPage.slice(all, after: after, limit: limit)
    }

    public func delete(_ handle: ObjectHandle) async throws {
        _ = objects.withLock { $0.removeValue(forKey: handle) }
    }

    private func notFound(_ h: ObjectHandle) -> StorageError {
        StorageError(.notFound, "\(h) does not exist in \(location)", object: h.description)
    }
}

extension ListPage {
    /// The page of `all` (any order) after `after`, sorted bytewise by name, at most `limit` long.
    static func slice(_ all: [ObjectInfo], after: String?, limit: Int) -> ListPage {
        var rest = all.filter { after == nil || ObjectLayout.sorts($0.handle.name, after: after!) }
        rest.sort { ObjectLayout.sorts($1.handle.name, after: $0.handle.name) }
        let n = max(limit, 1)
        if rest.count > n {
            let page = Array(rest.prefix(n))
            return ListPage(objects: page, next: page.last!.handle.name)
        }
        return ListPage(objects: rest, next: nil)
    }
}
