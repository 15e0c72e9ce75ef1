// S3 failures a user must understand: wrong credentials (a server enforcing SigV4), a missing
// bucket, a stopped server, a skewed clock. Each gives its own class and one clear line, and
// writes nothing.

import CairnStorage
import Foundation
import Testing

@Suite(.serialized) struct S3ErrorTests {
    static let identities = """
    {"identities":[{"name":"cairn","credentials":[{"accessKey":"CAIRNKEY","secretKey":"cairn-right-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
    """

    @Test func wrongCredentialsAreRefusedClearlyAndWriteNothing() async throws {
        guard ownServerAllowed() else { return }
        let right = S3Credentials(accessKeyId: "CAIRNKEY", secretAccessKey: "cairn-right-secret", source: "the test")
        let (server, good) = try await SeaweedServer.startWritable(identities: Self.identities, first: handle(.snapshot, "existing")) {
            S3Backend(try S3Location.parse("s3:\($0.endpoint)/repo"), credentials: right, options: S3Env.options())
        }
        defer { server.stop() }
        let prefix = "s3:\(server.endpoint)/repo"

        for (id, secret) in [("CAIRNKEY", "wrong-secret"), ("NOSUCHKEY", "cairn-right-secret")] {
            let bad = S3Backend(try S3Location.parse(prefix), credentials: S3Credentials(accessKeyId: id, secretAccessKey: secret, source: "environment"), options: S3Env.options())
            let e = await storageError { try await bad.put(handle(.pack, "abcdef"), bytes: [1, 2, 3]) }
            #expect(e?.kind == .permission)
            #expect(e?.detail == .badCredentials)
            #expect(e?.message.contains("key id \(id)") == true, "\(e?.message ?? "")")
            #expect(e?.message.contains("\n") == false)
            #expect(await storageError { _ = try await bad.bytes(handle(.snapshot, "existing")) }?.kind == .permission)
        }
        #expect(try await good.listAll(.pack).isEmpty)  // nothing was written
        #expect(try await good.bytes(handle(.snapshot, "existing")) == [1])
    }

    @Test func skewedClockQuotesTheServer() async throws {
        guard ownServerAllowed() else { return }
        let server = try await SeaweedServer.start(identities: Self.identities)
        defer { server.stop() }
        var o = S3Env.options()
        o.clockOffsetSeconds = 3 * 3600
        let right = S3Credentials(accessKeyId: "CAIRNKEY", secretAccessKey: "cairn-right-secret", source: "the test")
        let skewed = S3Backend(try S3Location.parse("s3:\(server.endpoint)/repo"), credentials: right, options: o)
        let e = await storageError { try await skewed.put(handle(.pack, "abcdef"), bytes: [1]) }
        #expect(e?.detail == .clockSkew, "\(e?.message ?? "")")
        #expect(e?.message.contains("clock") == true)
    }

    @Test func missingBucketSaysHowToCreateIt() async throws {
        guard let endpoint = S3Env.require() else { return }
        let base = endpoint[..<endpoint.lastIndex(of: "/")!]
        let b = S3Backend(try S3Location.parse("s3:\(base)/no-such-bucket-\(randomName().prefix(8))/repo"), credentials: S3Env.credentials, options: S3Env.options())
        for op in [{ try await b.put(handle(.pack, "abcdef"), bytes: [1]) }, { _ = try await b.listAll(.pack) }] as [() async throws -> Void] {
            let e = await storageError(op)
            #expect(e?.kind == .notFound)
            #expect(e?.detail == .noSuchBucket, "\(e?.message ?? "")")
            #expect(e?.message.contains("create it") == true)
        }
        #expect(try await b.checkBucket()?.detail == .noSuchBucket)
        #expect(try await S3Env.fresh()?.checkBucket() == nil)
    }

    @Test func stoppedServerNamesHostAndPort() async throws {
        // A port nobody listens on: bind one, note it, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        let counter = RetryCounter()
        let b = S3Backend(try S3Location.parse("s3:http://127.0.0.1:\(port)/bucket/repo"), credentials: S3Env.credentials,
                          options: S3Env.options(retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(20), counter: counter)))
        let e = await storageError { try await b.put(handle(.pack, "abcdef"), bytes: [1]) }
        #expect(e?.detail == .unreachable, "\(e?.message ?? "")")
        #expect(e?.message.contains("127.0.0.1:\(port)") == true)
        #expect(e?.message.contains("gave up after 3 attempts") == true)
        #expect(counter.value == 2)
    }
}
