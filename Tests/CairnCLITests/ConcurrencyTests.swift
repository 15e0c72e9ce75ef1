import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several cairn processes on one repository: snapshots beside a forget/prune loop, and
/// locks left by killed processes.
@Suite struct ConcurrencyTests {
    /// What the loops saw, shared between threads.
    final class Log: @unchecked Sendable {
        private let m = NSLock()
        private(set) var taken: [String: (silo: String, digest: [String: PathState])] = [:]
        private(set) var failures: [String] = []
        private(set) var removed = Set<String>()
        private(set) var prunes = 0
        private(set) var freed: UInt64 = 0
        private(set) var repacked: UInt64 = 0
        func took(_ id: String, _ silo: String, _ d: [String: PathState]) { m.lock(); taken[id] = (silo, d); m.unlock() }
        func fail(_ s: String) { m.lock(); failures.append(s); m.unlock() }
        func forgot(_ ids: [String]) { m.lock(); removed.formUnion(ids); m.unlock() }
        func pruned(_ f: UInt64, _ r: UInt64) { m.lock(); prunes += 1; freed += f; repacked += r; m.unlock() }
    }

    /// Runs one snapshot loop per silo (environment `envs[silo]`, e.g. its machine) and a
    /// forget+prune loop (environment `pruneEnv`, prune's `--grace`) until `deadline`, recording what they saw in `log`.
    static func runLoops(_ repo: String, silos: [String: EvolvingSilo], envs: [String: [String: String]] = [:], pruneEnv: [String: String] = [:],
                         extra: [String] = [], grace: String = "0", until deadline: Date, log: Log) {
        let done = DispatchSemaphore(value: 0)
        for (name, s) in silos {
            Thread {
                defer { done.signal() }
                while Date() < deadline {
                    do {
                        let d = try s.advance()
                        let r = try cairn(repo, ["snapshot", "--silo", name, "--json"] + extra, env: envs[name] ?? [:])
                        if let id = snapshotId(fromJSON: r) { log.took(id, name, d) } else { log.fail("snapshot \(name) exited \(r.status): \(r.stderr)") }
                    } catch { log.fail("snapshot loop \(name): \(error)") }
                }
            }.start()
        }
        Thread {
            defer { done.signal() }
            while Date() < deadline {
                do {
                    let f = try cairn(repo, ["forget", "--keep-last", "3", "--json"] + extra, env: pruneEnv)
                    if f.status != 0 { log.fail("forget exited \(f.status): \(f.stderr)\(f.stdout)") }
                    log.forgot(jsonFields(f)["removed"] as? [String] ?? [])
                    let p = try cairn(repo, ["prune", "--max-unused", "5", "--grace", grace, "--json"] + extra, env: pruneEnv)
                    if p.status != 0 { log.fail("prune exited \(p.status): \(p.stderr)\(p.stdout)") }
                    let rep = jsonFields(p)
                    log.pruned(rep["bytesFreed"] as? UInt64 ?? 0, rep["bytesRepacked"] as? UInt64 ?? 0)
                    usleep(300_000)
                } catch { log.fail("prune loop: \(error)") }
            }
        }.start()
        for _ in 0..<(silos.count + 1) { done.wait() }
    }

    @Test func twoSnapshotLoopsAndAPruneLoop() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        // Both silos share one file, so their snapshots share blocks.
        var rng = SeededBytes(seed: 42)
        let common = rng.bytes(600_000)
        let silos = ["a": EvolvingSilo(root: t.sub("a"), seed: 1, maxFile: 1 << 20), "b": EvolvingSilo(root: t.sub("b"), seed: 2, maxFile: 1 << 20)]
        for (name, s) in silos {
            try writeFile(s.root + "/common.bin", common)
            try s.writeStable(count: 5, size: 100_000)
            #expect(try cairn(repo, ["silo", "add", name, s.root]).status == 0)
        }
        let log = Log()
        let deadline = Date().addingTimeInterval(25)
        Self.runLoops(repo, silos: silos, until: deadline, log: log)

