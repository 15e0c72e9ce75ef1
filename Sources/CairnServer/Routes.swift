// Routes: the URL table of /api/v1 and the page. Each handler parses and checks its
// parameters, then calls Operations (the library adapter) through the repository pool.

import CairnCore
import Foundation
import Hummingbird

struct UploadView: Codable, Sendable {
    var id: String
    var size: UInt64
    var filename: String
    var summary: ArchiveSummary
    init(_ u: UploadRecord) {
        id = u.id
        size = u.size
        filename = u.filename
        summary = u.summary
    }
}

extension CairnServer {
    func route(_ req: Request, _ who: Principal) async throws -> Response {
        let path = req.uri.path
        let q = Query(req.uri.query)
        let m = req.method
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { Query.decode(String($0)) }
        func only(_ allowed: HTTPRequest.Method...) throws {
            guard allowed.contains(m) else {
                var e = APIError(.methodNotAllowed, "method-not-allowed", "\(m) is not allowed on \(path); use \(allowed.map(\.rawValue).joined(separator: " or "))")
                e.allow = allowed.map(\.rawValue).joined(separator: ", ")
                throw e
            }
        }
        if parts.isEmpty || path == "/index.html" {
            try only(.get, .head)
            return HTTP.bytes(Array(Page.html.utf8), type: "text/html; charset=utf-8", extra: [
                .init("Content-Security-Policy")!: "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'none'",
                .init("X-Frame-Options")!: "DENY",
            ])
        }
        guard parts.count >= 2, parts[0] == "api", parts[1] == "v1" else {
            throw APIError.notFound("no page or endpoint at \(path)", hint: "the API lives under /api/v1 (see /api/v1/openapi.json)")
        }
        let rest = Array(parts.dropFirst(2))
        switch (rest.first ?? "", rest.count) {
        case ("openapi.json", 1):
            try only(.get)
            return HTTP.bytes(Array(OpenAPIDocument.json.utf8), type: "application/json")
        case ("status", 1):
            try only(.get)
            let running = jobs.running
            let note = pool.recoveryReport
            return try HTTP.json(try await withRepo { try Operations.status($0, jobs: running, recovered: note) })
        case ("snapshots", 1):
            try only(.get)
            return try await listSnapshots(q)
        case ("snapshots", 2):
            try only(.get)
            let id = rest[1]
            return try HTTP.json(try await withRepo { try Operations.show($0, id) })
        case ("snapshots", 3):
            try only(.get)
            return try await snapshotSub(id: rest[1], what: rest[2], req: req, q: q)
        case ("diff", 1):
            try only(.get)
            guard let a = q["a"], let b = q["b"] else { throw APIError.badRequest("give a=SNAPSHOT and b=SNAPSHOT or b=live") }
            let silos = q.all("silo")
            let metadata = try q.bool("metadata")
            let bytes = try await withRepo { try Operations.diff($0, a: a, b: b, silos: silos, metadata: metadata) }
            return HTTP.bytes(bytes, type: "application/json")
        case ("estimate", 1):
            try only(.get)
            let silos = q.all("silo")
            return try HTTP.json(try await withRepo { try Operations.estimate($0, silos: silos) })
        case ("restore", 2) where rest[1] == "dry-run":
            try only(.post)
            let body = try await HTTP.decode(JobRequest.self, from: req)
            guard let ref = body.snapshot else { throw APIError.badRequest("give \"snapshot\": an id, a prefix or \"latest\"") }
            let wait = options.wait
            return try HTTP.json(try await withRepo { try Operations.restoreDryRun($0, body, ref: ref, wait: wait) })
        case ("uploads", 1):
            try only(.post)
            try requireWrite(who)
            return try await upload(req, q, who)
        case ("uploads", 2):
            try only(.get, .delete)
            if m == .delete {
                try requireWrite(who)
                guard uploads.discard(rest[1]) else { throw APIError.notFound("no upload \(rest[1]) (it was imported, discarded or expired)") }
                return try HTTP.json(["discarded": rest[1]])
            }
            guard let u = uploads.get(rest[1]) else { throw APIError.notFound("no upload \(rest[1]) (it was imported, discarded or expired)") }
            return try HTTP.json(UploadView(u))
        case ("jobs", 1):
            try only(.get, .post)
            if m == .get { return try HTTP.json(jobs.all.reversed()) }
            try requireWrite(who)
            let body = try await HTTP.decode(JobRequest.self, from: req)
            return try await createJob(body, who)
        case ("jobs", 2):
            try only(.get, .delete)
            if m == .delete {
                try requireWrite(who)
                return try HTTP.json(try jobs.cancel(rest[1], by: who), status: .accepted)
            }
            guard let j = jobs.get(rest[1]) else { throw APIError.notFound("no job \(rest[1])", hint: "list jobs with GET /api/v1/jobs") }
            return try HTTP.json(j)
        case ("jobs", 3) where rest[2] == "events":
            try only(.get)
            guard jobs.get(rest[1]) != nil else { throw APIError.notFound("no job \(rest[1])") }
            return events(rest[1])
        case ("forget", 1):
            try only(.post)
            let body = try await HTTP.decode(ForgetRequest.self, from: req)
            if body.dryRun != true { try requireWrite(who) }
            return try HTTP.json(try await withRepo { try Operations.forget($0, body) })
        case ("policy", 1):
            try only(.get, .put, .delete)
            func doc(_ p: RetentionPolicy?) throws -> Response { try HTTP.json(["policy": try p.map { try jsonValue($0) } ?? .null]) }
            if m == .get { return try doc(try await withRepo { try Operations.policy($0) }) }
            try requireWrite(who)
            let p: RetentionPolicy? = m == .put ? try await HTTP.decode(PolicyBody.self, from: req).policy() : nil
            try await withRepo { try Operations.setPolicy($0, p) }
            return try doc(p)
        default:
            throw APIError.notFound("no endpoint \(m) \(path)", hint: "see /api/v1/openapi.json")
        }
    }

