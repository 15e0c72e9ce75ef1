// SeaweedFS killed (SIGKILL, data kept) in the middle of a snapshot, a prune and a copy on
// `s3:` repositories, at random moments, then restarted: each command either finished (after
// retries) or failed with one clear line; no partial snapshot is recorded; after the restart
// the next run succeeds and `check --read-data` passes. The server is this test's own
// (Scripts/seaweedfs.sh, by pid), so the shared one other tests use is never touched.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A SeaweedFS of this test's own, driven synchronously through Scripts/seaweedfs.sh.
final class KillableSeaweed {
    let state: String
    private(set) var endpoint = ""
    static let script = packageRoot() + "/Scripts/seaweedfs.sh"

    init(state: String) { self.state = state }

    /// (Re)starts on the same data and ports; waits until S3 answers.
    func start() throws {
        let r = try run("/bin/bash", [Self.script, "start", state])
        guard r.status == 0 else { throw CairnError(.io, "seaweedfs.sh start failed: \(r.stderr.suffix(400))") }
        endpoint = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// SIGKILL by pid, data kept (a crash).
    func kill() { _ = try? run("/bin/bash", [Self.script, "kill", state]) }

    /// TERM then KILL by pid; removes the state.
    func stop() { _ = try? run("/bin/bash", [Self.script, "stop", state]) }
}

@Suite(.serialized) struct S3KillTests {
    /// Waits for `c` at most `seconds`; kills it (and records a failure) when it takes longer.
    func finish(_ c: Child, _ what: String, within seconds: Double) -> Int32 {
        let deadline = monotonic() + seconds
        var st: Int32 = 0
        while monotonic() < deadline {
            let r = waitpid(c.pid, &st, WNOHANG)
            if r == c.pid { return (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f) }
            usleep(50_000)
        }
        Issue.record("\(what) still ran \(seconds) s after the server died")
        c.kill()
        return c.wait()
    }

    func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func ids(_ repo: String, _ env: [String: String]) throws -> Set<String> {
        let r = try cairn(repo, ["list", "--json"], env: env)
        #expect(r.status == 0, "list \(repo): \(r.stderr)")
        let arr = try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [[String: Any]] ?? []
        return Set(arr.compactMap { $0["id"] as? String })
    }

    @Test func killingTheServerMidCommand() throws {
        guard S3CLI.endpoint() != nil else { return }
        let t = TempDir(); defer { t.remove() }
        let weed = KillableSeaweed(state: t.sub("weed"))
        try weed.start()
        defer { weed.stop() }
        let env = S3CLI.environment(t)
        let snapRepo = S3CLI.repository(weed.endpoint, "kill-snap")
        let pruneRepo = S3CLI.repository(weed.endpoint, "kill-prune")
        let copyRepo = S3CLI.repository(weed.endpoint, "kill-copy")
        let local = t.sub("local")
        var rng = SeededBytes(seed: 151)
        try writeFile(t.sub("data/base.bin"), rng.bytes(1 << 20))
        for r in [snapRepo, pruneRepo, copyRepo, local] { #expect(try cairn(r, ["init"], env: env).status == 0, "init \(r)") }
        for r in [snapRepo, pruneRepo, local] { #expect(try cairn(r, ["silo", "add", "data", t.sub("data")], env: env).status == 0) }

        var outcomes: [String: [Int32]] = ["snapshot": [], "prune": [], "copy": []]
        for round in 0..<10 {
            // New data for each command: a snapshot to take, garbage to prune, a local snapshot to copy.
            try writeFile(t.sub("data/round\(round).bin"), rng.bytes(12 << 20))
            #expect(try cairn(pruneRepo, ["snapshot"], env: env).status == 0)
            #expect(try cairn(pruneRepo, ["forget", "latest"], env: env).status == 0)
            #expect(try cairn(local, ["snapshot"], env: env).status == 0)
            let before = [snapRepo: try ids(snapRepo, env), pruneRepo: try ids(pruneRepo, env), copyRepo: try ids(copyRepo, env)]

            // The three start at random offsets; the server dies at a random moment after the first.
            let runs: [(String, String, [String])] = [("snapshot", snapRepo, ["snapshot"]), ("prune", pruneRepo, ["prune", "--max-unused", "0"]),
                                                      ("copy", local, ["copy", "--to", copyRepo])]
            var children: [(String, Child, String)] = []
            let killAt = rng.int(700_000)
            var slept = 0
            for (name, repo, args) in runs {
                let offset = rng.int(100_000)
                usleep(UInt32(offset))
                slept += offset
                let err = t.sub("err-\(name)-\(round)")
                children.append((name, try Child.spawn(cairnBinary(), args + ["--repo", repo], env: env, stderr: err), err))
            }
            usleep(UInt32(max(0, killAt - slept)))
            weed.kill()
            for (name, child, err) in children {
                let code = finish(child, name, within: 120)
                outcomes[name]?.append(code)
                let lines = String(decoding: (try? FS.readAll(err)) ?? [], as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("cairn: note:") }
                if code != 0 {
                    // One clear line: the error, nothing else.
                    #expect(lines.count == 1 && lines[0].hasPrefix("cairn: error: "), "round \(round) \(name) exit \(code): \(lines)")
                    #expect(code != 1 && code < 128, "round \(round) \(name): exit \(code) is not a documented failure")
                }
            }
            try weed.start()

            // After the restart: at most one new snapshot per repository and whole ones only,
            // the next run succeeds, and every repository checks clean with its data.
            #expect(try ids(snapRepo, env).subtracting(before[snapRepo]!).count <= 1, "round \(round)")
            #expect(try ids(copyRepo, env).subtracting(before[copyRepo]!).count <= 1, "round \(round)")
            for (name, repo, args) in runs {
                let next = try cairn(repo, args, env: env)
                #expect(next.status == 0, "round \(round): \(name) after the restart: \(next.stderr)")
            }
            for repo in [snapRepo, pruneRepo, copyRepo] {
                let chk = try cairn(repo, ["check", "--read-data"], env: env)
                #expect(chk.status == 0, "round \(round) check \(repo): \(chk.stdout) \(chk.stderr)")
            }
        }
        let cat = try cairn(copyRepo, ["cat", "latest", "data/round9.bin"], env: env)
        #expect(cat.stdoutBytes == (try FS.readAll(t.sub("data/round9.bin"))))
        let failed = outcomes.mapValues { $0.filter { $0 != 0 }.count }
        print("FIGURE SeaweedFS killed mid-command, 10 rounds: failed cleanly / finished: " +
              outcomes.keys.sorted().map { "\($0) \(failed[$0] ?? 0)/\(10 - (failed[$0] ?? 0))" }.joined(separator: ", "))
        // Some kills land mid-command (a command that finished first is fine, but not all of them:
        // in a release build on an idle machine a prune of a few MiB can finish in ~0.1 s).
        #expect(failed.values.reduce(0, +) >= 5, "\(outcomes)")
    }
}