        #expect(log.failures.isEmpty, "\(log.failures.prefix(3))")
        let remaining = try listSnapshotIds(repo)
        // Every snapshot that exists reported success, and every success that was not forgotten exists.
        #expect(Set(remaining).isSubset(of: Set(log.taken.keys)))
        #expect(Set(log.taken.keys).subtracting(log.removed) == Set(remaining))
        let chk = try cairn(repo, ["check", "--read-data"])
        #expect(chk.status == 0, "\(chk.stdout)\(chk.stderr)")
        for id in remaining {
            let (silo, digest) = log.taken[id]!
            let diff = try restoreDiffers(repo, id, silo: silo, expected: digest, scratch: t)
            #expect(diff == nil, "\(diff ?? "")")
        }
        let perSilo = Dictionary(grouping: log.taken.values, by: { $0.silo }).mapValues(\.count)
        print("FIGURE concurrency 25 s: snapshots a=\(perSilo["a"] ?? 0) b=\(perSilo["b"] ?? 0), \(log.prunes) forget+prune runs freed \(log.freed) B and repacked \(log.repacked) B, \(log.removed.count) forgotten, \(remaining.count) remaining restored bit-exact")
        #expect(log.prunes >= 3)
        #expect(log.freed > 0)
        #expect((perSilo["a"] ?? 0) >= 3 && (perSilo["b"] ?? 0) >= 3)
    }

    /// Waits (bounded) until REPO/locks names `pid`.
    func waitForHolder(_ repo: String, pid: pid_t) -> Bool {
        for _ in 0..<400 {
            if let names = try? FS.list(repo + "/locks"), names.contains(where: { $0.hasPrefix("\(pid)-") && $0.hasSuffix(".lock") }) { return true }
            usleep(25_000)
        }
        return false
    }

    @Test func staleLockIsNamedAndUnlocked() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        let fifo = t.sub("fifo")
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(try cairn(repo, ["init"]).status == 0)
        // A command silo that blocks until the test writes to the FIFO: a snapshot that holds the lock.
        #expect(try cairn(repo, ["silo", "add", "slow", "--no-trial", "--command", "cat \(fifo)", "--filename", "out.txt"]).status == 0)
        let first = try Child.spawn(cairnBinary(), ["snapshot", "--repo", repo])
        #expect(waitForHolder(repo, pid: first.pid))
        // While it runs: prune fails at once with --wait 0, naming the holder; unlock refuses.
        let busy = try cairn(repo, ["prune", "--wait", "0"])
        #expect(busy.status == 12)
        #expect(busy.stderr.contains("pid \(first.pid)") && busy.stderr.contains("snapshot, shared"), "\(busy.stderr)")
        let refuse = try cairn(repo, ["unlock"])
        #expect(refuse.status == 12)
        #expect(refuse.stderr.contains("pid \(first.pid)") && refuse.stderr.contains("(snapshot, shared)"), "\(refuse.stderr)")
        #expect(try FS.list(repo + "/locks").count == 1)

        first.kill()
        first.wait()
        // A second snapshot holds the lock now; the first one's info file is stale and named as such.
        let second = try Child.spawn(cairnBinary(), ["snapshot", "--repo", repo])
        #expect(waitForHolder(repo, pid: second.pid))
        let named = try cairn(repo, ["prune", "--wait", "0"])
        #expect(named.status == 12)
        #expect(named.stderr.contains("pid \(second.pid)") && named.stderr.contains("stale locks, not in the way: pid \(first.pid) on ") && named.stderr.contains("(snapshot): its process is gone"), "\(named.stderr)")
        let partial = try cairn(repo, ["unlock"])
        #expect(partial.status == 12, "the live holder stays")
        #expect(partial.stdout.contains("removed stale lock of pid \(first.pid)"), "\(partial.stdout)")
        #expect(try FS.list(repo + "/locks").count == 1)

        // prune with a wait queues behind the running snapshot and runs once it ends.
        let prune = try Child.spawn(cairnBinary(), ["prune", "--wait", "60", "--repo", repo])
        usleep(300_000)
        let w = open(fifo, O_WRONLY | O_NONBLOCK)
        #expect(w >= 0)
        _ = Array("output\n".utf8).withUnsafeBytes { write(w, $0.baseAddress, $0.count) }
        close(w)
        #expect(second.wait() == 0)
        #expect(prune.wait() == 0)
        let clean = try cairn(repo, ["unlock"])
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("no locks held"))
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        #expect(try listSnapshotIds(repo).count == 1)
    }
}
