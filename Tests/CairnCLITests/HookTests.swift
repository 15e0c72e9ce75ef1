// Hooks end to end through the built binary: repository and silo hooks run in order with
// the documented environment; a failing or timed-out "before" hook stops the snapshot or
// restore with exit 24 and nothing written; a failing "after" hook is a warning; a timed-out
// hook is killed with its whole process group.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct HookTests {
    func setUp(_ t: TempDir, siloHooks: [String] = []) throws -> String {
        try writeFile(t.sub("app/notes.txt"), Array("v1".utf8))
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        let add = try cairn(repo, ["silo", "add", "app", t.sub("app")] + siloHooks)
        #expect(add.status == 0, "\(add.stderr)")
        return repo
    }

    func text(_ path: String) -> String { String(decoding: (try? FS.readAll(path)) ?? [], as: UTF8.self) }

    @Test func hooksRunInOrderWithTheirEnvironment() throws {
        let t = TempDir(); defer { t.remove() }
        let log = t.sub("log")
        let env = #"echo "$CAIRN_HOOK|$CAIRN_OPERATION|$CAIRN_SILO|$CAIRN_SILO_PATH|$CAIRN_REPO|$CAIRN_SNAPSHOT_ID" >> "#
        let repo = try setUp(t, siloHooks: ["--before-snapshot", "echo silo-before >> \(log)", "--after-snapshot", env + log,
                                            "--before-restore", env + log, "--after-restore", "echo silo-after-restore >> \(log)"])
        #expect(try cairn(repo, ["hook", "set", "before-snapshot", "echo repo-before >> \(log)"]).status == 0)
        #expect(try cairn(repo, ["hook", "set", "after-snapshot", "echo repo-after >> \(log); echo noise-on-stdout"]).status == 0)
        let snap = try cairn(repo, ["snapshot", "--json"])
        #expect(snap.status == 0, "\(snap.stderr)")
        // Hook output goes to stderr: stdout stays JSON lines.
        #expect(!snap.stdout.contains("noise-on-stdout") && snap.stderr.contains("noise-on-stdout"))
        let id = try #require(parseJSON(try cairn(repo, ["show", "latest", "--json"]).stdout)?["id"]?.string)
        let lines = text(log).split(separator: "\n").map(String.init)
        #expect(lines == ["repo-before", "silo-before", "after-snapshot|snapshot|app|\(t.sub("app"))|\(repo)|\(id)", "repo-after"], "\(lines)")

        try FS.atomicWrite(log, [])
        try writeFile(t.sub("app/notes.txt"), Array("v2".utf8))
        let dry = try cairn(repo, ["restore", id, "--dry-run"])
        #expect(dry.status == 0 && text(log).isEmpty, "a dry run ran hooks: \(text(log))")
        let restore = try cairn(repo, ["restore", id])
        #expect(restore.status == 0, "\(restore.stderr)")
        let rl = text(log).split(separator: "\n").map(String.init)
        #expect(rl == ["before-restore|restore|app|\(t.sub("app"))|\(repo)|\(id)", "silo-after-restore"], "\(rl)")
        #expect(try cairn(repo, ["hook", "list"]).stdout.contains("repository\tbefore-snapshot\techo repo-before"))
    }

    @Test func failingBeforeHookStopsCleanly() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t, siloHooks: ["--before-snapshot", "exit 3"])
        let r = try cairn(repo, ["snapshot"])
        #expect(r.status == 24, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("cairn: error: hook before-snapshot of silo 'app' (`exit 3`) exited with status 3"), "\(r.stderr)")
        #expect(try cairn(repo, ["list"]).stdout.isEmpty, "a snapshot was recorded")
        // Format 3 creates `packs/` with the first pack: a hook that stopped the snapshot leaves none.
        #expect(((try? FS.list(repo + "/packs")) ?? []).allSatisfy { !$0.hasSuffix(".pack") })
        let j = try cairn(repo, ["snapshot", "--json"])
        #expect(parseJSON(j.stdout.split(separator: "\n").last.map(String.init) ?? "")?["code"]?.string == "hook-failed", "\(j.stdout)")

        // Restore: a failing before-restore hook changes nothing, takes no safety snapshot.
        #expect(try cairn(repo, ["hook", "clear", "before-snapshot", "--silo", "app"]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        #expect(try cairn(repo, ["hook", "set", "before-restore", "echo quiescing; exit 7"]).status == 0)
        try writeFile(t.sub("app/notes.txt"), Array("v2".utf8))
        let before = try cairn(repo, ["list"]).stdout
        let rr = try cairn(repo, ["restore", "latest"])
        #expect(rr.status == 24 && rr.stderr.contains("hook before-restore of the repository (`echo quiescing; exit 7`) exited with status 7"), "\(rr.stderr)")
        #expect(try cairn(repo, ["list"]).stdout == before)
        #expect(try FS.readAll(t.sub("app/notes.txt")) == Array("v2".utf8))
    }

    @Test func failingAfterHookWarns() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t, siloHooks: ["--after-snapshot", "exit 5"])
        let r = try cairn(repo, ["snapshot"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("cairn: warning: hook after-snapshot of silo 'app' (`exit 5`) exited with status 5; the snapshot itself succeeded"), "\(r.stderr)")
        #expect(try cairn(repo, ["list"]).stdout.split(separator: "\n").count == 1)
    }

    @Test func timedOutHookIsKilledWithItsGroup() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        let pidFile = t.sub("bg.pid")
        #expect(try cairn(repo, ["hook", "set", "before-snapshot", "sleep 60 & echo $! > \(pidFile); wait", "--timeout", "1"]).status == 0)
        let start = Date()
        let r = try cairn(repo, ["snapshot"])
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(r.status == 24 && r.stderr.contains("timed out after 1 seconds"), "\(r.stderr)")
        let pid = try #require(Int32(text(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)))
        var gone = false
        for _ in 0..<200 where !gone {
            // The background sleep was in the hook's group: it must be gone (or a zombie reaped by init).
            let st = text("/proc/\(pid)/stat")
            gone = st.isEmpty || st.contains(") Z ")
            if !gone { usleep(20_000) }
        }
        #expect(gone, "the hook's background child \(pid) survived the timeout")
        #expect(try cairn(repo, ["list"]).stdout.isEmpty)
        let bad = try cairn(repo, ["hook", "set", "before-snapshot", "true", "--timeout", "0"])
        #expect(bad.status == 18)
    }
}
