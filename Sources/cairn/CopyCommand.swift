// `cairn copy`: snapshots from one repository into another (CairnCore/Copy). `--repo` is one
// side, `--to` or `--from` the other. The target is locked as a writer, the source as a reader.

import ArgumentParser
import CairnCore
import Foundation

struct CopyCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy snapshots to (--to) or from (--from) another repository, sending only the blocks it lacks.",
        discussion: """
        --repo is the source with --to, the target with --from. With no snapshot named, every snapshot that --silo and --tag keep \
        is copied; `latest` honours --silo and --tag. Every block sent is verified (SHA-256 of its plaintext) on the way; \
        a snapshot the target already holds a copy of is skipped. The copy records its origin (source repository and snapshot).
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshots to copy (ids, prefixes, latest, latest:TAG); none: all that the filters keep.") var snapshots: [String] = []
    @Option(name: .long, help: "The target repository (--repo is the source).") var to: String?
    @Option(name: .long, help: "The source repository (--repo is the target).") var from: String?
    @Option(name: .long, help: "Only snapshots holding this silo.") var silo: String?
    @Option(name: .long, help: "Only snapshots with this tag.") var tag: String?

    func run() throws {
        try guarded {
            guard (to == nil) != (from == nil) else {
                throw CairnError(.usage, "give exactly one of --to REPO (copy from --repo into REPO) or --from REPO (copy from REPO into --repo)")
            }
            let here = try global.repoPath()
            let otherPath = to ?? from ?? ""
            guard !otherPath.isEmpty else { throw CairnError(.usage, "--\(to != nil ? "to" : "from") needs a repository") }
            Cleanup.repository(otherPath)
            let (sourcePath, targetPath) = to != nil ? (here, otherPath) : (otherPath, here)
            // Both are opened before either is locked, so a missing one costs nothing.
            let source = try Repository.open(at: sourcePath)
            let target = try Repository.open(at: targetPath)
            for r in [source, target] { if let note = r.recoveryReport { Out.err("cairn: note: \(note)") } }
            let copier = try SnapshotCopier(from: source, to: target)
            try target.lock(.shared, wait: global.wait, command: "copy")
            try source.lock(.shared, wait: global.wait, command: "copy")
            let chosen = try copier.select(CopySelection(refs: snapshots, silo: silo, tag: tag))
            let progress = Progress("copy")
            let size = SnapshotCopier.size(of: chosen)
            progress.setTotal(files: size.files, bytes: size.bytes)
            copier.onProgress = { files, bytes, path in progress.update(done: files, bytes: bytes, current: path) }
            let result = try copier.copy(chosen)
            progress.finish()
            if global.json {
                try Out.summary(CopyJSON(from: source.root, to: target.root, result: result))
                return
            }
            for s in result.snapshots {
                Out.line(s.copied ? "copied snapshot \(s.source.prefix(12)) as \(s.target.prefix(12)) (\(s.silos.joined(separator: ", ")): \(s.files) files, \(human(s.bytes)))"
                                  : "snapshot \(s.source.prefix(12)) is already in the target as \(s.target.prefix(12)); skipped")
            }
            let st = result.stats
            Out.line("sent \(st.blocksSent) blocks, \(human(st.bytesSent)) (\(human(st.storedBytesSent)) stored, \(st.packsWritten) packs); skipped \(st.blocksSkipped) blocks, \(human(st.bytesSkipped)) the target already had")
        }
    }
}

/// The `copy --json` summary (Docs/json-schema/copy.json): the run's counters (CopyStats)
/// at the top level, with both repositories and every snapshot's outcome.
struct CopyJSON: Encodable {
    var from: String
    var to: String
    var result: CopyResult

    enum K: String, CodingKey { case from, to, sourceRepository, targetRepository, snapshots, copied, alreadyPresent }
    func encode(to encoder: Encoder) throws {
        try result.stats.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        let copied = result.snapshots.filter(\.copied).count
        for (k, v) in [(K.from, from), (.to, to), (.sourceRepository, result.sourceRepository), (.targetRepository, result.targetRepository)] {
            try c.encode(v, forKey: k)
        }
        try c.encode(result.snapshots, forKey: .snapshots)
        try c.encode(copied, forKey: .copied)
        try c.encode(result.snapshots.count - copied, forKey: .alreadyPresent)
    }
}
