// Every status code Docs/openapi.json documents is produced by a request here: the test reads
// the document's (method, path, status) triples, makes requests that should produce each one,
// records what each request really got, and fails for every documented triple no request
// produced (a status the server cannot answer must not be documented). Codes common to every
// operation are produced systematically: 401 (no token), 403 (a foreign Host without a token
// file), 405 (a method the path does not take), 503 (another process holds the exclusive
// lock longer than --wait), 500 (snapshot records in the index damaged by another process).

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct StatusCoverageTests {
    /// One documented operation.
    struct Operation: Hashable {
        var method: String
        var template: String
    }

    /// (operation -> documented statuses) from Docs/openapi.json.
    static func documented() throws -> [Operation: Set<Int>] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try JSONSerialization.jsonObject(with: Data(try FS.readAll(root.appendingPathComponent("Docs/openapi.json").path))) as? [String: Any] ?? [:]
        var out: [Operation: Set<Int>] = [:]
        for (path, ops) in doc["paths"] as? [String: [String: Any]] ?? [:] {
            for (method, op) in ops {
                guard let responses = (op as? [String: Any])?["responses"] as? [String: Any] else { continue }
                out[Operation(method: method.uppercased(), template: path)] = Set(responses.keys.compactMap { Int($0) })
            }
        }
        return out
    }

    /// Makes requests and remembers which operation got which status.
    final class Recorder {
        var seen: [Operation: Set<Int>] = [:]
        var values: [String: String] = [:]

        func path(_ template: String) -> String {
            var p = template
            for (k, v) in values { p = p.replacingOccurrences(of: "{\(k)}", with: v) }
            return p
        }

        @discardableResult
        func hit(_ h: ServerHarness, _ method: String, _ template: String, query: String = "", json: String? = nil, body: [UInt8]? = nil,
                 headers: [String] = [], auth: Bool = true, as op: String? = nil) throws -> HTTPReply {
            let r = try h.request(method, path(template) + query, body: body, json: json, headers: headers, auth: auth)
            seen[Operation(method: op ?? method, template: template), default: []].insert(r.status)
            return r
        }
    }

    @Test func everyDocumentedStatusIsProduced() throws {
        let documented = try Self.documented()
        #expect(documented.count >= 20)
        let rec = Recorder()
        let h = try ServerHarness("coverage", args: ["--wait", "1", "--max-upload", "400000"])
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let snap = try #require(try h.snapshotIds().first)
        let archive = try h.get("/api/v1/snapshots/latest/export.zip?silo=app").body
        let upload = try h.request("POST", "/api/v1/uploads", body: archive).object["id"] as? String ?? ""
        let finished = try h.runJob(#"{"type":"check"}"#)["id"] as? String ?? ""
        rec.values = ["id": snap]
        let ops = documented.keys.sorted { ($0.template, $0.method) < ($1.template, $1.method) }
        func ids(for op: Operation) -> [String: String] {
            op.template.hasPrefix("/api/v1/uploads/") ? ["id": upload] : op.template.hasPrefix("/api/v1/jobs/") ? ["id": finished] : ["id": snap]
        }
        func sample(_ op: Operation) -> (query: String, json: String?) {
            switch (op.method, op.template) {
            case ("GET", "/api/v1/snapshots/{id}/cat"): return ("?path=app/notes.txt", nil)
            case ("GET", "/api/v1/diff"): return ("?a=\(snap)&b=live", nil)
            case ("POST", "/api/v1/restore/dry-run"): return ("", #"{"snapshot":"latest"}"#)
            case ("POST", "/api/v1/jobs"): return ("", #"{"type":"restore","snapshot":"latest"}"#)
            case ("POST", "/api/v1/forget"): return ("", #"{"ids":["\#(snap)"],"dryRun":true}"#)
            case ("PUT", "/api/v1/policy"): return ("", #"{"keepLast":3}"#)
            case ("POST", "/api/v1/uploads"): return ("", nil)
            default: return ("", op.method == "POST" || op.method == "PUT" ? "{}" : nil)
            }
        }
        func everyOperation(_ headers: [String] = [], method: String? = nil, auth: Bool = true, on server: ServerHarness) throws {
            for op in ops {
                rec.values = ids(for: op)
                let s = sample(op)
                try rec.hit(server, method ?? op.method, op.template, query: s.query, json: s.json,
                            body: op.template == "/api/v1/uploads" ? archive : nil, headers: headers, auth: auth, as: op.method)
            }
        }

        // 403 (Host not loopback without a token file) and 405 (a method no path takes), for every operation.
        try everyOperation(["Host: backup.example.org"], on: h)
        try everyOperation(method: "PATCH", on: h)

        // Success and the specific errors of each operation.
        rec.values = ["id": snap]
        for p in ["/api/v1/openapi.json", "/api/v1/status", "/api/v1/snapshots", "/api/v1/snapshots/{id}", "/api/v1/snapshots/{id}/ls",
                  "/api/v1/snapshots/{id}/export.zip", "/api/v1/snapshots/{id}/export-estimate", "/api/v1/estimate", "/api/v1/jobs", "/api/v1/policy"] {
            #expect(try rec.hit(h, "GET", p).status == 200, "\(p)")
        }
        try rec.hit(h, "GET", "/api/v1/snapshots", query: "?limit=0")
        try rec.hit(h, "GET", "/api/v1/snapshots", query: "?silo=nope")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}", query: "", as: nil)
        rec.values = ["id": "not-an-id!"]
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/ls")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/cat", query: "?path=app/notes.txt")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export.zip")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export-estimate")
        rec.values = ["id": "ffffff"]
        for p in ["/api/v1/snapshots/{id}", "/api/v1/snapshots/{id}/ls", "/api/v1/snapshots/{id}/export.zip", "/api/v1/snapshots/{id}/export-estimate"] {
            try rec.hit(h, "GET", p)
        }
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/cat", query: "?path=app/notes.txt")
        rec.values = ["id": snap]
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/ls", query: "?path=app/nope")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/cat", query: "?path=app/notes.txt")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/cat")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/cat", query: "?path=app/nope")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export.zip", headers: ["Range: bytes=0-99"])
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export.zip", headers: ["Range: bytes=999999999-"])
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export.zip", query: "?compression=rar")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export.zip", query: "?silo=nope")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export-estimate", query: "?compression=rar")
        try rec.hit(h, "GET", "/api/v1/snapshots/{id}/export-estimate", query: "?silo=nope")
        try rec.hit(h, "GET", "/api/v1/diff", query: "?a=\(snap)&b=live")
        try rec.hit(h, "GET", "/api/v1/diff", query: "?a=\(snap)")
        try rec.hit(h, "GET", "/api/v1/diff", query: "?a=ffffff&b=live")
        try rec.hit(h, "GET", "/api/v1/estimate", query: "?silo=nope")
        try rec.hit(h, "POST", "/api/v1/restore/dry-run", json: #"{"snapshot":"latest"}"#)
        try rec.hit(h, "POST", "/api/v1/restore/dry-run", json: "{}")
        try rec.hit(h, "POST", "/api/v1/restore/dry-run", json: #"{"snapshot":"ffffff"}"#)
        try rec.hit(h, "POST", "/api/v1/uploads", body: archive)
        try rec.hit(h, "POST", "/api/v1/uploads", query: "?import=maybe", body: archive)
        try rec.hit(h, "POST", "/api/v1/uploads", body: Array("not a zip archive".utf8))
        try rec.hit(h, "POST", "/api/v1/uploads", body: [UInt8](repeating: 0x50, count: 500_000))
        let imported = try rec.hit(h, "POST", "/api/v1/uploads", query: "?import=true", body: archive)
        if let id = imported.object["id"] as? String { _ = try h.waitJob(id) }
        rec.values = ["id": upload]
        try rec.hit(h, "GET", "/api/v1/uploads/{id}")
        try rec.hit(h, "DELETE", "/api/v1/uploads/{id}")
        try rec.hit(h, "GET", "/api/v1/uploads/{id}")
        try rec.hit(h, "DELETE", "/api/v1/uploads/{id}")
        try rec.hit(h, "POST", "/api/v1/jobs", json: #"{"type":"dance"}"#)
        try rec.hit(h, "POST", "/api/v1/jobs", json: #"{"type":"import","upload":"nope"}"#)
        try rec.hit(h, "POST", "/api/v1/jobs", json: "{\"type\":\"check\",\"message\":\"\(String(repeating: "x", count: 2 << 20))\"}")
        do {
            let holder = try Child.spawn("/bin/sh", ["-c", "exec 3<'\(h.dir.sub("app/notes.txt"))'; exec sleep 30"])
            defer { holder.kill(); holder.wait() }
            #expect(eventually(5) { (try? rec.hit(h, "POST", "/api/v1/jobs", json: #"{"type":"restore","snapshot":"latest","silos":["app"]}"#).status) == 409 })
        }
        let running = try rec.hit(h, "POST", "/api/v1/jobs", json: #"{"type":"check","readData":true}"#)
        rec.values = ["id": running.object["id"] as? String ?? ""]
        try rec.hit(h, "GET", "/api/v1/jobs/{id}")
        try rec.hit(h, "GET", "/api/v1/jobs/{id}/events")
        try rec.hit(h, "DELETE", "/api/v1/jobs/{id}")
        _ = try h.waitJob(rec.values["id"] ?? "")
        try rec.hit(h, "DELETE", "/api/v1/jobs/{id}")
        rec.values = ["id": "nope"]
        for (m, p) in [("GET", "/api/v1/jobs/{id}"), ("DELETE", "/api/v1/jobs/{id}"), ("GET", "/api/v1/jobs/{id}/events")] { try rec.hit(h, m, p) }
        rec.values = ["id": snap]
        try rec.hit(h, "POST", "/api/v1/forget", json: #"{"ids":["\#(snap)"],"dryRun":true}"#)
        try rec.hit(h, "POST", "/api/v1/forget", json: #"{"ids":["\#(snap)"],"policy":{"keepLast":1},"dryRun":true}"#)
        try rec.hit(h, "POST", "/api/v1/forget", json: #"{"ids":["ffffff"],"dryRun":true}"#)
        try rec.hit(h, "PUT", "/api/v1/policy", json: #"{"keepLast":3}"#)
        try rec.hit(h, "PUT", "/api/v1/policy", json: #"{"keepLast":-1}"#)
        try rec.hit(h, "PUT", "/api/v1/policy", json: #"{"keepLast":3,"silo":"nope"}"#)
        try rec.hit(h, "DELETE", "/api/v1/policy")

        // 503: another process holds the exclusive lock for longer than --wait (1 s).
        do {
            let other = try Repository.open(at: h.repo)
            try other.lock(.exclusive, wait: 30, command: "test")
            try everyOperation(on: h)
            // A job waiting for the lock is still running: cancelling it is accepted (202).
            let waiting = try rec.hit(h, "POST", "/api/v1/jobs", json: #"{"type":"check"}"#)
            rec.values = ["id": waiting.object["id"] as? String ?? ""]
            #expect(try rec.hit(h, "DELETE", "/api/v1/jobs/{id}").status == 202)
            #expect(try h.waitJob(rec.values["id"] ?? "")["state"] as? String == "cancelled")
            other.unlock()
        }

        // 409 for a dry run while another process's restore holds the restore lock (longer than --wait).
        do {
            let fd = open(stateFolder(h.repo) + "/restore.lock", O_RDWR | O_CREAT, 0o644)
            #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
            try rec.hit(h, "POST", "/api/v1/restore/dry-run", json: #"{"snapshot":"latest"}"#)
            close(fd)
        }

        // The jobs the 503 round queued (a restore of latest among them) run once the lock is
        // free; under load they may still hold locks when the 500 round starts: wait for them.
        try h.waitForIdle()

        // 500 for the policy: REPO/policy.json is a folder (cannot be read, replaced or removed).
        try FS.mkdirs(h.repo + "/policy.json/x")
        for m in ["GET", "PUT", "DELETE"] { try rec.hit(h, m, "/api/v1/policy", json: m == "PUT" ? #"{"keepLast":2}"# : nil) }
        // 500 for an upload: the spool folder is a file (the upload cannot be written).
        try run("rm", ["-rf", h.spoolDir])
        try writeFile(h.spoolDir, Array("not a folder".utf8))
        try rec.hit(h, "POST", "/api/v1/uploads", body: archive)

        // 500: the snapshot records in the index are damaged (by another process).
        do {
            let db = try SQLiteDB(path: cacheIndexPath(h.repo))
            try db.exec("UPDATE snapshots SET record = '{\"damaged\":'")
            try everyOperation(on: h)
        }

        // 401: a server with a token file, every operation without the token.
        let t = try ServerHarness("coverage-auth", silos: false)
        let tf = t.dir.sub("tokens")
        _ = try run(cairnBinary(), ["serve", "--add-token", "app", "--token-file", tf])
        t.extraArgs = ["--token-file", tf]
        try t.start()
        try everyOperation(auth: false, on: t)

        var missing: [String] = []
        for op in ops {
            for status in documented[op, default: []].sorted() where !(rec.seen[op]?.contains(status) ?? false) {
                missing.append("\(op.method) \(op.template) \(status)")
            }
        }
        #expect(missing.isEmpty, "documented but never produced:\n\(missing.joined(separator: "\n"))")
    }
}
