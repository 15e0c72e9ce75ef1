// Shared helpers of the storage tests: backends under test, temp folders, pattern sources.

import CairnStorage
import Foundation
import Testing

/// The backends every conformance test runs on.
enum Kind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local, memory, fault, retryOverFault, s3
    var testDescription: String { rawValue }
}

/// A fresh, empty backend of `kind`, or nil (with a note) when S3 is not configured outside CI.
func makeBackend(_ kind: Kind) throws -> (any Backend)? {
    switch kind {
    case .local: return LocalBackend(path: try TempDir.make())
    case .memory: return MemoryBackend(chunkSize: 4096)
    case .fault: return FaultBackend(LocalBackend(path: try TempDir.make()))
    case .retryOverFault:
        // Every third write and every fourth read fails transiently; the retries must hide it.
        var plan = FaultPlan()
        for n in stride(from: 1, to: 5000, by: 3) { plan.writeFaults[n] = n % 2 == 0 ? .timeoutAfter : .timeoutBefore }
        for n in stride(from: 2, to: 5000, by: 4) { plan.readFaults[n] = n % 8 == 2 ? .tornWrite : .timeoutBefore }
        return RetryingBackend(FaultBackend(MemoryBackend(chunkSize: 1000), plan: plan),
                               policy: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)))
    case .s3: return try S3Env.fresh()
    }
}

enum TempDir {
    /// A new empty folder under the system temp folder, removed at exit.
    static func make() throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/cairn-storage-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
        let path = String(cString: p)
        Cleanup.shared.add(path)
        return path
    }
}

final class Cleanup: @unchecked Sendable {
    static let shared = Cleanup()
    private var paths: [String] = []
    private let lock = NSLock()
    func add(_ p: String) {
        lock.lock()
        if paths.isEmpty { atexit { Cleanup.shared.removeAll() } }
        paths.append(p)
        lock.unlock()
    }
    func removeAll() {
        for p in paths { try? FileManager.default.removeItem(atPath: p) }
    }
}

/// Deterministic pseudo-random bytes, generated on demand (a large upload without holding it).
struct PatternSource: ByteSource {
    let length: UInt64
    let seed: UInt64
    func byte(_ i: UInt64) -> UInt8 {
        var x = (i / 8) &* 0x9E37_79B9_7F4A_7C15 ^ seed
        x ^= x >> 29; x &*= 0xBF58_476D_1CE4_E5B9; x ^= x >> 32
        return UInt8(truncatingIfNeeded: x >> ((i % 8) * 8))
    }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < length else { return 0 }
        let n = Int(min(UInt64(buffer.count), length - offset))
        for k in 0..<n { buffer[k] = byte(offset + UInt64(k)) }
        return n
    }
    func bytes(_ r: Range<UInt64>) -> [UInt8] { r.map(byte) }
}

func handle(_ t: ObjectType, _ n: String) -> ObjectHandle { ObjectHandle(t, n)! }

/// The error a call throws, as a StorageError (records an issue when it succeeds or throws another type).
func storageError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> StorageError? {
    do {
        try await body()
        Issue.record("expected a StorageError, the call succeeded", sourceLocation: sourceLocation)
    } catch let e as StorageError {
        return e
    } catch {
        Issue.record("expected a StorageError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

func randomName() -> String { (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }

/// A SeaweedFS started moments ago may answer 500 until its first volume is allocated (seen
/// under load): the first write of a test is retried until it lands, for up to `seconds`. A
/// write that landed but whose answer was lost shows up as alreadyExists, which counts as landed.
func putWhenReady(_ b: any Backend, _ h: ObjectHandle, bytes: [UInt8], within seconds: Double = 240) async throws {
    // A just-started SeaweedFS answers 500 until its first volume exists: over a minute when
    // several servers start at once on a loaded machine (CI runs the suites in parallel).
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        do {
            try await b.put(h, bytes: bytes)
            return
        } catch let e as StorageError where e.kind == .alreadyExists {
            return
        } catch let e as StorageError where e.kind == .transient && Date() < deadline {
            try await Task.sleep(nanoseconds: 500_000_000)
        }
    }
}
