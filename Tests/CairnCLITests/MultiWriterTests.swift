import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, acceptance 2: two "machines" (cairn processes with different host names and their own
/// cache and state folders) share one local-folder repository. Both take snapshots of overlapping
/// data in loops while a third machine forgets and prunes, for `CAIRN_MULTI_WRITER_SECONDS` (60 by
/// default, as in CI). Every snapshot that reported success and was not forgotten restores
/// bit-exact on a fourth machine with an empty cache, and machine B's snapshot of data machine A
/// already stored adds under 1% of its size. Prune deletes in two phases with a 2 s grace period, so
/// packs are marked by one prune and deleted by a later one while snapshots keep running.
@Suite struct MultiWriterTests {
    /// The environment of one machine: its host name, cache and state folders.
    static func machine(_ name: String, _ t: TempDir) -> [String: String] {
        ["CAIRN_HOSTNAME": "machine-\(name)", "CAIRN_CACHE_DIR": t.sub("cache-\(name)"), "CAIRN_STATE_DIR": t.sub("state-\(name)")]
    }

    static var seconds: Double {
        ProcessInfo.processInfo.environment["CAIRN_MULTI_WRITER_SECONDS"].flatMap { Double($0) }.map { max(1, min($0, 3600)) } ?? 60
    }

    @Test func twoMachinesSnapshotWhileAThirdForgetsAndPrunes() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        let env = ["a": Self.machine("a", t), "b": Self.machine("b", t), "c": Self.machine("c", t), "d": Self.machine("d", t)]
        #expect(try cairn(repo, ["init"], env: env["a"]!).status == 0)
        // The same seed on both machines: B's data overlaps A's step by step (and in full at first).
        let silos = ["a": EvolvingSilo(root: t.sub("a"), seed: 5, maxFile: 1 << 20), "b": EvolvingSilo(root: t.sub("b"), seed: 5, maxFile: 1 << 20)]
        var rng = SeededBytes(seed: 99)
        let common = rng.bytes(2 << 20)
        for (name, s) in silos {
            try writeFile(s.root + "/common.bin", common)
            try s.writeStable(count: 4, size: 512 << 10)
            let add = try cairn(repo, ["silo", "add", name, s.root], env: env[name]!)
            #expect(add.status == 0, "\(add.stderr)")
        }
        let log = ConcurrencyTests.Log()

        // B's first snapshot stores data A already stored: it adds under 1% of its size.
        let siloBytes = UInt64(common.count + 4 * (512 << 10))
        let first = try cairn(repo, ["snapshot", "--silo", "a", "--json"], env: env["a"]!)
        let firstId = try #require(snapshotId(fromJSON: first), "\(first.stderr)")
        log.took(firstId, "a", try digestTree(silos["a"]!.root))
        let before = try packBytesOnDisk(repo)
        let second = try cairn(repo, ["snapshot", "--silo", "b", "--json"], env: env["b"]!)
        let secondId = try #require(snapshotId(fromJSON: second), "\(second.stderr)")
        log.took(secondId, "b", try digestTree(silos["b"]!.root))
        let added = try packBytesOnDisk(repo) - before
        print("FIGURE multi-writer dedup: machine B's snapshot of \(siloBytes) B that machine A stored added \(added) B of packs (\(String(format: "%.3f", Double(added) * 100 / Double(siloBytes)))%)")
        #expect(added * 100 < siloBytes, "B added \(added) B for \(siloBytes) B A already stored")

        let deadline = Date().addingTimeInterval(Self.seconds)
        ConcurrencyTests.runLoops(repo, silos: silos, envs: env, pruneEnv: env["c"]!, extra: ["--wait", "120"], grace: "2", until: deadline, log: log)

        #expect(log.failures.isEmpty, "\(log.failures.prefix(3))")
        // A fourth machine with an empty cache checks and restores everything that is left.
        let listed = try cairn(repo, ["list", "--json"], env: env["d"]!)
        #expect(listed.status == 0, "\(listed.stderr)")
        let remaining = ((try? JSONSerialization.jsonObject(with: Data(listed.stdoutBytes))) as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(Set(remaining).isSubset(of: Set(log.taken.keys)))
        #expect(Set(log.taken.keys).subtracting(log.removed) == Set(remaining))
        let chk = try cairn(repo, ["check", "--read-data"], env: env["d"]!)
        #expect(chk.status == 0, "\(chk.stdout)\(chk.stderr)")
        var restored = 0
        for id in remaining {
            let (silo, digest) = log.taken[id]!
            let dir = t.sub("restore-\(id.prefix(12))")
            let r = try cairn(repo, ["restore", id, "--to", dir, "--silo", silo], env: env["d"]!)
            #expect(r.status == 0, "restore \(id.prefix(12)): \(r.stderr)")
            if r.status == 0 {
                let got = try digestTree(dir + "/" + silo)
                #expect(got == digest, "snapshot \(id.prefix(12)) of \(silo) differs: \(digestDifferences(digest, got))")
                if got == digest { restored += 1 }
            }
            try? FS.removeTree(dir)
        }
        let perSilo = Dictionary(grouping: log.taken.values, by: { $0.silo }).mapValues(\.count)
        print("FIGURE multi-writer \(Int(Self.seconds)) s: snapshots machine-a=\(perSilo["a"] ?? 0) machine-b=\(perSilo["b"] ?? 0), \(log.prunes) forget+prune runs on machine-c freed \(log.freed) B and repacked \(log.repacked) B, \(log.removed.count) forgotten, \(restored) of \(remaining.count) remaining restored bit-exact on machine-d (empty cache)")
        #expect(log.prunes >= 2)
        #expect(log.freed > 0, "two-phase deletion freed nothing")
        #expect((perSilo["a"] ?? 0) >= 3 && (perSilo["b"] ?? 0) >= 3)
    }
}
