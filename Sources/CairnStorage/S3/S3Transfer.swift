// Uploads and downloads of the S3 backend, memory bounded by one part or chunk buffer:
// objects up to `partSize` go in one PUT (payload SHA-256 signed, Content-MD5 checked by the
// server); larger ones as a multipart upload, part by part, completed with `If-None-Match: *`.
// Downloads are ranged GETs of `getChunkSize` bytes, pinned to the first answer's ETag.

extension S3Backend {
    public func put(_ handle: ObjectHandle, from source: any ByteSource) async throws {
        let k = key(handle)
        let until = ContinuousClock.now.advanced(by: options.operationDeadline)
        if !options.conditionalWrites || source.length > UInt64(options.partSize) {
            // Stores without conditional writes, and multipart uploads (whose completion may not
            // honour the condition everywhere), look first: no upload of a name that is taken.
            if try await exists(k, until: until) { throw StorageError(.alreadyExists, "\(k) already exists in \(location); objects are written once", object: k) }
        }
        do {
            if source.length <= UInt64(options.partSize) {
                try await putSingle(k, try readPart(source, 0, Int(source.length)), until: until)
            } else {
                try await putMultipart(k, source, until: until)
            }
        } catch let e as StorageError where e.kind == .permission {
            // Some stores (SeaweedFS) refuse a PUT into a missing bucket with 403: say what is wrong.
            if let missing = (try? await checkBucket()) ?? nil { throw missing }
            throw e
        }
    }

    /// Nil when the bucket exists (or its existence cannot be told); else the `noSuchBucket` error.
    /// Opening a repository should call it first, so a missing bucket is not mistaken for a
    /// missing repository.
    public func checkBucket() async throws -> StorageError? {
        do {
            _ = try await send("GET", key: nil, query: [("list-type", "2"), ("max-keys", "1"), ("prefix", s3.key(""))], accept: [200], what: "bucket \(s3.bucket)")
            return nil
        } catch let e as StorageError where e.detail == .noSuchBucket {
            return e
        } catch let e as StorageError where e.kind == .permission {
            return nil
        }
    }

    func exists(_ k: String, until: ContinuousClock.Instant) async throws -> Bool {
        do {
            _ = try await send("HEAD", key: k, accept: [200], what: k, until: until)
            return true
        } catch let e as StorageError where e.kind == .notFound && e.detail != .noSuchBucket {
            return false
        }
    }