    func listSnapshots(_ q: Query) async throws -> Response {
        let offset = try q.int("offset", default: 0, range: 0...Int(Int32.max))
        let limit = try q.int("limit", default: 100, range: 1...1000)
        func time(_ k: String) throws -> Int64? {
            guard let v = q[k] else { return nil }
            // Nanoseconds since 1970 must fit Int64 (years 1678-2262); anything else is refused, not trapped on.
            if let d = ISO8601DateFormatter().date(from: v), let ns = Int64(exactly: (d.timeIntervalSince1970 * 1e9).rounded()) { return ns }
            throw APIError.badRequest("\(k)=\(v) is not an ISO 8601 time between 1678 and 2262 (e.g. 2026-01-31T12:00:00Z)")
        }
        let since = try time("since"), until = try time("until")
        let silo = q["silo"], tag = q["tag"]
        return try HTTP.json(try await withRepo { try Operations.list($0, silo: silo, tag: tag, since: since, until: until, offset: offset, limit: limit) })
    }

    func snapshotSub(id: String, what: String, req: Request, q: Query) async throws -> Response {
        switch what {
        case "ls":
            let path = q["path"], recursive = try q.bool("recursive")
            let limit = try q.int("limit", default: 1000, range: 1...Operations.maxListed)
            return try HTTP.json(try await withRepo { try Operations.ls($0, id, path: path, recursive: recursive, limit: limit) })
        case "cat":
            guard let path = q["path"], !path.isEmpty else { throw APIError.badRequest("give path=SILO/relative/path of a file") }
            let (snap, le) = try await withRepo { r -> (Snapshot, ListedEntry) in try Operations.catTarget(r, id, path: path) }
            let pool = self.pool, wait = options.wait
            let name = (le.path.components.last?.escaped ?? "file").replacingOccurrences(of: "\"", with: "")
            return StreamPipe.response(headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"\(name)\"",
                                                 .init("X-Cairn-Snapshot")!: snap.id], contentLength: Int(exactly: le.entry.size)) { pipe in
                try pool.with(wait: wait, command: "cat") { r in try Operations.cat(r, le, to: pipe) }
            }
        case "export.zip", "export-estimate":
            return try await export(id: id, estimateOnly: what == "export-estimate", req: req, q: q)
        default:
            throw APIError.notFound("no endpoint /api/v1/snapshots/{id}/\(what)", hint: "use ls, cat, export.zip or export-estimate")
        }
    }

    func exportParams(_ q: Query) throws -> ([String], ExportCompression, Int32) {
        let cname = q["compression"] ?? "store"
        guard let c = ExportCompression(rawValue: cname) else {
            throw APIError.badRequest("compression=\(cname) is not one of \(ExportCompression.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let level = try q.int("level", default: 1, range: 1...9)
        return (q.all("silo"), c, Int32(level))
    }

    func export(id: String, estimateOnly: Bool, req: Request, q: Query) async throws -> Response {
        let (silos, comp, level) = try exportParams(q)
        let (est, snap) = try await withRepo { r -> (ExportEstimate, SnapshotView) in
            let e = try Operations.exporter(r, id, silos: silos, compression: comp, level: level)
            return (try e.estimate(), try Operations.show(r, id))
        }
        if estimateOnly {
            struct Doc: Encodable { var snapshot: String; var silos: [String]; var compression: String; var exact: Bool; var archiveBytes: UInt64; var estimate: ExportEstimate }
            let chosen = silos.isEmpty ? snap.silos.map(\.name) : silos
            return try HTTP.json(Doc(snapshot: snap.id, silos: chosen, compression: comp.rawValue, exact: comp == .store,
                                     archiveBytes: comp == .store ? est.storeBytes : est.boundBytes, estimate: est))
        }
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        let stamp = f.string(from: Date(timeIntervalSince1970: Double(snap.timeNs) / 1e9))
        var headers: HTTPFields = [.contentType: "application/zip",
                                   .contentDisposition: "attachment; filename=\"cairn-\(snap.shortId)-\(stamp)Z.zip\"",
                                   .init("X-Cairn-Snapshot")!: snap.id]
        var status = HTTPResponse.Status.ok
        var length: Int?
        var start: UInt64 = 0
        var end: UInt64?
        if comp == .store {
            // Store archives are deterministic and their size is exact: Content-Length and Range.
            let total = est.storeBytes
            headers[.acceptRanges] = "bytes"
            headers[.eTag] = "\"\(snap.id.prefix(16))-\(BlockId.hash(Array(silos.sorted().joined(separator: "/").utf8)).hex.prefix(8))-store\""
            length = Int(exactly: total)
            if let range = req.headers[.range] {
                guard let (a, b) = ByteRange.parse(range, size: total) else {
                    headers[.contentRange] = "bytes */\(total)"
                    return HTTP.bytes(Array("{\"code\":\"bad-range\",\"message\":\"Range \(range) cannot be served from \(total) bytes\",\"hint\":\"\"}".utf8),
                                      type: "application/json", status: .rangeNotSatisfiable, extra: headers)
                }
                start = a
                end = b
                status = .partialContent
                headers[.contentRange] = "bytes \(a)-\(b)/\(total)"
                length = Int(exactly: b - a + 1)
            }
        } else {
            headers[.acceptRanges] = "none"
        }
        let pool = self.pool, wait = options.wait
        return StreamPipe.response(status: status, headers: headers, contentLength: length, start: start, end: end) { pipe in
            try pool.with(wait: wait, command: "export") { r in
                _ = try Operations.exporter(r, id, silos: silos, compression: comp, level: level).export(to: pipe)
            }
        }
    }

    func upload(_ req: Request, _ q: Query, _ who: Principal) async throws -> Response {
        let u = try await uploads.receive(req)
        guard try q.bool("import") else { return try HTTP.json(UploadView(u), status: .created) }
        var body = JobRequest(type: "import")
        body.upload = u.id
        body.tags = q.all("tag")
        body.asSilo = q.all("as_silo")
        body.restore = try q.bool("restore")
        body.silos = q.all("silo")
        body.force = try q.bool("force")
        return try await createJob(body, who)
    }

    func createJob(_ body: JobRequest, _ who: Principal) async throws -> Response {
        let pool = self.pool, wait = options.wait
        var params = try jsonValue(body)
        if case .object(var o) = params { o = o.filter { $0.value != .null }; params = .object(o) }
        let p: [String: JSONValue] = { if case .object(let o) = params { return o }; return [:] }()
        let longWait: Double = 3600
        let rec: JobRecord
        switch body.type ?? "" {
        case "snapshot":
            let silos = body.silos ?? []
            if !silos.isEmpty { try await withRepo { r in for s in silos { _ = try r.silo(s) } } }
            rec = jobs.start(type: "snapshot", params: p, by: who) { ctx in
                try pool.with(wait: longWait, command: "snapshot") { try Operations.snapshot($0, body, ctx) }
            }
        case "restore":
            guard let ref = body.snapshot else { throw APIError.badRequest("a restore job needs \"snapshot\"") }
            try await refuseOpenFiles(body, ref: ref)
            rec = jobs.start(type: "restore", params: p, by: who) { ctx in
                try pool.with(wait: longWait, command: "restore") { try jsonValue(try Operations.restore($0, body, ref: ref, wait: wait, ctx)) }
            }
        case "check":
            rec = jobs.start(type: "check", params: p, by: who) { ctx in
                try pool.with(wait: longWait, command: "check") { try Operations.check($0, body, ctx) }
            }
        case "prune":
            rec = jobs.start(type: "prune", params: p, by: who) { ctx in
                try pool.with(exclusive: true, wait: longWait, command: "prune") { try Operations.prune($0, body, ctx) }
            }
        case "import":
            guard let id = body.upload else { throw APIError.badRequest("an import job needs \"upload\": the id POST /api/v1/uploads returned") }
            guard let u = uploads.take(id) else { throw APIError.notFound("no upload \(id) (it was imported, discarded or expired)") }
            let max = uploads.maxSize
            rec = jobs.start(type: "import", params: p, by: who, spool: u.path) { ctx in
                try pool.with(wait: longWait, command: "import") { try Operations.importArchive($0, body, upload: u, maxSize: max, wait: wait, ctx) }
            }
        default:
            throw APIError.badRequest("\"type\" must be snapshot, restore, check, prune or import")
        }
        return try HTTP.json(rec, status: .accepted)
    }

    /// A restore while the application holds silo files open is refused with 409 and the process names.
    func refuseOpenFiles(_ body: JobRequest, ref: String) async throws {
        guard body.force != true, body.to == nil else { return }
        let wait = options.wait
        let dry = try await withRepo { try Operations.restoreDryRun($0, body, ref: ref, wait: wait) }
        let open = dry.result.openFiles
        guard !open.isEmpty else { return }
        let names = Array(Set(open.map(\.program))).sorted()
        let list = open.prefix(5).map { "pid \($0.pid) (\($0.program)) has \($0.path) open" }.joined(separator: "; ")
        throw APIError(.conflict, "files-open", "\(names.joined(separator: ", ")) still \(names.count == 1 ? "has" : "have") files of the silos open: \(list)",
                       hint: "stop the application first (it would keep writing to the replaced files), or send \"force\": true",
                       detail: ["processes": .array(names.map { .string($0) }),
                                "openFiles": .array(open.map { .object(["pid": .int(Int64($0.pid)), "program": .string($0.program), "path": .string($0.path)]) })])
    }

    /// Server-Sent Events: `progress` whenever the job changes, `end` once it finished.
    func events(_ id: String) -> Response {
        let jobs = self.jobs
        let stall = StallGuard()
        let body = ResponseBody { writer in
            defer { stall.finish() }
            var last = Data()
            var idle = 0
            while true {
                guard let j = jobs.get(id) else { break }
                let data = try HTTP.jsonEncoder.encode(j)
                if data != last {
                    try await stall.write { try await writer.write(ByteBuffer(string: "event: \(j.finished ? "end" : "progress")\ndata: \(String(decoding: data, as: UTF8.self))\n\n")) }
                    last = data
                    idle = 0
                } else {
                    idle += 1
                    if idle % 60 == 0 { try await stall.write { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) } }
                }
                if j.finished { break }
                try await Task.sleep(nanoseconds: 250_000_000)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// `Range: bytes=A-B | A- | -N` against a known size (one range only).
enum ByteRange {
    static func parse(_ header: String, size: UInt64) -> (UInt64, UInt64)? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let a = spec[..<dash], b = spec[spec.index(after: dash)...]
        if a.isEmpty {
            guard let n = UInt64(b), n > 0 else { return nil }
            return (size - min(n, size), size - 1)
        }
        guard let start = UInt64(a), start < size else { return nil }
        if b.isEmpty { return (start, size - 1) }
        guard let end = UInt64(b), end >= start else { return nil }
        return (start, min(end, size - 1))
    }
}
