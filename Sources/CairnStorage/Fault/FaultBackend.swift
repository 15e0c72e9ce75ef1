// A fault-injecting wrapper for tests: fails the Nth write or read with ENOSPC, EIO, a timeout
// (before or after the write took effect) or a torn write; adds latency; simulates a crash by
// dropping every write after a point. Without a plan it passes everything through unchanged.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// What goes wrong and when.
public struct FaultPlan: Sendable {
    public enum Fault: Sendable, Equatable {
        /// ENOSPC: nothing written.
        case noSpace
        /// EIO: nothing written (or read).
        case io
        /// A timeout before the request reached the store: not applied, retryable.
        case timeoutBefore
        /// A timeout after the store applied the write: the answer is lost, retryable, outcome unknown.
        case timeoutAfter
        /// The first half of the bytes lands under the final name, then the write fails with EIO
        /// (a store without atomic writes; reads of that object then return the torn prefix).
        case tornWrite
    }
    /// What a crash does to writes after the crash point.
    public enum CrashMode: Sendable {
        /// Writes fail (the process is gone; nothing after the point reaches the store).
        case failing
        /// Writes report success but are dropped (a store that lost unsynced data).
        case silent
    }

    /// Fail these write numbers (1-based, counting puts and deletes) with the given fault.
    public var writeFaults: [Int: Fault] = [:]
    /// Fail these read numbers (1-based, counting gets and stats) with the given fault.
    public var readFaults: [Int: Fault] = [:]
    /// Added before every operation.
    public var latency: Duration = .zero
    /// Writes after this many are dropped (nil: no crash).
    public var crashAfterWrites: Int? = nil
    public var crashMode: CrashMode = .failing

    public init(writeFaults: [Int: Fault] = [:], readFaults: [Int: Fault] = [:], latency: Duration = .zero,
                crashAfterWrites: Int? = nil, crashMode: CrashMode = .failing) {
        self.writeFaults = writeFaults
        self.readFaults = readFaults
        self.latency = latency
        self.crashAfterWrites = crashAfterWrites
        self.crashMode = crashMode
    }
}

/// Wraps a backend and injects the faults of a `FaultPlan`.
public final class FaultBackend: Backend {
    public let inner: any Backend
    private let state: Mutex<(plan: FaultPlan, writes: Int, reads: Int, injected: Int)>

    public init(_ inner: any Backend, plan: FaultPlan = FaultPlan()) {
        self.inner = inner
        state = Mutex((plan, 0, 0, 0))
    }

    public var location: String { inner.location }
    public var writeOnce: WriteOnce { inner.writeOnce }

    /// Replaces the plan and resets the counters.
    public func setPlan(_ plan: FaultPlan) { state.withLock { $0 = (plan, 0, 0, 0) } }
    /// Number of faults injected so far.
    public var injected: Int { state.withLock { $0.injected } }
    /// Writes and reads seen so far.
    public var counts: (writes: Int, reads: Int) { state.withLock { ($0.writes, $0.reads) } }

    private enum Decision { case pass, fail(FaultPlan.Fault), crashed, dropped }

    private func nextWrite() async -> Decision {
        let (d, latency): (Decision, Duration) = state.withLock { s in
            s.writes += 1
            if let c = s.plan.crashAfterWrites, s.writes > c {
                s.injected += 1
                return (s.plan.crashMode == .failing ? .crashed : .dropped, s.plan.latency)
            }
            if let f = s.plan.writeFaults[s.writes] { s.injected += 1; return (.fail(f), s.plan.latency) }
            return (.pass, s.plan.latency)
        }
        if latency > .zero { try? await Task.sleep(for: latency) }
        return d
    }

    private func nextRead() async -> FaultPlan.Fault? {
        let (f, latency): (FaultPlan.Fault?, Duration) = state.withLock { s in
            s.reads += 1
            if let f = s.plan.readFaults[s.reads] { s.injected += 1; return (f, s.plan.latency) }
            return (nil, s.plan.latency)
        }
        if latency > .zero { try? await Task.sleep(for: latency) }
        return f
    }

    private func error(_ f: FaultPlan.Fault, _ what: String, _ h: ObjectHandle) -> StorageError {
        let o = h.description
        switch f {
        case .noSpace: return StorageError(.noSpace, "injected ENOSPC while \(what) \(o); free space and run the command again", object: o, errno: ENOSPC)
        case .io: return StorageError(.fatal, "injected EIO while \(what) \(o); check the disk and run `cairn check`", object: o, errno: EIO)
        case .timeoutBefore: return StorageError(.transient, "injected timeout while \(what) \(o); run the command again", object: o, detail: .timeout)
        case .timeoutAfter: return StorageError(.transient, "injected timeout after \(what) \(o) (the answer was lost); run the command again", object: o, detail: .timeout, outcomeUnknown: true)
        case .tornWrite: return StorageError(.fatal, "injected torn write of \(o); run `cairn check`", object: o, detail: .tornWrite, errno: EIO)
        }
    }

    private func crashed(_ h: ObjectHandle) -> StorageError {
        StorageError(.fatal, "simulated crash: \(h) was not written", object: h.description, detail: .crashed)
    }

    public func put(_ handle: ObjectHandle, from source: any ByteSource) async throws {
        switch await nextWrite() {
        case .pass: try await inner.put(handle, from: source)
        case .dropped: return
        case .crashed: throw crashed(handle)
        case .fail(let f):
            switch f {
            case .timeoutAfter: try await inner.put(handle, from: source)
            case .tornWrite: try await inner.put(handle, from: PrefixSource(base: source, length: source.length / 2))
            default: break
            }
            throw error(f, "writing", handle)
        }
    }

    public func delete(_ handle: ObjectHandle) async throws {
        switch await nextWrite() {
        case .pass: try await inner.delete(handle)
        case .dropped: return
        case .crashed: throw crashed(handle)
        case .fail(let f):
            if f == .timeoutAfter || f == .tornWrite { try await inner.delete(handle) }
            throw error(f, "deleting", handle)
        }
    }

    public func get(_ handle: ObjectHandle, range: ByteRange?, sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        if let f = await nextRead() {
            if f == .tornWrite {  // a read cut short: half the range arrives, then the connection drops
                var delivered: UInt64 = 0
                let info = try await inner.stat(handle)
                let start = min(range?.offset ?? 0, info.size), end = min(range?.end ?? info.size, info.size)
                let half = (end - start) / 2
                try await inner.get(handle, range: ByteRange(offset: start, length: half)) { c in
                    delivered += UInt64(c.count)
                    try sink(c)
                }
                throw StorageError(.transient, "injected dropped connection after \(delivered) bytes of \(handle); run the command again", object: handle.description, detail: .timeout)
            }
            throw error(f, "reading", handle)
        }
        try await inner.get(handle, range: range, sink: sink)
    }

    public func stat(_ handle: ObjectHandle) async throws -> ObjectInfo {
        if let f = await nextRead(), f != .tornWrite { throw error(f, "reading", handle) }
        return try await inner.stat(handle)
    }

    public func list(_ type: ObjectType, after: String?, limit: Int) async throws -> ListPage {
        try await inner.list(type, after: after, limit: limit)
    }
}

/// The first `length` bytes of another source.
struct PrefixSource: ByteSource {
    let base: any ByteSource
    let length: UInt64
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < length else { return 0 }
        let n = Int(min(UInt64(buffer.count), length - offset))
        return try base.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
    }
}