    private func readPart(_ source: any ByteSource, _ offset: UInt64, _ count: Int) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        try source.forEachChunk(from: offset, count: UInt64(count), bufferSize: 1 << 20) { c in
            buf.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: got).copyMemory(from: c.baseAddress!, byteCount: c.count) }
            got += c.count
        }
        guard got == count else { throw StorageError(.fatal, "upload source ended early at byte \(offset + UInt64(got))") }
        return buf
    }

    private func md5(_ b: [UInt8]) -> [UInt8] {
        let d = Digest(.md5)
        d.update(b)
        return d.finish()
    }

    /// One PUT. When an earlier attempt's outcome was unknown and the retry meets 412, the object's
    /// ETag (the MD5 of a single-PUT object) tells whether that attempt landed.
    private func putSingle(_ k: String, _ body: [UInt8], until: ContinuousClock.Instant) async throws {
        let digest = md5(body)
        var headers = [("Content-MD5", Base64.encode(digest))]
        if options.conditionalWrites { headers.append(("If-None-Match", "*")) }
        var mayHaveLanded = false
        try await options.retry.run(until: until) { _, remaining in
            do {
                let r = try await once("PUT", key: k, headers: headers, body: body, remaining: remaining)
                if r.status == 200 { return }
                throw classify(r, what: k, write: true)
            } catch let e as StorageError where e.kind == .alreadyExists && mayHaveLanded {
                if try await etag(k) == Hex.encode(digest) { return }
                throw e
            } catch let e as StorageError where e.isRetryable {
                if e.outcomeUnknown { mayHaveLanded = true }
                throw e
            }
        }
    }

    /// The ETag of `k` without quotes, lower-cased.
    private func etag(_ k: String) async throws -> String {
        let r = try await send("HEAD", key: k, accept: [200], what: k)
        return (r.headers["etag"] ?? "").trimmingCharacters(in: "\"").lowercased()
    }

    private func putMultipart(_ k: String, _ source: any ByteSource, until: ContinuousClock.Instant) async throws {
        let create = try await send("POST", key: k, query: [("uploads", "")], accept: [200], what: "start of upload \(k)", write: true, until: until)
        guard let uploadId = S3XML.first("UploadId", in: String(decoding: create.body, as: UTF8.self)[...]), !uploadId.isEmpty else {
            throw StorageError(.fatal, "S3 at \(s3.authority) started an upload of \(k) without an UploadId")
        }
        do {
            var etags: [String] = []
            var offset: UInt64 = 0
            var number = 1
            while offset < source.length {
                let n = Int(min(UInt64(options.partSize), source.length - offset))
                let body = try readPart(source, offset, n)
                let r = try await send("PUT", key: k, query: [("partNumber", String(number)), ("uploadId", uploadId)],
                                       headers: [("Content-MD5", Base64.encode(md5(body)))], body: body, accept: [200],
                                       what: "part \(number) of \(k)", write: true, until: until)
                guard let tag = r.headers["etag"], !tag.isEmpty else {
                    throw StorageError(.fatal, "S3 at \(s3.authority) accepted part \(number) of \(k) without an ETag")
                }
                etags.append(tag)
                offset += UInt64(n)
                number += 1
            }
            let xml = "<CompleteMultipartUpload>" + etags.enumerated().map {
                "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(xmlEscape($0.element))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            try await complete(k, uploadId, Array(xml.utf8), size: source.length, until: until)
        } catch {
            // Best effort: free the parts; the object never appeared under its name.
            _ = try? await once("DELETE", key: k, query: [("uploadId", uploadId)], remaining: .seconds(5))
            throw error
        }
    }

    /// CompleteMultipartUpload; a 200 may still carry an `<Error>` (S3 sends it late). A retry
    /// after an unknown outcome that finds the upload gone checks the object's size.
    private func complete(_ k: String, _ uploadId: String, _ xml: [UInt8], size: UInt64, until: ContinuousClock.Instant) async throws {
        var headers: [(String, String)] = []
        if options.conditionalWrites { headers.append(("If-None-Match", "*")) }
        var mayHaveLanded = false
        try await options.retry.run(until: until) { _, remaining in
            do {
                var r = try await once("POST", key: k, query: [("uploadId", uploadId)], headers: headers, body: xml, remaining: remaining)
                if r.status == 200, S3XML.error(String(decoding: r.body, as: UTF8.self)) != nil { r.status = 500 }
                if r.status == 200 { return }
                throw classify(r, what: "completion of \(k)", write: true)
            } catch let e as StorageError where mayHaveLanded && (e.kind == .notFound || e.kind == .alreadyExists) {
                if (try? await stat(k)) == size { return }
                throw e
            } catch let e as StorageError where e.isRetryable {
                if e.outcomeUnknown { mayHaveLanded = true }
                throw e
            }
        }
    }

    private func stat(_ k: String) async throws -> UInt64? {
        let r = try await send("HEAD", key: k, accept: [200], what: k)
        return r.headers["content-length"].flatMap { UInt64($0.trimmingSpaces) }
    }

    public func get(_ handle: ObjectHandle, range: ByteRange?, sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        let k = key(handle)
        var pos = range?.offset ?? 0
        let end = range?.end ?? .max
        var total: UInt64? = nil
        var pin: String? = nil
        let until = ContinuousClock.now.advanced(by: options.operationDeadline)
        while pos < min(end, total ?? .max) {
            let (step, over) = pos.addingReportingOverflow(UInt64(options.getChunkSize))
            let last = min(end, total ?? .max, over ? .max : step) - 1  // > pos: the loop holds pos < end, total
            var headers = [("Range", "bytes=\(pos)-\(last)")]
            if let pin { headers.append(("If-Match", pin)) }
            let r = try await options.retry.run(until: until) { _, remaining in
                let r = try await once("GET", key: k, headers: headers, remaining: remaining)
                switch r.status {
                case 200, 206, 416: return r
                case 412: throw StorageError(.fatal, "\(k) changed while it was read from \(location); objects are written once, run `cairn check`", object: k)
                default: throw classify(r, what: k, write: false)
                }
            }
            if r.status == 416 { return }  // the range starts at or past the end
            var body = r.body[...]
            if r.status == 206 {
                guard let cr = r.headers["content-range"], let (a, b, size) = Self.parseContentRange(cr), a == pos, b >= a,
                      b - a + 1 == UInt64(body.count) else {
                    throw StorageError(.transient, "S3 at \(s3.authority) sent \(body.count) bytes of \(k) that do not match the range asked for; run the command again", object: k)
                }
                total = size
            } else {  // the whole object (a server that ignores Range)
                total = UInt64(body.count)
                guard pos < UInt64(body.count) else { return }
                body = body.dropFirst(Int(pos)).prefix(Int(min(end, UInt64(body.count)) - pos))
            }
            pin = pin ?? r.headers["etag"]
            try body.withUnsafeBytes { try sink($0) }
            pos += UInt64(body.count)
            if body.isEmpty { break }
        }
    }

    /// `bytes A-B/SIZE` → (A, B, SIZE), checked.
    public static func parseContentRange(_ s: String) -> (UInt64, UInt64, UInt64)? {
        guard s.hasPrefix("bytes ") else { return nil }
        let parts = s.dropFirst(6).split(separator: "/")
        guard parts.count == 2, let size = UInt64(parts[1].trimmingSpaces) else { return nil }
        let ab = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard ab.count == 2, let a = UInt64(ab[0]), let b = UInt64(ab[1]), a <= b, b < size else { return nil }
        return (a, b, size)
    }
}

private func xmlEscape(_ s: String) -> String {
    s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;").replacingAll("\"", "&quot;")
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String { split(separator: a, omittingEmptySubsequences: false).joined(separator: b) }
    func trimmingCharacters(in c: Character) -> String { String(drop(while: { $0 == c }).reversed().drop(while: { $0 == c }).reversed()) }
}
