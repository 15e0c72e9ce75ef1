// Export downloads: exact Content-Length from the store estimate, silo selection,
// timestamped file name, Range on the deterministic store archive, deflate streaming,
// the same bytes as `cairn export`, and clients that disconnect mid-download.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ExportTests {
    @Test func exportIsExactRangedAndEqualToTheCLI() throws {
        let h = try ServerHarness("export")
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let id = try h.snapshotIds()[0]

        let est = try h.get("/api/v1/snapshots/\(id)/export-estimate?silo=app").object
        #expect(est["exact"] as? Bool == true && est["silos"] as? [String] == ["app"])
        let size = est["archiveBytes"] as? Int ?? -1

        let full = try h.get("/api/v1/snapshots/\(id)/export.zip?silo=app")
        #expect(full.status == 200)
        #expect(full.body.count == size && full.headers["content-length"] == String(size))
        #expect(full.headers["accept-ranges"] == "bytes")
        let disp = full.headers["content-disposition"] ?? ""
        #expect(disp.range(of: #"^attachment; filename="cairn-[0-9a-f]{12}-[0-9]{8}-[0-9]{6}Z\.zip"$"#, options: .regularExpression) != nil, "\(disp)")
        try writeFile(h.dir.sub("dl.zip"), full.body)
        let listing = try run("unzip", ["-Z1", h.dir.sub("dl.zip")]).stdout
        #expect(listing.contains("app/notes.txt") && !listing.contains("media/"), "only the chosen silo: \(listing)")
        #expect(try run("unzip", ["-tq", h.dir.sub("dl.zip")]).status == 0)

        // Byte for byte what `cairn export` writes.
        #expect(try cairn(h.repo, ["export", id, "--silo", "app", "--compression", "store", "--output", h.dir.sub("cli.zip")]).status == 0)
        #expect(try FS.readAll(h.dir.sub("cli.zip")) == full.body)

        // Range: a middle slice, an open end, a suffix, and an unsatisfiable one.
        let part = try h.request("GET", "/api/v1/snapshots/\(id)/export.zip?silo=app", headers: ["Range: bytes=1000-70999"])
        #expect(part.status == 206 && part.body == Array(full.body[1000...70999]))
        #expect(part.headers["content-range"] == "bytes 1000-70999/\(size)")
        let tail = try h.request("GET", "/api/v1/snapshots/\(id)/export.zip?silo=app", headers: ["Range: bytes=\(size - 100)-"])
        #expect(tail.status == 206 && tail.body == Array(full.body.suffix(100)))
        let suffix = try h.request("GET", "/api/v1/snapshots/\(id)/export.zip?silo=app", headers: ["Range: bytes=-10"])
        #expect(suffix.body == Array(full.body.suffix(10)))
        let beyond = try h.request("GET", "/api/v1/snapshots/\(id)/export.zip?silo=app", headers: ["Range: bytes=\(size)-"])
        #expect(beyond.status == 416 && beyond.headers["content-range"] == "bytes */\(size)")

        // Deflate: streamed without a length, still a valid archive with both silos.
        let def = try h.get("/api/v1/snapshots/\(id)/export.zip?compression=deflate")
        #expect(def.status == 200 && def.headers["content-length"] == nil && def.headers["accept-ranges"] == "none")
        try writeFile(h.dir.sub("def.zip"), def.body)
        #expect(try run("unzip", ["-tq", h.dir.sub("def.zip")]).status == 0)
        #expect(try run("unzip", ["-Z1", h.dir.sub("def.zip")]).stdout.contains("media/photo.raw"))

        // Errors.
        #expect(try h.get("/api/v1/snapshots/\(id)/export.zip?compression=rar").status == 400)
        #expect(try h.get("/api/v1/snapshots/\(id)/export.zip?level=12&compression=deflate").status == 400)
        #expect(try h.get("/api/v1/snapshots/\(id)/export.zip?silo=nope").status == 404)
        #expect(try h.get("/api/v1/snapshots/ffffff/export.zip").status == 404)
    }

    @Test func clientsThatDisconnectMidDownloadGiveTheirConnectionBack() throws {
        // Two pooled repository instances only: a leaked one would make later requests wait and fail (503).
        let h = try ServerHarness("export-drop", args: ["--connections", "2", "--wait", "3"])
        var rng = SeededBytes(seed: 5)
        try writeFile(h.dir.sub("app/big.bin"), rng.bytes(6 << 20))
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        for i in 0..<4 {
            let out = h.dir.sub("partial-\(i)")
            let c = try Child.spawn("curl", ["-s", "--limit-rate", "300k", "-o", out, h.base + "/api/v1/snapshots/latest/export.zip"])
            #expect(eventually(10) { ((try? FS.lstat(out).size) ?? 0) > 50_000 }, "download \(i) started")
            c.kill(SIGKILL)
            c.wait()
            let got = (try? FS.lstat(out).size) ?? 0
            #expect(got < 6 << 20, "the download was cut off")
        }
        for _ in 0..<3 {
            let r = try h.get("/api/v1/snapshots/latest/export.zip?silo=media")
            #expect(r.status == 200, "after disconnects: \(r.text.prefix(200))")
        }
        #expect(try h.get("/api/v1/status").status == 200)
        let cat = try h.get("/api/v1/snapshots/latest/cat?path=app/big.bin")
        #expect(cat.body.count == 6 << 20)
    }
}
