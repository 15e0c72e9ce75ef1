// Read endpoints: status, snapshot list (filters, paging), show, ls, cat, diff, estimate,
// and the error paths (bad ids, bad parameters, unknown routes and methods).

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct ReadTests {
    @Test func statusListShowLsCatDiffEstimate() throws {
        let h = try ServerHarness("read")
        try h.start()
        let s0 = try h.get("/api/v1/status").object
        #expect((s0["silos"] as? [[String: Any]])?.map { $0["name"] as? String } == ["app", "media"])
        #expect(s0["snapshots"] as? Int == 0)
        #expect((s0["freeBytes"] as? Int ?? 0) > 0)

        #expect(try h.runJob(#"{"type":"snapshot","tags":["daily"]}"#)["state"] as? String == "succeeded")
        try writeFile(h.dir.sub("app/notes.txt"), Array("second version, longer\n".utf8))
        try writeFile(h.dir.sub("app/new.txt"), Array("new\n".utf8))
        #expect(try h.runJob(#"{"type":"snapshot","silos":["app"],"message":"after edit"}"#)["state"] as? String == "succeeded")
        let ids = try h.snapshotIds()  // newest first
        #expect(ids.count == 2)
        let (newest, oldest) = (ids[0], ids[1])

        // Status: latest snapshot per silo and running jobs.
        let st = try h.get("/api/v1/status").object
        let silos = st["silos"] as? [[String: Any]] ?? []
        #expect((silos[0]["latestSnapshot"] as? [String: Any])?["id"] as? String == ids[0])
        #expect((silos[1]["latestSnapshot"] as? [String: Any])?["id"] as? String == ids[1])
        #expect(st["jobs"] as? [Any] != nil)

        // List: newest first, filters, paging, bad parameters.
        let page = try h.get("/api/v1/snapshots?limit=1&offset=1").object
        #expect(page["total"] as? Int == 2 && (page["items"] as? [[String: Any]])?.first?["id"] as? String == ids[1])
        #expect(try h.get("/api/v1/snapshots?tag=daily").object["total"] as? Int == 1)
        #expect(try h.get("/api/v1/snapshots?silo=media").object["total"] as? Int == 1)
        #expect(try h.get("/api/v1/snapshots?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z").object["total"] as? Int == 0)
        #expect(try h.get("/api/v1/snapshots?silo=nope").status == 404)
        #expect(try h.get("/api/v1/snapshots?limit=0").status == 400)
        #expect(try h.get("/api/v1/snapshots?limit=abc").status == 400)
        #expect(try h.get("/api/v1/snapshots?since=yesterday").status == 400)

        // Show: full id, prefix, latest; bad and unknown ids.
        #expect(try h.get("/api/v1/snapshots/\(ids[0].prefix(8))").object["id"] as? String == ids[0])
        #expect(try h.get("/api/v1/snapshots/latest").object["message"] as? String == "after edit")
        #expect(try h.get("/api/v1/snapshots/zz").status == 400)
        #expect(try h.get("/api/v1/snapshots/abcdef0123").code == "not-found")

        // ls and cat.
        let ls = try h.get("/api/v1/snapshots/\(oldest)/ls?path=app&recursive=true").object
        let paths = (ls["items"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(paths.contains("app/data/blob.bin") && paths.contains("app/notes.txt"))
        #expect(try h.get("/api/v1/snapshots/\(ids[0])/ls?path=app&recursive=1&limit=1").object["truncated"] as? Bool == true)
        #expect(try h.get("/api/v1/snapshots/\(ids[0])/ls?path=nosilo").status == 404)
        let cat = try h.get("/api/v1/snapshots/\(ids[0])/cat?path=app/data/blob.bin")
        let blob = try FS.readAll(h.dir.sub("app/data/blob.bin"))
        #expect(cat.status == 200 && cat.body == blob)
        #expect(cat.headers["content-length"] == "200000")
        #expect(try h.get("/api/v1/snapshots/\(oldest)/cat?path=app/notes.txt").text == "first version\n")
        #expect(try h.get("/api/v1/snapshots/\(newest)/cat?path=app/notes.txt").text == "second version, longer\n")
        #expect(try h.get("/api/v1/snapshots/\(ids[0])/cat?path=app/missing").status == 404)
        #expect(try h.get("/api/v1/snapshots/\(ids[0])/cat?path=app/data").status == 400)
        #expect(try h.get("/api/v1/snapshots/\(ids[0])/cat").status == 400)

        // Diff: two snapshots, snapshot and live, errors.
        let d = try h.get("/api/v1/diff?a=\(oldest)&b=\(newest)&silo=app").object
        let changes = ((d["silos"] as? [[String: Any]])?.first?["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(changes.sorted() == ["new.txt", "notes.txt"], "\(d)")
        try writeFile(h.dir.sub("app/live.txt"), Array("live\n".utf8))
        let live = try h.get("/api/v1/diff?a=latest&b=live&silo=app").object
        let liveChanges = ((live["silos"] as? [[String: Any]])?.first?["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(liveChanges == ["live.txt"])
        #expect(try h.get("/api/v1/diff?a=latest").status == 400)
        #expect(try h.get("/api/v1/diff?a=live&b=latest").status == 400)
        #expect(try h.get("/api/v1/diff?a=latest&b=live&silo=nope").status == 404)

        // Estimate.
        let est = try h.get("/api/v1/estimate?silo=app").array as? [[String: Any]] ?? []
        #expect(est.first?["silo"] as? String == "app" && est.first?["changedFiles"] as? Int == 1)
        #expect(try h.get("/api/v1/estimate?silo=nope").status == 404)

        // Another process writes (the CLI, e.g. from cron): the shared instances see it at once.
        #expect(try cairn(h.repo, ["snapshot", "--silo", "media", "--tag", "from-cli"]).status == 0)
        #expect(try h.get("/api/v1/snapshots?tag=from-cli").object["total"] as? Int == 1)
        #expect(try h.get("/api/v1/status").object["snapshots"] as? Int == 3)

        // Routes and methods.
        #expect(try h.get("/api/v1/nothing").status == 404)
        #expect(try h.get("/elsewhere").status == 404)
        #expect(try h.request("DELETE", "/api/v1/status").status == 405)
        #expect(try h.post("/api/v1/jobs", "not json").status == 400)
        #expect(try h.post("/api/v1/jobs", #"{"type":"dance"}"#).status == 400)
    }

    @Test func theServedOpenAPIDocumentIsDocsOpenAPI() throws {
        let h = try ServerHarness("openapi", silos: false)
        try h.start()
        let served = try h.get("/api/v1/openapi.json")
        #expect(served.status == 200)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try FS.readAll(root.appendingPathComponent("Docs/openapi.json").path)
        #expect(served.body == file, "Docs/openapi.json and the compiled-in document differ; copy one to the other")
        let doc = served.object
        #expect((doc["openapi"] as? String)?.hasPrefix("3.") == true)
        let paths = (doc["paths"] as? [String: Any])?.keys.sorted() ?? []
        for p in ["/api/v1/status", "/api/v1/snapshots", "/api/v1/snapshots/{id}", "/api/v1/snapshots/{id}/ls", "/api/v1/snapshots/{id}/cat",
                  "/api/v1/snapshots/{id}/export.zip", "/api/v1/snapshots/{id}/export-estimate", "/api/v1/diff", "/api/v1/estimate",
                  "/api/v1/restore/dry-run", "/api/v1/uploads", "/api/v1/uploads/{id}", "/api/v1/jobs", "/api/v1/jobs/{id}",
                  "/api/v1/jobs/{id}/events", "/api/v1/forget", "/api/v1/policy"] {
            #expect(paths.contains(p), "openapi.json documents \(p)")
        }
    }
}
