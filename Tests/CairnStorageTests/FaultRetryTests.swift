// The fault-injecting and retrying wrappers: faults land where planned with their class, crashes
// drop writes, retries hide transient faults (and only those), a get resumes where it broke off.

import CairnStorage
import Testing

@Suite struct FaultRetryTests {
    var fast: RetryPolicy { RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(4)) }

    @Test func writeFaultsHaveTheirClassAndLeaveNothing() async throws {
        let inner = LocalBackend(path: try TempDir.make())
        let f = FaultBackend(inner, plan: FaultPlan(writeFaults: [1: .noSpace, 2: .io, 3: .timeoutBefore]))
        let h = handle(.pack, "aa01")
        #expect(await storageError { try await f.put(h, bytes: [1, 2]) }?.kind == .noSpace)
        #expect(await storageError { try await f.put(h, bytes: [1, 2]) }?.kind == .fatal)
        let t = await storageError { try await f.put(h, bytes: [1, 2]) }
        #expect(t?.kind == .transient && t?.outcomeUnknown == false)
        #expect(await storageError { _ = try await inner.stat(h) }?.kind == .notFound)
        try await f.put(h, bytes: [1, 2])  // the fourth write passes
        #expect(try await inner.bytes(h) == [1, 2])
        #expect(f.injected == 3)
    }

    @Test func timeoutAfterWriteLandsAndRetryRecognisesIt() async throws {
        let inner = MemoryBackend()
        let f = FaultBackend(inner, plan: FaultPlan(writeFaults: [1: .timeoutAfter]))
        let r = RetryingBackend(f, policy: fast)
        let h = handle(.index, "ab01")
        try await r.put(h, bytes: [9, 9, 9])  // lands, answer lost, retry meets alreadyExists with equal bytes
        #expect(try await inner.bytes(h) == [9, 9, 9])
        #expect(r.policy.counter.value == 1)
        // A different object already under the name stays alreadyExists.
        f.setPlan(FaultPlan(writeFaults: [1: .timeoutAfter]))
        let other = handle(.index, "ab02")
        try await inner.put(other, bytes: [1])
        #expect(await storageError { try await r.put(other, bytes: [2]) }?.kind == .alreadyExists)
    }

    @Test func tornWriteIsVisibleAndNotRetried() async throws {
        let inner = MemoryBackend()
        let r = RetryingBackend(FaultBackend(inner, plan: FaultPlan(writeFaults: [1: .tornWrite])), policy: fast)
        let h = handle(.pack, "torn")
        let e = await storageError { try await r.put(h, bytes: [UInt8](repeating: 5, count: 100)) }
        #expect(e?.detail == .tornWrite && e?.kind == .fatal)
        #expect(try await inner.stat(h).size == 50)  // what a store without atomic writes leaves
        #expect(r.policy.counter.value == 0)
    }

    @Test func crashDropsEveryLaterWrite() async throws {
        let inner = MemoryBackend()
        let f = FaultBackend(inner, plan: FaultPlan(crashAfterWrites: 2))
        for i in 0..<2 { try await f.put(handle(.snapshot, "s\(i)"), bytes: [UInt8(i)]) }
        let e = await storageError { try await f.put(handle(.snapshot, "s2"), bytes: [2]) }
        #expect(e?.detail == .crashed)
        #expect(await storageError { try await f.delete(handle(.snapshot, "s0")) }?.detail == .crashed)
        #expect(try await inner.listAll(.snapshot).map(\.handle.name) == ["s0", "s1"])
        let silent = FaultBackend(inner, plan: FaultPlan(crashAfterWrites: 0, crashMode: .silent))
        try await silent.put(handle(.snapshot, "s9"), bytes: [9])  // reported, never stored
        #expect(try await inner.listAll(.snapshot).count == 2)
    }

    @Test func brokenReadResumesAfterDeliveredBytes() async throws {
        let inner = MemoryBackend(chunkSize: 100)
        let src = PatternSource(length: 5000, seed: 3)
        let h = handle(.pack, "read01")
        try await inner.put(h, from: src)
        let r = RetryingBackend(FaultBackend(inner, plan: FaultPlan(readFaults: [1: .tornWrite, 2: .timeoutBefore])), policy: fast)
        #expect(try await r.bytes(h, range: ByteRange(offset: 1000, length: 3000)) == src.bytes(1000..<4000))
        #expect(r.policy.counter.value == 2)
    }

    @Test func retriesStopAtTheLimitAndNeverRetryKnownOutcomes() async throws {
        var plan = FaultPlan()
        for n in 1...10 { plan.writeFaults[n] = .timeoutBefore }
        let r = RetryingBackend(FaultBackend(MemoryBackend(), plan: plan), policy: fast)
        let e = await storageError { try await r.put(handle(.lock, "l1"), bytes: [1]) }
        #expect(e?.kind == .transient && e?.message.contains("gave up after 4 attempts") == true)
        #expect(r.policy.counter.value == 3)
        let ns = RetryingBackend(FaultBackend(MemoryBackend(), plan: FaultPlan(writeFaults: [1: .noSpace])), policy: fast)
        #expect(await storageError { try await ns.put(handle(.lock, "l2"), bytes: [1]) }?.kind == .noSpace)
        #expect(ns.policy.counter.value == 0)
    }

    @Test func backoffHasFullJitterAndHonoursRetryAfter() {
        let p = RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for attempt in 1...8 {
            let d = p.delay(after: attempt, retryAfter: nil)
            #expect(d >= .zero && d <= min(.seconds(1), .milliseconds(100) * (1 << (attempt - 1))))
        }
        #expect(p.delay(after: 1, retryAfter: 2) >= .seconds(2))
    }

    @Test func latencyIsAdded() async throws {
        let f = FaultBackend(MemoryBackend(), plan: FaultPlan(latency: .milliseconds(30)))
        let start = ContinuousClock.now
        try await f.put(handle(.keys, "k1"), bytes: [1])
        #expect(ContinuousClock.now - start >= .milliseconds(30))
    }
}
