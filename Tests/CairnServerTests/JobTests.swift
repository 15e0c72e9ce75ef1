// Jobs: progress by polling and by Server-Sent Events, cancel, jobs that outlive their
// client, and a server killed with a job running (marked interrupted at the next start).

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct JobTests {
    /// A harness whose first silo is a command that sleeps, so a snapshot job stays running.
    func slowHarness(_ label: String, seconds: Int) throws -> ServerHarness {
        let h = try ServerHarness(label, silos: false)
        #expect(try cairn(h.repo, ["silo", "add", "slow", "--command", "sleep \(seconds); echo done", "--filename", "out.txt"]).status == 0)
        var rng = SeededBytes(seed: 4)
        for i in 0..<20 { try writeFile(h.dir.sub("files/f\(i).bin"), rng.bytes(10_000)) }
        #expect(try cairn(h.repo, ["silo", "add", "files", h.dir.sub("files")]).status == 0)
        try h.start()
        return h
    }

    @Test func progressStreamsAsServerSentEventsAndJobsOutliveTheirClient() throws {
        let h = try slowHarness("jobs-sse", seconds: 1)
        let r = try h.post("/api/v1/jobs", #"{"type":"snapshot","tags":["sse"]}"#)
        #expect(r.status == 202 && r.object["state"] as? String == "queued")
        let id = r.object["id"] as? String ?? ""
        // A client that watches for a moment and goes away does not stop the job.
        _ = try? run("curl", ["-s", "-N", "--max-time", "0.5", h.base + "/api/v1/jobs/\(id)/events"])
        let sse = try run("curl", ["-s", "-N", "--max-time", "30", h.base + "/api/v1/jobs/\(id)/events"]).stdout
        #expect(sse.contains("event: end\ndata: {"), "\(sse)")
        let last = sse.components(separatedBy: "event: end\ndata: ").last?.split(separator: "\n").first.map(String.init) ?? ""
        let end = (try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String: Any] ?? [:]
        #expect(end["state"] as? String == "succeeded", "\(end)")
        let progress = end["progress"] as? [String: Any] ?? [:]
        for k in ["files", "bytes", "total", "percent", "rate", "eta", "currentPath"] { #expect(progress[k] != nil, "progress has \(k): \(progress)") }
        #expect(progress["files"] as? Int == 20, "the path silo's 20 files")
        let listed = try h.get("/api/v1/jobs").array as? [[String: Any]] ?? []
        #expect(listed.first?["id"] as? String == id)
        #expect(try h.get("/api/v1/jobs/nope").status == 404)
        #expect(try h.get("/api/v1/jobs/nope/events").status == 404)
    }

    @Test func aSnapshotJobCanBeCancelled() throws {
        let h = try slowHarness("jobs-cancel", seconds: 2)
        let before = try h.snapshotIds()
        let id = try h.post("/api/v1/jobs", #"{"type":"snapshot"}"#).object["id"] as? String ?? ""
        let c = try h.request("DELETE", "/api/v1/jobs/\(id)")
        #expect(c.status == 202, "\(c.text)")
        let j = try h.waitJob(id)
        #expect(j["state"] as? String == "cancelled", "\(j)")
        #expect((j["error"] as? [String: Any])?["code"] as? String == "cancelled")
        #expect(try h.snapshotIds() == before, "a cancelled snapshot records nothing")
        #expect(try h.request("DELETE", "/api/v1/jobs/\(id)").status == 409, "already finished")
        #expect(try h.request("DELETE", "/api/v1/jobs/nope").status == 404)
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded", "the repository is fine after the cancel")
        #expect(try cairn(h.repo, ["check"]).status == 0)
    }

    /// Every kind of job is cancelled through the API while it waits for the repository (another
    /// process holds the exclusive lock): each ends `cancelled`, nothing changes, the upload is gone.
    @Test func everyKindOfJobCanBeCancelled() throws {
        let h = try ServerHarness("jobs-cancel-all")
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let archive = try h.get("/api/v1/snapshots/latest/export.zip?silo=app").body
        let upload = try h.request("POST", "/api/v1/uploads", body: archive).object["id"] as? String ?? ""
        #expect(h.spoolFiles.count == 1)
        try writeFile(h.dir.sub("app/notes.txt"), Array("changed after the snapshot\n".utf8))
        let live = try digestTree(h.dir.sub("app"))
        let before = try h.snapshotIds()
        // Another process's prune: the server's jobs wait for the repository.
        let other = try Repository.open(at: h.repo)
        try other.lock(.exclusive, wait: 30, command: "test prune")
        let bodies = [#"{"type":"snapshot"}"#, #"{"type":"restore","snapshot":"latest","force":true}"#, #"{"type":"check","readData":true}"#,
                      #"{"type":"prune"}"#, #"{"type":"import","upload":"\#(upload)"}"#]
        var ids: [String] = []
        for b in bodies {
            let r = try h.post("/api/v1/jobs", b)
            #expect(r.status == 202, "\(b): \(r.text)")
            #expect(r.object["cancellable"] as? Bool == true)
            ids.append(r.object["id"] as? String ?? "")
        }
        for id in ids {
            let c = try h.request("DELETE", "/api/v1/jobs/\(id)")
            #expect(c.status == 202, "\(c.text)")
        }
        for (id, b) in zip(ids, bodies) {
            let j = try h.waitJob(id, timeout: 20)
            #expect(j["state"] as? String == "cancelled", "\(b): \(j)")
            #expect((j["error"] as? [String: Any])?["code"] as? String == "cancelled")
        }
        other.unlock()
        #expect(try h.snapshotIds() == before, "no snapshot from the cancelled snapshot or import, no safety snapshot")
        #expect(try digestTree(h.dir.sub("app")) == live, "the cancelled restore left the live files as they were")
        #expect(h.spoolFiles.isEmpty, "the cancelled import's upload is removed")
        #expect(try cairn(h.repo, ["check"]).status == 0)
    }

    @Test func aKilledServerMarksItsUnfinishedJobsInterrupted() throws {
        let h = try slowHarness("jobs-kill", seconds: 3)
        let before = try h.snapshotIds()
        let id = try h.post("/api/v1/jobs", #"{"type":"snapshot"}"#).object["id"] as? String ?? ""
        #expect(eventually(5) { (try? h.get("/api/v1/jobs/\(id)").object["state"] as? String) == "running" })
        h.stop(SIGKILL)
        try h.start()
        let j = try h.get("/api/v1/jobs/\(id)").object
        #expect(j["state"] as? String == "interrupted", "\(j)")
        #expect((j["error"] as? [String: Any])?["code"] as? String == "interrupted")
        #expect(try h.snapshotIds() == before)
        #expect((try h.get("/api/v1/status").object["jobs"] as? [Any])?.isEmpty == true, "nothing is running after the restart")
    }
}
