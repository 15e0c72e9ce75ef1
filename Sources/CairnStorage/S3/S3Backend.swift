// The S3 backend: repository objects as keys under `BUCKET/PREFIX/` (same relative layout as the
// local folder), spoken over HTTP with SigV4.
//
// Crash and consistency properties: a successful PUT (or completed multipart upload) is durable
// and immediately visible to GET, HEAD and LIST (S3 and SeaweedFS give read-after-write and
// list-after-write consistency). An interrupted upload leaves nothing under the final key:
// single PUTs are atomic, multipart objects appear only at CompleteMultipartUpload (and an
// interrupted one is aborted where possible). Write-once uses `If-None-Match: *` (412 when the key
// exists); without conditional writes a HEAD comes first (`WriteOnce.checkThenPut`).
// Every request is retried under `RetryPolicy` when its failure is transient; answers that settle
// the outcome (2xx, 4xx) are never retried.

#if canImport(Glibc)
import Glibc
#endif

/// Tuning of the S3 backend.
public struct S3Options: Sendable {
    /// Objects up to this size go in one PUT; larger ones as multipart uploads of `partSize` parts.
    /// Memory per upload is bounded by this (one part buffer).
    public var partSize: Int = 8 << 20
    /// GETs fetch at most this many bytes per request (memory bounded by it).
    public var getChunkSize: Int = 8 << 20
    /// Use `If-None-Match: *` for write-once puts (false: HEAD then PUT, for stores without it).
    public var conditionalWrites: Bool = true
    /// Seconds one request may stall before it counts as timed out.
    public var requestTimeout: Double = 60
    /// Retries of each request (its `deadline` bounds one request with its retries).
    public var retry = RetryPolicy()
    /// A whole put, get or listing (all its requests, parts and retries) gives up after this long.
    public var operationDeadline: Duration = .seconds(3600)
    public var addressing: S3Location.Addressing = .path
    /// Seconds added to this machine's clock when signing (for a machine whose clock is known to
    /// be off; S3 refuses signatures more than 15 minutes from its own time).
    public var clockOffsetSeconds: Int = 0

    public init() {}
}

/// Objects in an S3 bucket.
public final class S3Backend: Backend {
    public let s3: S3Location
    public let credentials: S3Credentials
    public let options: S3Options
    let transport: any HTTPTransport
    let signer: SigV4

    public var location: String { s3.description }
    public var writeOnce: WriteOnce { options.conditionalWrites ? .atomic : .checkThenPut }

    public init(_ s3: S3Location, credentials: S3Credentials, options: S3Options = S3Options(), transport: (any HTTPTransport)? = nil) {
        var loc = s3
        loc.addressing = options.addressing
        self.s3 = loc
        self.credentials = credentials
        var o = options
        o.partSize = max(o.partSize, 5 << 20)  // S3's smallest part (except the last)
        o.getChunkSize = max(o.getChunkSize, 4096)
        self.options = o
        self.transport = transport ?? URLSessionTransport()
        signer = SigV4(accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, region: credentials.region)
    }

    /// Parses `url` (`s3:http://HOST:PORT/BUCKET/PREFIX`) and finds credentials in `env` and the shared file.
    public convenience init(url: String, env: [String: String], options: S3Options = S3Options()) throws {
        self.init(try S3Location.parse(url, addressing: options.addressing), credentials: try S3Credentials.resolve(env: env), options: options)
    }

    func key(_ h: ObjectHandle) -> String { s3.key(ObjectLayout.relativePath(h)) }

    // MARK: - requests

