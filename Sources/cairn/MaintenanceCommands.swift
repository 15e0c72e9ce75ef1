// Maintenance commands: forget (retention), policy set/show/clear, prune, unlock.

import ArgumentParser
import CairnCore
import Foundation

/// The keep rules shared by `forget` and `policy set`.
struct PolicyFlags: ParsableArguments {
    @Option(name: .long, help: "Keep the N newest snapshots.") var keepLast: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the N latest hours that have one.") var keepHourly: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the N latest days (local time).") var keepDaily: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the N latest ISO weeks.") var keepWeekly: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the N latest months.") var keepMonthly: Int?
    @Option(name: .long, help: "Keep the newest snapshot of each of the N latest years.") var keepYearly: Int?
    @Option(name: .long, help: "Keep snapshots newer than DURATION (e.g. 2d3h, 1y6m) before the newest one.") var keepWithin: String?
    @Option(name: .long, help: "Keep snapshots with this tag (repeatable).") var keepTag: [String] = []
    @Option(name: .long, help: "Only consider snapshots holding this silo.") var silo: String?

    var given: Bool {
        keepLast != nil || keepHourly != nil || keepDaily != nil || keepWeekly != nil || keepMonthly != nil || keepYearly != nil
            || keepWithin != nil || !keepTag.isEmpty
    }

    func policy() throws -> RetentionPolicy {
        try RetentionPolicy(parsingKeepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, keepWeekly: keepWeekly,
                            keepMonthly: keepMonthly, keepYearly: keepYearly, keepWithin: keepWithin, keepTags: keepTag, silo: silo)
    }
}

struct DecisionJSON: Encodable {
    var id: String
    var time: String
    var group: String
    var keep: Bool
    var reasons: [String]
    init(_ d: RetentionDecision) {
        id = d.id
        time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(d.timeNs) / 1e9))
        group = d.group
        keep = d.keep
        reasons = d.reasons
    }
}

func printDecisions(_ res: ForgetResult) {
    for d in res.decisions {
        let verdict = d.keep ? "keep  " : (res.dryRun ? "remove" : "removed")
        Out.line("\(verdict)  \(d.id.prefix(12))  \(formatTime(d.timeNs))  \(d.group)\(d.reasons.isEmpty ? "" : "  (\(d.reasons.joined(separator: ", ")))")")
    }
    let removed = res.decisions.filter { !$0.keep }.count
    Out.line("\(res.dryRun ? "would remove" : "removed") \(removed) snapshots, kept \(res.decisions.count - removed)\(res.dryRun ? " (dry run)" : "")")
}

