// A backend wrapper that counts reads by object type (whole gets, ranged gets, bytes), so a test
// can show which objects an operation reads: e.g. that a cache rebuild reads no pack data.

import CairnStorage
import Synchronization

/// Forwards every call to `inner` and counts the reads.
public final class CountingBackend: Backend {
    public let inner: any Backend
    public struct Reads: Sendable { public var whole = 0, ranged = 0, bytes: UInt64 = 0 }
    private let counts = Mutex<[ObjectType: Reads]>([:])

    public init(_ inner: any Backend) { self.inner = inner }

    public var location: String { inner.location }
    public var writeOnce: WriteOnce { inner.writeOnce }

    /// Reads of objects of `type` so far.
    public func reads(_ type: ObjectType) -> Reads { counts.withLock { $0[type] ?? Reads() } }
    /// Forgets the counts.
    public func reset() { counts.withLock { $0 = [:] } }

    public func put(_ handle: ObjectHandle, from source: any ByteSource) async throws { try await inner.put(handle, from: source) }

    public func get(_ handle: ObjectHandle, range: ByteRange?, sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        var n: UInt64 = 0
        try await inner.get(handle, range: range) { chunk in
            n += UInt64(chunk.count)
            try sink(chunk)
        }
        let got = n
        counts.withLock { c in
            var r = c[handle.type] ?? Reads()
            if range == nil { r.whole += 1 } else { r.ranged += 1 }
            r.bytes += got
            c[handle.type] = r
        }
    }

    public func stat(_ handle: ObjectHandle) async throws -> ObjectInfo { try await inner.stat(handle) }
    public func list(_ type: ObjectType, after: String?, limit: Int) async throws -> ListPage { try await inner.list(type, after: after, limit: limit) }
    public func delete(_ handle: ObjectHandle) async throws { try await inner.delete(handle) }
}
