// Restore (dry run with the CLI's report, the real run as a job, 409 with the names of
// processes holding files open), forget, policy, prune and check.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct RestoreAndMaintenanceTests {
    @Test func dryRunThenRestoreWithSafetySnapshot() throws {
        let h = try ServerHarness("restore")
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let id = try h.snapshotIds()[0]
        try writeFile(h.dir.sub("app/notes.txt"), Array("edited\n".utf8))
        try writeFile(h.dir.sub("app/extra.txt"), Array("extra\n".utf8))

        let dry = try h.post("/api/v1/restore/dry-run", #"{"snapshot":"\#(id)","silos":["app"]}"#)
        #expect(dry.status == 200, "\(dry.text)")
        let changes = (dry.object["changes"] as? [[String: Any]] ?? []).map { "\($0["change"] as? String ?? "") \($0["path"] as? String ?? "")" }.sorted()
        #expect(changes == ["+ app/extra.txt", "M app/notes.txt"] || changes == ["- app/extra.txt", "M app/notes.txt"], "\(changes)")
        // The same report as `cairn restore --dry-run --json`.
        let cli = try cairn(h.repo, ["restore", id, "--silo", "app", "--dry-run", "--json"])
        let cliDoc = (try? JSONSerialization.jsonObject(with: Data(cli.stdoutBytes))) as? [String: Any] ?? [:]
        let cliTotals = (cliDoc["result"] as? [String: Any])?["totals"] as? NSDictionary
        let apiTotals = (dry.object["result"] as? [String: Any])?["totals"] as? NSDictionary
        #expect(cliTotals != nil && cliTotals == apiTotals, "\(String(describing: cliTotals)) vs \(String(describing: apiTotals))")
        #expect(String(decoding: try FS.readAll(h.dir.sub("app/notes.txt")), as: UTF8.self) == "edited\n", "a dry run changes nothing")
        #expect(try h.post("/api/v1/restore/dry-run", #"{"silos":["app"]}"#).status == 400)
        #expect(try h.post("/api/v1/restore/dry-run", #"{"snapshot":"ffffff"}"#).status == 404)

        let job = try h.runJob(#"{"type":"restore","snapshot":"\#(id)","silos":["app"]}"#)
        #expect(job["state"] as? String == "succeeded", "\(job)")
        let res = job["result"] as? [String: Any] ?? [:]
        let safety = res["safetySnapshot"] as? String ?? ""
        #expect(!safety.isEmpty && (res["undo"] as? String ?? "").contains(String(safety.prefix(12))))
        #expect(String(decoding: try FS.readAll(h.dir.sub("app/notes.txt")), as: UTF8.self) == "first version\n")
        #expect(!FS.exists(h.dir.sub("app/extra.txt")))
        #expect(try h.get("/api/v1/snapshots/\(safety)").object["tags"] as? [String] == ["pre-restore"])
        #expect(try h.post("/api/v1/jobs", #"{"type":"restore"}"#).status == 400)
    }

    @Test func restoreWhileFilesAreOpenIs409WithTheProcessNames() throws {
        let h = try ServerHarness("restore-open")
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let holder = try Child.spawn("/bin/sh", ["-c", "exec 3<'\(h.dir.sub("app/notes.txt"))'; exec sleep 30"])
        defer { holder.kill(); holder.wait() }
        usleep(300_000)
        let r = try h.post("/api/v1/jobs", #"{"type":"restore","snapshot":"latest","silos":["app"]}"#)
        #expect(r.status == 409 && r.code == "files-open", "\(r.text)")
        let procs = (r.object["detail"] as? [String: Any])?["processes"] as? [String] ?? []
        #expect(procs.contains("sleep"), "\(r.text)")
        #expect((r.object["message"] as? String ?? "").contains("sleep"))
        #expect(!(r.object["hint"] as? String ?? "").isEmpty)
    }

    @Test func forgetPolicyPruneAndCheck() throws {
        let h = try ServerHarness("maintenance")
        try h.start()
        for i in 0..<3 {
            try writeFile(h.dir.sub("app/n.txt"), Array("version \(i)\n".utf8))
            #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        }
        let ids = try h.snapshotIds()
        #expect(ids.count == 3)
        #expect(try h.get("/api/v1/policy").object["policy"] is NSNull)
        #expect(try h.request("PUT", "/api/v1/policy", json: #"{"keepLast":0}"#).status == 400)
        #expect(try h.request("PUT", "/api/v1/policy", json: #"{"keepLast":"x"}"#).status == 400)
        let put = try h.request("PUT", "/api/v1/policy", json: #"{"keepLast":2}"#)
        #expect(put.status == 200, "\(put.text)")
        #expect((try h.get("/api/v1/policy").object["policy"] as? [String: Any])?["keepLast"] as? Int == 2)

        let dry = try h.post("/api/v1/forget", #"{"dryRun":true}"#).object
        #expect((dry["decisions"] as? [[String: Any]] ?? []).filter { $0["keep"] as? Bool == false }.count == 1)
        #expect(try h.snapshotIds().count == 3)
        let gone = try h.post("/api/v1/forget", #"{"ids":["\#(ids[2])"]}"#).object
        #expect(gone["removed"] as? [String] == [ids[2]], "\(gone)")
        #expect(try h.post("/api/v1/forget", #"{"ids":["ffffff"]}"#).status == 404)
        #expect(try h.post("/api/v1/forget", #"{"ids":["\#(ids[1])"],"policy":{"keepLast":1}}"#).status == 400)
        #expect(try h.request("DELETE", "/api/v1/policy").status == 200)
        #expect(try h.post("/api/v1/forget", "{}").status == 400, "no ids, no policy")

        let prune = try h.runJob(#"{"type":"prune","maxUnusedPercent":0}"#)
        #expect(prune["state"] as? String == "succeeded", "\(prune)")
        #expect((prune["result"] as? [String: Any])?["snapshots"] as? Int == 2)
        #expect(try h.runJob(#"{"type":"prune","maxUnusedPercent":200}"#)["state"] as? String == "failed")
        let check = try h.runJob(#"{"type":"check","readData":true}"#)
        #expect((check["result"] as? [String: Any])?["ok"] as? Bool == true, "\(check)")
        // Reads still work after prune took and gave back the exclusive lock.
        #expect(try h.get("/api/v1/snapshots/latest/cat?path=app/n.txt").text == "version 2\n")
    }
}

@Suite struct LockTests {
    @Test func aRepositoryLockedLongerThanTheWaitIs503AndAnIdleServerLetsPruneRun() async throws {
        let h = try ServerHarness("locked", args: ["--wait", "1"])
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        // Idle instances give their shared lock back: another process can prune meanwhile.
        usleep(3_500_000)
        let prune = try cairn(h.repo, ["prune", "--wait", "5"])
        #expect(prune.status == 0, "\(prune.stderr)")
        // Another process holds the exclusive lock: requests wait --wait seconds, then 503.
        let repo = h.repo
        let holder = try await onEngineThread {
            try RepositoryLock.acquire(folder: repo, mode: .exclusive, wait: 5, command: "test holder")
        }
        let r = try h.get("/api/v1/status")
        #expect(r.status == 503 && r.code == "locked", "\(r.text)")
        holder.release()
        #expect(try h.get("/api/v1/status").status == 200)
    }

    /// Server jobs go through CairnSession, as the CLI does: repository hooks run around a
    /// snapshot and an in-place restore, a failing "before" hook fails the job with
    /// `hook-failed` and writes nothing, and the stored policy is applied after a snapshot.
    @Test func jobsRunTheRepositoryHooksAndTheStoredPolicy() throws {
        let h = try ServerHarness("serve-hooks")
        let log = h.dir.sub("hooks.log")
        for ev in ["before-snapshot", "after-snapshot", "before-restore", "after-restore"] {
            #expect(try cairn(h.repo, ["hook", "set", ev, "echo \(ev) $CAIRN_EVENT >> \(log)"]).status == 0)
        }
        #expect(try cairn(h.repo, ["policy", "set", "--keep-last", "1"]).status == 0)
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let second = try h.runJob(#"{"type":"snapshot"}"#)
        #expect(second["state"] as? String == "succeeded")
        #expect(((second["result"] as? [String: Any])?["policyRemoved"] as? [Any])?.count == 1, "keep-last 1 removed the first: \(second)")
        #expect(try h.runJob(#"{"type":"restore","snapshot":"latest","force":true}"#)["state"] as? String == "succeeded")
        let lines = String(decoding: try FS.readAll(log), as: UTF8.self).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        #expect(lines.filter { $0 == "before-snapshot" }.count >= 2 && lines.contains("after-snapshot"), "\(lines)")
        #expect(lines.contains("before-restore") && lines.contains("after-restore"), "\(lines)")
        // A failing before-snapshot hook: the job fails with hook-failed and nothing is recorded.
        #expect(try cairn(h.repo, ["hook", "set", "before-snapshot", "exit 3"]).status == 0)
        let before = try h.snapshotIds()
        let failed = try h.runJob(#"{"type":"snapshot"}"#)
        #expect(failed["state"] as? String == "failed")
        #expect((failed["error"] as? [String: Any])?["code"] as? String == "hook-failed", "\(failed)")
        #expect(try h.snapshotIds() == before)
    }
}