struct ForgetCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Remove snapshots by id or by retention policy (restic semantics); blocks stay until prune.",
        discussion: """
        Rules apply per group of snapshots with the same set of silos, newest first, calendar buckets in local time. \
        pre-restore safety snapshots are kept for 7 days whatever the rules say, unless named explicitly. \
        With no ids and no --keep-* option, the stored policy (`cairn policy set`) is applied.
        """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var rules: PolicyFlags
    @Argument(help: "Snapshots to remove (ids, prefixes, latest).") var snapshots: [String] = []
    @Flag(name: .long, help: "List each snapshot as kept or removed, with the rule; change nothing.") var dryRun = false
    @Flag(name: .long, help: "Run prune afterwards (takes the exclusive lock).") var prune = false
    @Option(name: .long, help: "With --prune: repack packs with more than PERCENT unused bytes.") var maxUnused: Double = 10
    @Option(name: .long, help: "With --prune: the grace period of two-phase pack deletion, in seconds (see prune --grace).") var grace: Double?

    func run() throws {
        try guarded {
            let r = try global.open("forget")
            let res: ForgetResult
            if !snapshots.isEmpty {
                guard !rules.given else { throw CairnError(.invalidInput, "give snapshot ids or --keep-* rules, not both") }
                res = try r.forget(ids: snapshots, dryRun: dryRun)
            } else if rules.given {
                res = try r.forget(policy: try rules.policy(), dryRun: dryRun)
            } else if let stored = try r.storedPolicy() {
                var p = stored
                if let s = rules.silo { p.silo = s }
                res = try r.forget(policy: p, dryRun: dryRun)
            } else {
                throw CairnError(.invalidInput, "give snapshot ids or --keep-* rules (no policy is stored; see `cairn policy set`)")
            }
            var pruneReport: PruneReport?
            if prune {
                r.unlock()
                try r.lock(.exclusive, wait: global.wait, command: "prune")
                pruneReport = try r.prune(PruneOptions(maxUnusedPercent: maxUnused, dryRun: dryRun, graceSeconds: grace))
            }
            if global.json {
                struct Doc: Encodable { var dryRun: Bool; var snapshots: [DecisionJSON]; var removed: [String]; var prune: PruneReport? }
                try Out.json(Doc(dryRun: dryRun, snapshots: res.decisions.map(DecisionJSON.init), removed: res.removed, prune: pruneReport))
            } else {
                printDecisions(res)
                if let p = pruneReport { printPrune(p) }
            }
        }
    }
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Store a retention policy that every snapshot applies afterwards.",
                                                    subcommands: [Set.self, Show.self, Clear.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store the policy in REPO/policy.json (same rules as forget).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var rules: PolicyFlags
        func run() throws {
            try guarded {
                let r = try global.open("policy set")
                let p = try rules.policy()
                try r.setStoredPolicy(p)
                if global.json { try Out.json(PolicyJSON(p)) } else { Out.line("policy set: \(p.summary); applied after every successful snapshot") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the stored policy.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            try guarded {
                let p = try global.open("policy show").storedPolicy()
                if global.json {
                    try Out.json(PolicyJSON(p))
                } else {
                    Out.line(p.map { "policy: \($0.summary)" } ?? "no policy set (snapshots are kept until `cairn forget`)")
                }
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the stored policy.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            try guarded {
                try global.open("policy clear").setStoredPolicy(nil)
                if global.json { try Out.json(["policy": "cleared"]) } else { Out.line("policy cleared") }
            }
        }
    }
}

/// Applies the stored policy after a successful `cairn snapshot`; a failure is a warning (the snapshot is saved).
/// Prints what the stored policy removed after a snapshot.
func printPolicyRemovals(_ res: ForgetResult, json: Bool) {
    guard !res.removed.isEmpty else { return }
    let text = "policy removed \(res.removed.count) snapshots: \(res.removed.map { String($0.prefix(12)) }.joined(separator: ", "))"
    if json { Out.err("cairn: note: \(text)") } else { Out.line(text) }
}

func printPrune(_ p: PruneReport) {
    let verb = p.dryRun ? "would delete" : "deleted"
    Out.line("\(p.snapshots) snapshots use \(p.liveBlocks) of \(p.blocksBefore) blocks; \(p.deadBlocks) unused blocks hold \(human(p.deadBytes))")
    Out.line("\(verb) \(p.packsDeleted) unused packs, repacked \(p.packsRepacked) packs\(p.dryRun ? "" : " into \(p.packsWritten) new packs"), \(verb) \(p.orphanPacksDeleted) orphan packs")
    Out.line("\(p.dryRun ? "would free" : "freed") \(human(p.bytesFreed)) (\(p.bytesFreed) bytes), repacked \(human(p.bytesRepacked)) (\(p.bytesRepacked) bytes)")
    if p.packsMarked > 0 {
        Out.line("\(p.packsMarked) unreferenced packs (\(human(p.bytesMarked))) stay marked: a prune deletes them once marked for \(Int(p.graceSeconds)) s (--grace) and still unused")
    }
    for k in p.orphanPacksKept { Out.err("cairn: warning: kept unindexed pack \(k): it may hold the only copy of a block; run `cairn check --rebuild-index` to salvage it") }
    Out.line("repository: \(p.packsBefore) packs, \(human(p.packBytesBefore)) -> \(p.packsAfter) packs, \(human(p.packBytesAfter)); \(human(p.unusedBytesAfter)) unused left in kept packs\(p.dryRun ? " (dry run)" : "")")
}

struct PruneCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete blocks no snapshot uses; repack sparse packs (exclusive lock).",
        discussion: """
        Waits up to --wait seconds for running snapshots, reads and restores to finish; none can start while it runs. \
        A pack with no used block is deleted; a pack with more than --max-unused percent unused bytes has its used blocks \
        copied into new packs and is then deleted. Deletion is two-phase: a pack found unreferenced is first marked, and a \
        later prune deletes it once the mark is older than --grace seconds and the pack is still unreferenced. \
        Interrupting prune at any moment leaves a repository that checks clean.
        """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Repack packs with more than PERCENT unused bytes (0-100).") var maxUnused: Double = 10
    @Flag(name: .long, help: "Report what would be deleted and repacked; change nothing.") var dryRun = false
    @Option(name: .long, help: "Delete an unreferenced pack only once a prune marked it at least SECONDS ago (default: the repository's pruneGraceSeconds, else 3600; 0 deletes at once, for a repository only one machine writes).")
    var grace: Double?

    func run() throws {
        try guarded {
            let r = try Repository.open(at: try global.repoPath())
            try r.lock(.exclusive, wait: global.wait, command: "prune")
            let progress = Progress("prune", unit: "snapshots")
            let rep = try r.prune(PruneOptions(maxUnusedPercent: maxUnused, dryRun: dryRun, graceSeconds: grace)) { phase, done, total in
                progress.setTotal(files: total, bytes: nil, unit: phase == "mark" ? "snapshots" : "packs")
                progress.update(done: done, bytes: 0, phase: phase)
            }
            progress.finish()
            if global.json { try Out.summary(rep) } else { printPrune(rep) }
        }
    }
}

struct UnlockCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "List lock holders and remove stale locks left by dead processes.",
        discussion: "A lock is stale when its process is gone on this host, or when it was not refreshed for the stale timeout (30 minutes). Live holders are named and left alone (exit 12); --remove-all removes every lock, for a machine known to be down.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("remove-all"), help: "Remove every lock, also those of processes that may still run (on other machines).")
    var removeAll = false

    func run() throws {
        try guarded {
            let r = try Repository.open(at: try global.repoPath())
            let res = try r.removeStaleLocks(all: removeAll)
            struct HolderJSON: Encodable { var pid: Int32; var host: String; var mode: String; var command: String; var file: String; var stale: String? }
            func j(_ h: RepositoryLock.Holder) -> HolderJSON { HolderJSON(pid: h.pid, host: h.host, mode: h.mode, command: h.command, file: h.file, stale: h.staleReason) }
            if global.json {
                try Out.json(["removed": res.removed.map(j), "live": res.live.map(j)])
            } else {
                for h in res.removed {
                    Out.line("removed \(h.stale ? "stale " : "")lock of pid \(h.pid) on \(h.host) (\(h.command), \(h.mode))\(h.staleReason.map { ": \($0)" } ?? "")")
                }
                if res.partialFiles > 0 { Out.line("removed \(res.partialFiles) format-1 lock info files of dead processes") }
                if res.removed.isEmpty && res.live.isEmpty && res.partialFiles == 0 { Out.line("no locks held") }
            }
            if !res.live.isEmpty {
                let names = res.live.map { "pid \($0.pid) on \($0.host) (\($0.command), \($0.mode))" }.joined(separator: ", ")
                throw CairnError(.locked, "the lock is held by running \(names); not removed: wait for it to finish, stop that process, or pass --remove-all if it is on a machine known to be down")
            }
        }
    }
}

