import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every repository file type x {flipped byte, truncated, zeroed, deleted, garbage, extreme
/// values}: every command of a fixed list exits with a documented code and at most one error
/// line (never a signal), `check --read-data` names what is damaged, and `check
/// --rebuild-index` never loses a block that was readable before it.
@Suite struct DamageMatrixTests {
    enum Damage: String, CaseIterable { case flip, truncate, zero, delete, garbage, extreme }

    /// A repository file (or a region of one) and the byte offset damage is aimed at.
    struct Target {
        var name: String
        var path: (String) throws -> String
        var offset: (UInt64) -> UInt64
    }

    static let documented: Set<Int32> = [0, 3, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21]

    func apply(_ d: Damage, to path: String, at off: UInt64, seed: UInt64) throws {
        guard FS.exists(path) else { return }
        chmod(path, 0o644)
        var bytes = try FS.readAll(path)
        var rng = SeededBytes(seed: seed)
        let at = bytes.isEmpty ? 0 : Int(min(off, UInt64(bytes.count - 1)))
        switch d {
        case .flip: if !bytes.isEmpty { bytes[at] ^= 0xff }
        case .truncate: bytes = Array(bytes.prefix(at))
        case .zero: bytes = [UInt8](repeating: 0, count: bytes.count)
        case .delete: try FS.removeTree(path); return
        case .garbage: bytes = rng.bytes(max(bytes.count, 64))
        case .extreme:
            if bytes.first == UInt8(ascii: "{") || bytes.first == UInt8(ascii: "[") {
                // Numbers at the edge of every integer type, and a huge string.
                var text = String(decoding: bytes, as: UTF8.self)
                for (k, v) in [("\"version\" : 1", "\"version\" : 18446744073709551616"), ("\"version\":1", "\"version\":-9223372036854775809"),
                               ("\"pid\":", "\"pid\":99999999999999,\"x\":"), ("\"packTargetSize\" : ", "\"packTargetSize\" : 9223372036854775807, \"y\" : "),
                               ("\"timeNs\":", "\"timeNs\":1e308,\"z\":"), ("\"keepLast\" : ", "\"keepLast\" : 9223372036854775807, \"w\" : ")] {
                    text = text.replacingOccurrences(of: k, with: v)
                }
                bytes = Array(text.utf8)
                if bytes == (try FS.readAll(path)) { bytes = Array("[{\"name\":\"\(String(repeating: "x", count: 100_000))\",\"kind\":\"path\",\"path\":\"/\",\"excludes\":[]}]".utf8) }
            } else {
                for i in at..<min(bytes.count, at + 16) { bytes[i] = 0xff }
            }
        }
        try FS.removeTree(path)
        try writeFile(path, bytes)
    }

    @Test func everyFileTimesEveryDamage() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("base"), live = t.sub("live")
        var rng = SeededBytes(seed: 3)
        try writeFile(live + "/keep.txt", rng.bytes(40_000))
        try writeFile(live + "/small.txt", Array("small\n".utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", live]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        #expect(try cairn(repo, ["policy", "set", "--keep-last", "5"]).status == 0)
        try writeFile(repo + "/locks/4000000-1.json", Array("{\"pid\":4000000,\"host\":\"h\",\"mode\":\"shared\",\"command\":\"snapshot\",\"time\":1}\n".utf8))
        let token = "0123456789ab"
        let journal = "{\"version\":1,\"token\":\"\(token)\",\"snapshot\":\"x\",\"pid\":1,\"host\":\"h\",\"state\":\"staging\",\"silos\":[{\"name\":\"app\",\"target\":\"\(live)\",\"staging\":\"\(t.path)/.live.cairn-restore-\(token)\",\"aside\":\"\(t.path)/.live.cairn-aside-\(token)\",\"method\":\"exchange\",\"newInode\":0,\"oldInode\":0,\"siblings\":[]}],\"includeDirs\":[]}\n"
        let pack = try #require(try packFiles(repo).first).dropFirst(repo.count)
        let record = try #require(try FS.list(repo + "/snapshots").first { $0.hasSuffix(".json") })
        // Format 3: the cache and the host state are outside the repository; each case copies them too.
        let id = repositoryId(repo)
        let cacheOf = { (c: String) in "\(c)-cache/\(id)" }, stateOf = { (c: String) in "\(c)-state/\(id)" }
        let indexObject = try #require(try FS.list(repo + "/index").first.flatMap { d in try FS.list(repo + "/index/" + d).first.map { "/index/\(d)/\($0)" } })
        let targets: [Target] = [
            Target(name: "config.json", path: { $0 + "/config.json" }, offset: { $0 / 2 }),
            Target(name: "index.sqlite", path: { cacheOf($0) + "/index.sqlite" }, offset: { $0 / 2 }),
            Target(name: "index object", path: { $0 + indexObject }, offset: { $0 / 2 }),
            Target(name: "silos.json", path: { stateOf($0) + "/silos.json" }, offset: { $0 / 2 }),
            Target(name: "policy.json", path: { $0 + "/policy.json" }, offset: { $0 / 2 }),
            Target(name: "snapshot record", path: { $0 + "/snapshots/" + record }, offset: { $0 / 2 }),
            Target(name: "pack header", path: { $0 + pack }, offset: { _ in 3 }),
            Target(name: "pack block bytes", path: { $0 + pack }, offset: { _ in 100 }),
            Target(name: "pack trailer", path: { $0 + pack }, offset: { $0 - 16 - 30 }),
            Target(name: "pack footer", path: { $0 + pack }, offset: { $0 - 12 }),
            Target(name: "lock info", path: { $0 + "/locks/4000000-1.json" }, offset: { $0 / 2 }),
            Target(name: "restore-journal.json", path: { stateOf($0) + "/restore-journal.json" }, offset: { $0 / 3 }),
        ]
        let commands: [[String]] = [["list"], ["show", "latest"], ["ls", "latest", "-r"], ["cat", "latest", "app/keep.txt"], ["diff", "latest", "latest"],
                                    ["check"], ["check", "--read-data"], ["restore", "latest", "--to", "OUT"], ["export", "latest", "--output", "OUT.zip"],
                                    ["prune", "--dry-run"], ["snapshot"]]
        var cases = 0, runs = 0
        for (ti, target) in targets.enumerated() {
            for d in Damage.allCases {
                let copy = t.sub("case")
                for c in [copy, copy + "-cache", copy + "-state"] { try? FS.removeTree(c) }
                #expect(try sh("cp -a \(repo) \(copy) && mkdir -p \(copy)-cache \(copy)-state && cp -a \(FS.parent(cacheIndexPath(repo))) \(cacheOf(copy)) && cp -a \(stateFolder(repo)) \(stateOf(copy))").status == 0)
                let env = ["CAIRN_CACHE_DIR": copy + "-cache", "CAIRN_STATE_DIR": copy + "-state"]
                if target.name == "restore-journal.json" { try writeFile(stateOf(copy) + "/restore-journal.json", Array(journal.utf8)) }
                let file = try target.path(copy)
                let size = (try? FS.lstat(file).size) ?? 0
                try apply(d, to: file, at: target.offset(size), seed: UInt64(ti * 10 + 1))
                cases += 1
                let what = "\(target.name) \(d.rawValue)"
                let readableBefore = try cairn(copy, ["cat", "latest", "app/keep.txt"], env: env).status == 0
                for args in commands {
                    let out = t.sub("out-\(runs)")
                    let r = try cairn(copy, args.map { $0 == "OUT" ? out : $0 == "OUT.zip" ? out + ".zip" : $0 }, env: env)
                    runs += 1
                    #expect(Self.documented.contains(r.status), "\(what) \(args): status \(r.status) \(r.stderr)")
                    let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("cairn: error:") }
                    #expect(errors.count <= 1 || args == ["snapshot"], "\(what) \(args): \(r.stderr)")
                    if args == ["check", "--read-data"], r.status == 15 {
                        #expect(r.stdout.contains("damaged") || r.stdout.contains("error:") || r.stderr.contains("cairn: error:"), "\(what): check names nothing: \(r.stdout)")
                    }
                }
                if target.name.hasPrefix("pack") || target.name.hasPrefix("index") {
                    let rb = try cairn(copy, ["check", "--rebuild-index"], env: env)
                    #expect(Self.documented.contains(rb.status), "\(what) rebuild: \(rb.status) \(rb.stderr)")
                    if readableBefore {
                        let after = try cairn(copy, ["cat", "latest", "app/keep.txt"], env: env)
                        #expect(after.status == 0, "\(what): a block readable before --rebuild-index is lost after it: \(after.stderr)")
                    }
                }
            }
        }
        #expect(cases == targets.count * Damage.allCases.count)
        print("damage matrix: \(cases) cases, \(runs) command runs")
    }
}
