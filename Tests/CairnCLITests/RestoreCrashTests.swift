import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Acceptance 2 of the restore issue: kill -9 at random moments of a multi-silo in-place
/// restore, 30 times, each followed by a `cairn` command. Every silo is then wholly the old
/// or wholly the new state, all silos agree, and no staging leftovers remain.
@Suite struct RestoreCrashTests {
    @Test func killNineDuringRestore() throws {
        let t = TempDir(); defer { t.remove() }
        let live = t.sub("live")
        let silos = ["alpha", "beta", "gamma"]
        var rng = SeededBytes(seed: 99)
        func fill(_ variant: Int) throws {
            for s in silos {
                try FS.removeTree(live + "/" + s)
                for i in 0..<150 {
                    try writeFile("\(live)/\(s)/d\(i % 6)/f\(i)-\(variant).bin", rng.bytes(40_000 + (i * 997) % 60_000))
                }
                try writeFile("\(live)/\(s)/state.txt", Array("variant \(variant)".utf8))
            }
        }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        try fill(0)
        for s in silos { #expect(try cairn(repo, ["silo", "add", s, live + "/" + s]).status == 0) }
        func snap() throws -> String {
            let r = try cairn(repo, ["snapshot", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            return snapshotId(fromJSON: r) ?? ""
        }
        let first = try snap()
        try fill(1)
        let ids = [first, try snap()]
        var digests: [[String: [String: PathState]]] = [[:], [:]]
        digests[1] = try Dictionary(uniqueKeysWithValues: silos.map { ($0, try strictDigest(live + "/" + $0)) })
        #expect(try cairn(repo, ["restore", ids[0], "--no-safety-snapshot"]).status == 0)
        digests[0] = try Dictionary(uniqueKeysWithValues: silos.map { ($0, try strictDigest(live + "/" + $0)) })

        // Time one uninterrupted restore of each kind to spread the kills over its whole duration.
        var start = Date()
        #expect(try cairn(repo, ["restore", ids[1]]).status == 0)
        let withSafety = max(0.05, Date().timeIntervalSince(start))
        start = Date()
        #expect(try cairn(repo, ["restore", ids[0], "--no-safety-snapshot"]).status == 0)
        #expect(try cairn(repo, ["restore", ids[1], "--no-safety-snapshot"]).status == 0)
        let without = max(0.05, Date().timeIntervalSince(start) / 2)
        let full = withSafety
        var state = 1
        var outcomes = [0, 0, 0]   // [rolled back / untouched, completed, finished before the kill]
        var kills = 0
        var prng = SeededBytes(seed: 4242)
        for round in 0..<30 {
            let goal = 1 - state
            let safety = round % 3 == 0 ? [] : ["--no-safety-snapshot"]
            let child = try Child.spawn(cairnBinary(), ["restore", ids[goal], "--repo", repo] + safety)
            start = Date()
            let delay = (safety.isEmpty ? withSafety : without) * 0.85 * Double(prng.int(1000)) / 1000
            usleep(UInt32(delay * 1_000_000))
            child.kill(SIGKILL)
            let status = child.wait()
            if status == 128 + SIGKILL { kills += 1 }
            // Any cairn command completes or rolls back the interrupted restore.
            let after = try cairn(repo, ["list"])
            #expect(after.status == 0, "\(after.stderr)")
            let now = try Dictionary(uniqueKeysWithValues: silos.map { ($0, try strictDigest(live + "/" + $0)) })
            let matches = (0...1).filter { v in silos.allSatisfy { now[$0] == digests[v][$0] } }
            #expect(matches.count == 1, "round \(round): silos are not all wholly old or wholly new")
            guard let v = matches.first else { break }
            if status != 128 + SIGKILL { outcomes[2] += 1 } else if v == goal { outcomes[1] += 1 } else { outcomes[0] += 1 }
            state = v
            let left = try restoreLeftovers(in: live)
            #expect(left.isEmpty, "round \(round): leftovers \(left)")
            #expect(!FS.exists(repo + "/restore-journal.json"))
        }
        #expect(try cairn(repo, ["check"]).status == 0)
        print("FIGURE restore kill -9: \(kills) killed (\(outcomes[0]) rolled back, \(outcomes[1]) completed), \(outcomes[2]) finished first; full restore \(String(format: "%.2f", full)) s with safety snapshot, \(String(format: "%.2f", without)) s without")
        #expect(kills >= 20, "most rounds must really be interrupted")
        #expect(outcomes[0] > 0, "some kills must land before the swap")
    }
}
