// S3 under faults on a real SeaweedFS: a misbehaving proxy (503s and reset connections) whose
// failures the retries absorb, and a server killed in the middle of a multipart upload.

import CairnStorage
import Foundation
import Synchronization
import Testing

@Suite(.serialized) struct S3FaultTests {
    @Test func retriesAbsorb503sAndResetConnections() async throws {
        guard let endpoint = S3Env.require() else { return }
        let url = URL(string: endpoint)!
        let proxy = try FaultProxy(upstreamPort: UInt16(url.port!)) { n in
            switch n % 6 { case 1: .unavailable; case 3: .resetBefore; case 5: .resetAfter; default: .forward }
        }
        defer { proxy.stop() }
        let counter = RetryCounter()
        // Half of all requests fail, and the parts of a multipart upload run side by side, so one
        // request can meet several failures in a row: 20 attempts make giving up a 1-in-10^6 event.
        // A long request timeout keeps a slow answer under CI load from adding retries of its own.
        var o = S3Env.options(retry: RetryPolicy(maxAttempts: 20, baseDelay: .milliseconds(5), maxDelay: .milliseconds(50), counter: counter))
        o.requestTimeout = 60
        let b = S3Backend(try S3Location.parse("s3:http://127.0.0.1:\(proxy.port)\(url.path)/proxy-\(randomName())"),
                          credentials: S3Env.credentials, options: o)
        var written: [ObjectHandle: [UInt8]] = [:]
        for i in 0..<12 {
            let h = handle(.snapshot, "s\(i)")
            let bytes = PatternSource(length: UInt64(1000 + i * 77), seed: UInt64(i)).bytes(0..<UInt64(1000 + i * 77))
            try await b.put(h, bytes: bytes)
            written[h] = bytes
        }
        let big = PatternSource(length: 11 << 20, seed: 42)  // three parts
        try await b.put(handle(.pack, "bigpack"), from: big)
        for (h, bytes) in written { #expect(try await b.bytes(h) == bytes) }
        #expect(try await b.bytes(handle(.pack, "bigpack"), range: ByteRange(offset: (11 << 20) - 10, length: 10)) == big.bytes((11 << 20) - 10..<(11 << 20)))
        #expect(try await b.listAll(.snapshot, pageSize: 5).count == 12)
        try await b.delete(handle(.snapshot, "s0"))
        #expect(await storageError { _ = try await b.stat(handle(.snapshot, "s0")) }?.kind == .notFound)
        let failures = proxy.count(.unavailable) + proxy.count(.resetBefore) + proxy.count(.resetAfter)
        print("proxy: \(proxy.count(.forward)) forwarded, \(proxy.count(.unavailable)) 503s, \(proxy.count(.resetBefore)) resets before, \(proxy.count(.resetAfter)) resets after forwarding; \(counter.value) retries")
        #expect(proxy.count(.unavailable) > 3 && proxy.count(.resetBefore) > 3 && proxy.count(.resetAfter) > 3)
        // Each injected failure cost one retry (a request that timed out under load adds one more).
        #expect(counter.value >= failures, "\(counter.value) retries for \(failures) injected failures")
    }

    @Test func operationDeadlineEndsEndlessThrottling() async throws {
        guard let endpoint = S3Env.require() else { return }
        let proxy = try FaultProxy(upstreamPort: UInt16(URL(string: endpoint)!.port!)) { _ in .unavailable }
        defer { proxy.stop() }
        var o = S3Env.options(retry: RetryPolicy(maxAttempts: 1000, baseDelay: .milliseconds(20), maxDelay: .milliseconds(100), deadline: .seconds(60)))
        o.operationDeadline = .seconds(1)
        let b = S3Backend(try S3Location.parse("s3:http://127.0.0.1:\(proxy.port)/cairn-test/throttled"), credentials: S3Env.credentials, options: o)
        let start = ContinuousClock.now
        let e = await storageError { try await b.put(handle(.pack, "abcdef"), bytes: [1]) }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(e?.kind == .transient && e?.httpStatus == 503 && e?.message.contains("gave up after") == true, "\(e?.message ?? "")")
        #expect(proxy.count(.unavailable) > 3)
    }

    @Test func serverKilledMidUploadLeavesNothingAndRestartWorks() async throws {
        guard ownServerAllowed() else { return }
        let server = try await SeaweedServer.start()
        defer { server.stop() }
        let url = "s3:\(server.endpoint)/crash"
        var o = S3Env.options(retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(50), maxDelay: .milliseconds(200), deadline: .seconds(5)))
        o.requestTimeout = 5
        // The real transport, watched: the server is killed when the third part starts.
        let killer = KillingTransport(inner: URLSessionTransport(), when: { $0.url.contains("partNumber=3") }) { try? server.kill() }
        let b = S3Backend(try S3Location.parse(url), credentials: S3Env.credentials, options: o, transport: killer)
        let h = handle(.pack, "abcdef0123")
        let e = await storageError { try await b.put(h, from: PatternSource(length: 23 << 20, seed: 5)) }
        print("put with the server killed: \(e?.message ?? "")")
        #expect(e?.kind == .transient)
        #expect(e.map { !$0.message.contains("\n") && $0.message.contains("127.0.0.1:") } == true, "\(e?.message ?? "")")
        try await server.start()
        let after = S3Backend(try S3Location.parse(url), credentials: S3Env.credentials, options: S3Env.options())
        #expect(await storageError { _ = try await after.stat(h) }?.kind == .notFound)
        #expect(try await after.listAll(.pack).isEmpty)
        try await after.put(h, from: PatternSource(length: 6 << 20, seed: 6))
        #expect(try await after.stat(h).size == 6 << 20)
    }
}

/// Forwards to a real transport; before the first request matching `when`, runs `action` once.
final class KillingTransport: HTTPTransport {
    let inner: any HTTPTransport
    let when: @Sendable (HTTPRequest) -> Bool
    let action: @Sendable () -> Void
    private let fired = Mutex(false)
    init(inner: any HTTPTransport, when: @escaping @Sendable (HTTPRequest) -> Bool, action: @escaping @Sendable () -> Void) {
        self.inner = inner
        self.when = when
        self.action = action
    }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if when(request), fired.withLock({ let f = $0; $0 = true; return !f }) { action() }
        return try await inner.send(request)
    }
}
