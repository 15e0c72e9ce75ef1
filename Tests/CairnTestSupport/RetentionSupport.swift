// Helpers for the retention, prune and concurrency tests: evolving a silo with known
// content, reading ids from JSON output, and restoring snapshots for comparison.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The id of the snapshot a `cairn snapshot --json` run printed, or nil.
public func snapshotId(fromJSON r: RunResult) -> String? {
    guard r.status == 0 else { return nil }
    return jsonFields(r)["id"] as? String
}

/// All snapshot ids of a repository (via `cairn list --json`).
public func listSnapshotIds(_ repo: String, env: [String: String] = [:]) throws -> [String] {
    let r = try cairn(repo, ["list", "--json"], env: env)
    guard r.status == 0 else { throw CairnError(.internalError, "cairn list failed: \(r.stderr)") }
    let arr = try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [[String: Any]] ?? []
    return arr.compactMap { $0["id"] as? String }
}

/// Parses a command's JSON stdout as an object: the whole output (short commands), or the
/// last line (long commands print `status` lines, then the `summary` line; Docs/JSON.md).
public func jsonFields(_ r: RunResult) -> [String: Any] {
    if let whole = try? JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [String: Any] { return whole }
    let last = r.stdoutBytes.split(separator: UInt8(ascii: "\n")).last.map { Data($0) } ?? Data()
    return (try? JSONSerialization.jsonObject(with: last) as? [String: Any]) ?? [:]
}

/// Total bytes of the pack files under REPO/packs (excluding packs/tmp).
public func packBytesOnDisk(_ repo: String) throws -> UInt64 {
    var total: UInt64 = 0
    for sub in try FS.list(repo + "/packs") where sub.utf8.count == 2 {
        for f in try FS.list(repo + "/packs/" + sub) where f.hasSuffix(".pack") { total += try FS.lstat(repo + "/packs/" + sub + "/" + f).size }
    }
    return total
}

/// Restores `id` into a fresh folder and compares silo `silo` with `expected` (digestTree of the
/// source when the snapshot was taken). Returns nil when equal, else a description of the difference.
public func restoreDiffers(_ repo: String, _ id: String, silo: String, expected: [String: PathState], scratch: TempDir) throws -> String? {
    let dir = scratch.sub("restore-\(id.prefix(12))-\(UInt32.random(in: 0...UInt32.max))")
    defer { try? FS.removeTree(dir) }
    let r = try cairn(repo, ["restore", id, "--to", dir, "--silo", silo])
    if r.status != 0 { return "restore \(id.prefix(12)) exited \(r.status): \(r.stderr)" }
    let got = try digestTree(dir + "/" + silo)
    if got == expected { return nil }
    let missing = Set(expected.keys).subtracting(got.keys).sorted().prefix(3)
    let extra = Set(got.keys).subtracting(expected.keys).sorted().prefix(3)
    let changed = expected.keys.filter { got[$0] != nil && got[$0] != expected[$0] }.sorted().prefix(3)
    return "snapshot \(id.prefix(12)) differs: missing \(Array(missing)), extra \(Array(extra)), changed \(Array(changed))"
}

/// A silo folder whose content changes step by step, each step deterministic from a seed.
public final class EvolvingSilo: @unchecked Sendable {
    public let root: String
    var rng: SeededBytes
    var step = 0
    let maxFile: Int

    /// `maxFile` bounds each new file's size.
    public init(root: String, seed: UInt64, maxFile: Int = 1 << 20) {
        self.root = root
        rng = SeededBytes(seed: seed)
        self.maxFile = maxFile
    }

    /// Writes `count` files under a shared folder that later steps leave alone (dedup across history).
    public func writeStable(count: Int, size: Int) throws {
        for i in 0..<count { try writeFile("\(root)/stable/s\(i).bin", rng.bytes(size)) }
    }

    /// One step: a new file, a rewritten one, and (often) a deleted older one. Returns the
    /// digest of the folder after the step.
    @discardableResult
    public func advance() throws -> [String: PathState] {
        step += 1
        try writeFile("\(root)/gen/g\(step).bin", rng.bytes(maxFile / 2 + rng.int(maxFile / 2)))
        try writeFile("\(root)/small/m\(rng.int(8)).txt", Array("step \(step) \(rng.next())\n".utf8))
        if step > 2 && rng.int(3) != 0 {
            let victim = "\(root)/gen/g\(step - 2 - rng.int(min(step - 2, 3))).bin"
            unlink(victim)
        }
        return try digestTree(root)
    }
}

/// Every block a snapshot reaches: root and sub-trees, content lists, data blocks (through the library).
public func reachableBlocks(_ r: Repository, _ snap: Snapshot) throws -> Set<BlockId> {
    var out = Set<BlockId>()
    let reader = r.makeReader()
    for s in snap.record.silos {
        guard let root = BlockId(hex: s.tree) else { continue }
        out.insert(root)
        try r.walk(root, prefix: FileName(utf8: s.name), silo: s.name, reader: reader) { le in
            let e = le.entry
            if let st = e.subtree { out.insert(st) }
            guard e.kind == .file else { return }
            for c in e.content { out.insert(c.id) }
            if e.indirect { for d in try r.dataRefs(e, reader: reader) { out.insert(d.id) } }
        }
    }
    return out
}

/// Stored bytes (and count) of the blocks that snapshots `gone` reach and snapshots `kept` do not.
public func uniqueStoredBytes(_ repo: String, of gone: [String], against kept: [String]) throws -> (bytes: UInt64, blocks: Int) {
    let r = try Repository.open(at: repo)
    var goneSet = Set<BlockId>(), keptSet = Set<BlockId>()
    for id in gone { goneSet.formUnion(try reachableBlocks(r, try r.resolve(id))) }
    for id in kept { keptSet.formUnion(try reachableBlocks(r, try r.resolve(id))) }
    var total: UInt64 = 0
    let unique = goneSet.subtracting(keptSet)
    for id in unique { total += UInt64(try r.index.lookup(id)?.entry.storedLength ?? 0) }
    return (total, unique.count)
}