struct MigrateCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Migrate a format 1 or 2 repository to format 3 (index objects, host-local state).",
        discussion: """
        Writes an index object for every pack, moves silos.json to this host's state folder and rewrites config.json \
        with version 3 (one rename). A migration interrupted at any point leaves a repository that this cairn (and, \
        before the rename, an older one) opens and checks clean; run it again to finish. The first snapshot, in-place \
        restore or import migrates automatically. A format-3 repository is left as it is.
        """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try guarded {
            let r = try global.open("migrate")
            let from = r.config.version
            let rep = try r.migrateFormatIfNeeded()
            struct MigrateJSON: Encodable { var repository: String; var fromVersion: Int; var version: Int; var migrated: Bool; var indexObjectsWritten: Int; var warnings: [String] }
            let j = MigrateJSON(repository: r.root, fromVersion: from, version: r.config.version, migrated: rep != nil,
                                indexObjectsWritten: rep?.indexObjectsWritten ?? 0, warnings: rep?.packsSkipped ?? [])
            if global.json { try Out.json(j); return }
            for w in j.warnings { Out.err("cairn: warning: \(w)") }
            if rep == nil { Out.line("repository \(r.root) already has format \(r.config.version); nothing to do") } else {
                Out.line("migrated repository \(r.root) from format \(from) to \(r.config.version): \(j.indexObjectsWritten) index objects written, silos and journal now in \(r.layout.state)")
            }
        }
    }
}
