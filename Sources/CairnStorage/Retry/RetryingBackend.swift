#if canImport(Glibc)
import Glibc
#endif

// A wrapper that retries transient failures of any backend under a `RetryPolicy`.
//
// A put whose earlier attempt may have taken effect (a timeout after sending, `outcomeUnknown`)
// and that then meets `alreadyExists` compares the stored object with its source: equal bytes mean
// the earlier attempt landed and the put succeeded; different bytes stay `alreadyExists`. A get
// that failed part-way resumes after the bytes already handed to its sink.

/// Retries transient failures of `inner`.
public final class RetryingBackend: Backend {
    public let inner: any Backend
    public let policy: RetryPolicy

    public init(_ inner: any Backend, policy: RetryPolicy = RetryPolicy()) {
        self.inner = inner
        self.policy = policy
    }

    public var location: String { inner.location }
    public var writeOnce: WriteOnce { inner.writeOnce }

    public func put(_ handle: ObjectHandle, from source: any ByteSource) async throws {
        var mayHaveLanded = false
        try await policy.run { _, _ in
            do {
                try await inner.put(handle, from: source)
            } catch let e as StorageError where e.kind == .alreadyExists && mayHaveLanded {
                if try await holds(handle, source) { return }
                throw e
            } catch let e as StorageError where e.isRetryable {
                if e.outcomeUnknown { mayHaveLanded = true }
                throw e
            }
        }
    }

    /// True when the stored object's bytes equal `source` (streamed, memory bounded).
    private func holds(_ handle: ObjectHandle, _ source: any ByteSource) async throws -> Bool {
        guard try await inner.stat(handle).size == source.length else { return false }
        return try await sameBytes(inner, handle, source)
    }

    public func get(_ handle: ObjectHandle, range: ByteRange?, sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        var delivered: UInt64 = 0
        let start = range?.offset ?? 0, length = range?.length ?? .max
        try await policy.run { _, _ in
            let (from, over) = start.addingReportingOverflow(delivered)
            if over || delivered >= length { return }
            try await inner.get(handle, range: ByteRange(offset: from, length: length - delivered)) { chunk in
                try sink(chunk)
                delivered += UInt64(chunk.count)
            }
        }
    }

    public func stat(_ handle: ObjectHandle) async throws -> ObjectInfo {
        try await policy.run { _, _ in try await inner.stat(handle) }
    }

    public func list(_ type: ObjectType, after: String?, limit: Int) async throws -> ListPage {
        try await policy.run { _, _ in try await inner.list(type, after: after, limit: limit) }
    }

    public func delete(_ handle: ObjectHandle) async throws {
        try await policy.run { _, _ in try await inner.delete(handle) }
    }
}

/// True when object `handle` of `backend` has exactly the bytes of `source` (compared chunk by
/// chunk; memory bounded by the backend's chunk size).
func sameBytes(_ backend: any Backend, _ handle: ObjectHandle, _ source: any ByteSource) async throws -> Bool {
    var pos: UInt64 = 0
    var equal = true
    var mine = [UInt8](repeating: 0, count: 0)
    try await backend.get(handle, range: nil) { chunk in
        guard equal else { return }
        if mine.count < chunk.count { mine = [UInt8](repeating: 0, count: chunk.count) }
        let n = try mine.withUnsafeMutableBytes { try source.read(at: pos, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<chunk.count])) }
        equal = n == chunk.count && mine.withUnsafeBytes { memcmp($0.baseAddress!, chunk.baseAddress!, n) == 0 }
        pos += UInt64(chunk.count)
    }
    return equal && pos == source.length
}