    /// Sends one signed request (no retry). `key` nil addresses the bucket.
    func once(_ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: [UInt8]? = nil, payloadHash: String? = nil, remaining: Duration) async throws -> HTTPResponse {
        let t = s3.target(key: key)
        let hash = payloadHash ?? (body.map { Hex.encode(Digest.sha256($0)) } ?? SigV4.emptyPayloadHash)
        let date = Self.amzDate(offset: options.clockOffsetSeconds)
        var h = headers + [("x-amz-date", date), ("x-amz-content-sha256", hash)]
        if let token = credentials.sessionToken { h.append(("x-amz-security-token", token)) }
        let auth = signer.authorization(method: method, path: t.path, query: query, headers: h + [("host", t.host)],
                                        payloadHash: hash, amzDate: date)
        h.append(("Authorization", auth))
        let q = SigV4.canonicalQuery(query)
        let secondsLeft = Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
        let timeout = max(0.05, min(options.requestTimeout, secondsLeft))
        return try await transport.send(HTTPRequest(method: method, url: t.url + (q.isEmpty ? "" : "?" + q), headers: h, body: body, timeout: timeout))
    }

    /// `once` under the retry policy; statuses in `accept` are returned, others become errors
    /// (transient ones retried). `write` marks requests whose 5xx answer leaves the outcome unknown.
    func send(_ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: [UInt8]? = nil, accept: Set<Int> = [200, 204], what: String, write: Bool = false,
              until: ContinuousClock.Instant? = nil) async throws -> HTTPResponse {
        try await options.retry.run(until: until) { _, remaining in
            let r = try await once(method, key: key, query: query, headers: headers, body: body, remaining: remaining)
            if accept.contains(r.status) { return r }
            throw classify(r, what: what, write: write)
        }
    }

    /// The error an S3 answer means, with advice in one line.
    func classify(_ r: HTTPResponse, what: String, write: Bool) -> StorageError {
        let body = String(decoding: r.body.prefix(64 << 10), as: UTF8.self)
        let (code, message) = S3XML.error(body) ?? ("", "")
        let tail = code.isEmpty ? "HTTP \(r.status)" : "\(r.status) \(code)" + (message.isEmpty ? "" : ": \(message)")
        let at = s3.authority
        // Retry-After in delay-seconds (an HTTP-date is ignored: the backoff applies instead).
        let retryAfter = r.headers["retry-after"].flatMap { UInt32($0.trimmingSpaces) }.map { Double($0) }
        switch (r.status, code) {
        case (_, "RequestTimeTooSkewed"):
            return StorageError(.fatal, "S3 at \(at) refused \(what): the clock of this machine is off (\(tail)); set the time (e.g. enable NTP) and run the command again", object: what, detail: .clockSkew, httpStatus: r.status)
        case (403, _), (401, _):
            return StorageError(.permission, "S3 at \(at) refused \(what) (\(tail)); check access key id \(credentials.accessKeyId) (from \(credentials.source)) and its secret, and that it may use bucket \(s3.bucket)", object: what, detail: .badCredentials, httpStatus: r.status)
        case (404, "NoSuchBucket"):
            return StorageError(.notFound, "bucket \(s3.bucket) does not exist on \(at); create it first (e.g. `aws s3 mb s3://\(s3.bucket) --endpoint-url \(s3.secure ? "https" : "http")://\(at)`)", object: what, detail: .noSuchBucket, httpStatus: r.status)
        case (404, _):
            return StorageError(.notFound, "\(what) does not exist in \(location)", object: what, httpStatus: r.status)
        case (412, _):
            return StorageError(.alreadyExists, "\(what) already exists in \(location); objects are written once", object: what, httpStatus: r.status)
        case (409, "BucketAlreadyOwnedByYou"), (409, "BucketAlreadyExists"):
            return StorageError(.alreadyExists, "bucket \(s3.bucket) already exists on \(at)", object: what, httpStatus: r.status)
        case (408, _), (409, _), (429, _), (500...599, _):
            return StorageError(.transient, "S3 at \(at) could not serve \(what) now (\(tail)); run the command again later", object: what,
                                httpStatus: r.status, retryAfter: retryAfter, outcomeUnknown: write && r.status >= 500)
        default:
            return StorageError(.fatal, "S3 at \(at) rejected \(what) (\(tail))", object: what, httpStatus: r.status)
        }
    }

    /// Keys, sizes and continuation of a ListObjectsV2 answer (nil when it is not one).
    public static func parseListing(_ xml: String) -> (keys: [(key: String, size: UInt64)], truncated: Bool, continuation: String?)? {
        S3XML.listObjects(xml).map { ($0.keys, $0.truncated, $0.continuation) }
    }

