// Uploads and imports: raw and multipart bodies, the size limit (413), hostile archives
// refused before anything is written (422), an import whose data fails its check,
// a client that drops the connection mid-upload, and import followed by restore.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct UploadTests {
    /// A server with one snapshot, and that snapshot exported as a store ZIP.
    func fixture(_ label: String, args: [String] = []) throws -> (ServerHarness, [UInt8]) {
        let h = try ServerHarness(label, args: args)
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let zip = try h.get("/api/v1/snapshots/latest/export.zip?silo=app")
        #expect(zip.status == 200)
        return (h, zip.body)
    }

    @Test func rawAndMultipartUploadsAreInspectedThenImported() throws {
        let (h, zip) = try fixture("upload")
        let before = try h.snapshotIds()
        let up = try h.request("POST", "/api/v1/uploads", body: zip, headers: ["X-Filename: app-backup.zip"])
        #expect(up.status == 201, "\(up.text)")
        let summary = up.object["summary"] as? [String: Any] ?? [:]
        #expect(summary["cairnExport"] as? Bool == true)
        #expect((summary["folders"] as? [[String: Any]])?.map { $0["name"] as? String } == ["app"])
        #expect(up.object["filename"] as? String == "app-backup.zip")
        // Inspection wrote nothing to the repository.
        #expect(try h.snapshotIds() == before)
        let id = up.object["id"] as? String ?? ""
        #expect(try h.get("/api/v1/uploads/\(id)").status == 200)
        #expect(h.spoolFiles.count == 1)

        let job = try h.runJob(#"{"type":"import","upload":"\#(id)","tags":["uploaded"]}"#)
        #expect(job["state"] as? String == "succeeded", "\(job)")
        let imported = ((job["result"] as? [String: Any])?["import"] as? [String: Any])?["snapshot"] as? String ?? ""
        #expect(try h.get("/api/v1/snapshots/\(imported)").object["tags"] as? [String] == ["uploaded"])
        #expect(h.spoolFiles.isEmpty, "the spool file is removed after the import")
        #expect(try h.get("/api/v1/uploads/\(id)").status == 404)
        #expect(try h.post("/api/v1/jobs", #"{"type":"import","upload":"\#(id)"}"#).status == 404)
        #expect(try h.post("/api/v1/jobs", #"{"type":"import"}"#).status == 400)

        // Multipart (a form field before the file), straight into an import job.
        let media = try h.get("/api/v1/snapshots/\(before[0])/export.zip?silo=media").body
        try writeFile(h.dir.sub("form.zip"), media)
        let mp = try h.request("POST", "/api/v1/uploads?import=true&tag=multipart", extra: ["-F", "note=hello", "-F", "file=@\(h.dir.sub("form.zip"));type=application/zip"])
        #expect(mp.status == 202, "\(mp.text)")
        let j2 = try h.waitJob(mp.object["id"] as? String ?? "")
        #expect(j2["state"] as? String == "succeeded", "\(j2)")
        #expect(h.spoolFiles.isEmpty)

        // Discarding an upload removes its spool file.
        let u3 = try h.request("POST", "/api/v1/uploads", body: zip).object["id"] as? String ?? ""
        #expect(try h.request("DELETE", "/api/v1/uploads/\(u3)").status == 200)
        #expect(h.spoolFiles.isEmpty)
        #expect(try h.request("DELETE", "/api/v1/uploads/\(u3)").status == 404)
    }

    @Test func oversizedUploadsAreRefusedWith413() throws {
        let (h, zip) = try fixture("upload-413", args: ["--max-upload", "100000"])
        #expect(zip.count > 100_000)
        let r = try h.request("POST", "/api/v1/uploads", body: zip)
        #expect(r.status == 413 && r.code == "too-large", "\(r.text)")
        // Chunked (no Content-Length): refused while streaming.
        let c = try h.request("POST", "/api/v1/uploads", body: zip, headers: ["Transfer-Encoding: chunked"])
        #expect(c.status == 413, "\(c.text)")
        #expect(eventually(5) { h.spoolFiles.isEmpty })
        #expect(try h.get("/api/v1/status").status == 200)
    }

    @Test func hostileArchivesAreRefusedBeforeAnythingIsWritten() throws {
        let (h, zip) = try fixture("upload-hostile")
        typealias E = ZipRaw.Entry
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        let cases: [(String, [UInt8])] = [
            ("absolute path", ZipRaw([E("/etc/passwd", "x")]).build()),
            ("dot-dot", ZipRaw([E("s/../../evil", "x")]).build()),
            ("symlink escape", ZipRaw([.link("s/l", "../../etc")]).build()),
            ("duplicate", ZipRaw([E("s/a", "1"), E("s/a", "2")]).build()),
            ("special file", ZipRaw([E("s/dev", "", mode: 0o020644)]).build()),
            ("encrypted", { var e = E("s/a", "x"); e.flags |= 1; return ZipRaw([e]).build() }()),
            ("ratio bomb", { var e = E.deflated("s/bomb", zeros); e.usize = 4 << 30; return ZipRaw([e]).build() }()),
            ("overlap", ZipRaw([E("s/a", "aaaa"), { var e = E("s/b", "aaaa"); e.offset = 0; return e }()]).build()),
            ("truncated", Array(zip.prefix(zip.count / 2))),
            ("not a zip", Array("hello, this is text".utf8)),
        ]
        let before = try h.snapshotIds()
        var refusedAtUpload = 0
        for (what, bytes) in cases {
            // The upload's inspection reads the central directory; the import job checks every
            // entry. Either refuses: 422 at upload, or a failed job. Never a snapshot or a spool file.
            let r = try h.request("POST", "/api/v1/uploads", body: bytes)
            if r.status == 201 {
                let job = try h.runJob(#"{"type":"import","upload":"\#(r.object["id"] as? String ?? "")"}"#)
                #expect(job["state"] as? String == "failed", "\(what): \(job)")
                let message = (job["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(!message.isEmpty && !message.contains("/serve/uploads/"), "\(what): the message names the upload, not the server's spool path: \(message)")
            } else {
                #expect(r.status == 422, "\(what): \(r.status) \(r.text)")
                let message = r.object["message"] as? String ?? ""
                #expect(!message.isEmpty && !message.contains("/serve/uploads/"), "\(what): \(message)")
                refusedAtUpload += 1
            }
            #expect(h.spoolFiles.isEmpty, "\(what): no spool file left")
            #expect(try h.snapshotIds() == before, "\(what): no snapshot")
        }
        #expect(refusedAtUpload >= 5, "most are refused before any import starts")
        // Damage the inspection cannot see (a CRC): the import job fails, no snapshot is made.
        var bad = ZipRaw([E("s/", mode: 0o040755), E("s/a.txt", "hello")])
        bad.entries[1].crc = 0xDEAD_BEEF
        let up = try h.request("POST", "/api/v1/uploads", body: bad.build())
        #expect(up.status == 201, "\(up.text)")
        let job = try h.runJob(#"{"type":"import","upload":"\#(up.object["id"] as? String ?? "")"}"#)
        #expect(job["state"] as? String == "failed")
        let err = job["error"] as? [String: Any] ?? [:]
        #expect((err["message"] as? String ?? "").contains("CRC"), "\(err)")
        #expect(try h.snapshotIds() == before, "no partial snapshot")
        #expect(h.spoolFiles.isEmpty)
    }

    @Test func aClientThatDropsMidUploadLeavesNoSpoolFile() throws {
        let (h, _) = try fixture("upload-drop")
        var rng = SeededBytes(seed: 9)
        try writeFile(h.dir.sub("big.zip"), rng.bytes(4 << 20))
        let c = try Child.spawn("curl", ["-s", "--limit-rate", "200k", "-H", "Content-Type: application/zip", "--data-binary", "@\(h.dir.sub("big.zip"))",
                                         h.base + "/api/v1/uploads"])
        #expect(eventually(10) { h.spoolFiles.count == 1 }, "the upload is spooling")
        usleep(300_000)
        c.kill(SIGKILL)
        c.wait()
        #expect(eventually(10) { h.spoolFiles.isEmpty }, "spool removed after the dropped connection: \(h.spoolFiles)")
        #expect(try h.get("/api/v1/status").status == 200)
    }

    @Test func aServerKilledMidImportCleansUpAtTheNextStart() throws {
        let (h, _) = try fixture("upload-kill")
        let before = try h.snapshotIds()
        var rng = SeededBytes(seed: 3)
        try writeFile(h.dir.sub("big.zip"), rng.bytes(4 << 20))
        let c = try Child.spawn("curl", ["-s", "--limit-rate", "200k", "-H", "Content-Type: application/zip", "--data-binary", "@\(h.dir.sub("big.zip"))",
                                         h.base + "/api/v1/uploads?import=true"])
        #expect(eventually(10) { h.spoolFiles.count == 1 })
        h.stop(SIGKILL)
        c.wait()
        #expect(h.spoolFiles.count == 1, "the kill left the spool file behind")
        try h.start()
        #expect(h.spoolFiles.isEmpty, "the next start removes it")
        #expect(try h.snapshotIds() == before, "no partial snapshot")
        #expect(try cairn(h.repo, ["check"]).status == 0)
    }

    @Test func importThenRestoreInOneJob() throws {
        let (h, zip) = try fixture("upload-restore")
        try writeFile(h.dir.sub("app/notes.txt"), Array("changed after the export\n".utf8))
        let up = try h.request("POST", "/api/v1/uploads", body: zip).object["id"] as? String ?? ""
        let job = try h.runJob(#"{"type":"import","upload":"\#(up)","restore":true,"silos":["app"]}"#)
        #expect(job["state"] as? String == "succeeded", "\(job)")
        let restore = (job["result"] as? [String: Any])?["restore"] as? [String: Any] ?? [:]
        #expect(restore["safetySnapshot"] as? String != nil && restore["undo"] as? String != nil)
        #expect(String(decoding: try FS.readAll(h.dir.sub("app/notes.txt")), as: UTF8.self) == "first version\n")
    }
}