    static func amzDate(offset: Int) -> String {
        var t = time(nil) + offset
        var tm = tm()
        gmtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y%m%dT%H%M%SZ", &tm)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Creates the bucket (success when it exists already and is ours). Outside us-east-1 the
    /// region goes in a CreateBucketConfiguration.
    public func createBucket() async throws {
        var body: [UInt8]? = nil
        if credentials.region != "us-east-1" {
            body = Array("<CreateBucketConfiguration><LocationConstraint>\(credentials.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        do {
            _ = try await send("PUT", key: nil, body: body, accept: [200], what: "bucket \(s3.bucket)", write: true)
        } catch let e as StorageError where e.kind == .alreadyExists {
            return  // BucketAlreadyOwnedByYou / BucketAlreadyExists
        }
    }

    // MARK: - Backend

    public func stat(_ handle: ObjectHandle) async throws -> ObjectInfo {
        let k = key(handle)
        let r = try await send("HEAD", key: k, accept: [200], what: k)
        guard let len = r.headers["content-length"].flatMap({ UInt64($0.trimmingSpaces) }) else {
            throw StorageError(.fatal, "S3 at \(s3.authority) answered HEAD \(k) without a valid Content-Length", object: k)
        }
        return ObjectInfo(handle: handle, size: len)
    }

    public func delete(_ handle: ObjectHandle) async throws {
        let k = key(handle)
        _ = try await send("DELETE", key: k, accept: [200, 204], what: k, write: true)
    }

    public func list(_ type: ObjectType, after: String?, limit: Int) async throws -> ListPage {
        if type == .config {
            guard after == nil, let info = try? await stat(.config) else { return ListPage(objects: [], next: nil) }
            return ListPage(objects: [info], next: nil)
        }
        let parts = ObjectLayout.parts(type)
        let dirKey = s3.key(parts.dir)
        let want = min(max(limit, 1), 1000)
        var found: [ObjectInfo] = []
        var token: String? = nil
        let until = ContinuousClock.now.advanced(by: options.operationDeadline)
        var startAfter: String? = nil
        if let after {
            guard let h = ObjectHandle(type, after) else {
                throw StorageError(.fatal, "listing of \(dirKey) cannot continue after \"\(after.prefix(60))\": not an object name")
            }
            startAfter = key(h)
        }
        while true {
            var q: [(String, String)] = [("list-type", "2"), ("prefix", dirKey), ("max-keys", String(want - found.count))]
            if let token { q.append(("continuation-token", token)) } else if let startAfter { q.append(("start-after", startAfter)) }
            let r = try await send("GET", key: nil, query: q, accept: [200], what: "listing of \(dirKey)", until: until)
            guard let page = S3XML.listObjects(String(decoding: r.body, as: UTF8.self)) else {
                throw StorageError(.fatal, "S3 at \(s3.authority) sent a listing of \(dirKey) that is not a ListBucketResult")
            }
            for (k, size) in page.keys {
                guard k.hasPrefix(dirKey) else { continue }
                var rel = Substring(k.dropFirst(dirKey.utf8.count))
                if parts.fanOut {
                    guard rel.utf8.count > 3, let slash = rel.firstIndex(of: "/") else { continue }
                    let fan = rel[..<slash]
                    rel = rel[rel.index(after: slash)...]
                    guard let n = ObjectLayout.name(fromFile: String(rel), type: type), ObjectLayout.fanOutDir(n) == fan else { continue }
                } else if rel.contains("/") { continue }
                guard let n = ObjectLayout.name(fromFile: String(rel), type: type), let h = ObjectHandle(type, n) else { continue }
                found.append(ObjectInfo(handle: h, size: size))
            }
            guard page.truncated, found.count < want else {
                return ListPage(objects: found, next: page.truncated ? found.last?.handle.name : nil)
            }
            guard let next = page.continuation, !next.isEmpty else {
                throw StorageError(.fatal, "S3 at \(s3.authority) sent a truncated listing of \(dirKey) without a continuation token")
            }
            token = next
            startAfter = nil
        }
    }
}
