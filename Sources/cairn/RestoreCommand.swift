import ArgumentParser
import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct RestoreCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot atomically in place (with a safety snapshot), or into a new folder with --to.",
        discussion: """
        In place, each silo is rebuilt in a staging folder beside it, verified and fsynced, then swapped \
        with the live silo in one rename. The replaced state is first saved as a snapshot tagged pre-restore. \
        An interrupted restore is completed or rolled back by the next cairn command (or `cairn restore --recover`).
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot: id, unique prefix (6+ hex digits) or 'latest'.") var snapshot: String?
    @Option(name: .long, help: "Restore only this silo (repeatable).") var silo: [String] = []
    @Option(name: .long, help: "Restore into DIR/SILO/... (a new or empty folder) instead of in place.") var to: String?
    @Option(name: .long, help: "Restore only paths matching this glob (repeatable); each file is replaced atomically.") var include: [String] = []
    @Flag(name: .long, help: "Show what would change against the live state; change nothing.") var dryRun = false
    @Flag(name: .long, help: "Do not snapshot the live state before replacing it.") var noSafetySnapshot = false
    @Flag(name: .long, help: "Proceed although processes hold silo files open.") var force = false
    @Flag(name: .long, help: "Only complete or roll back an interrupted restore.") var recover = false
    @Flag(name: .long, help: "With --dry-run, list every changed path.") var verbose = false
    @Flag(name: .long, help: "As root, restore owners by the stored numeric uid/gid, not by user and group name.") var numericOwner = false
    @OptionGroup var metaCheck: MetaCheckOptions

    /// A dry-run change; the path as `{silo, path}` like every JSON path (Docs/JSON.md), with
    /// `pathBytes` (base64) when not valid UTF-8 (Docs/Format.md, "Names in JSON").
    struct ChangeJSON: Encodable {
        var change: String
        var silo: String
        var path: String
        var pathBytes: String?
        init(change: String, path full: FileName) {
            self.change = change
            let (s, rel) = splitSiloPath(full)
            silo = s
            path = rel.jsonText
            pathBytes = rel.jsonBase64
        }
    }

    func run() throws {
        try guarded {
            let r = try global.open("restore")
            if recover {
                if global.json { try Out.summary(["recovered": r.recoveryReport ?? ""]) } else if r.recoveryReport == nil { Out.line("no interrupted restore to recover") }
                return
            }
            guard let snapshot else { throw CairnError(.invalidInput, "give the snapshot to restore (an id, a prefix or `latest`), or --recover") }
            try metaCheck.check(snapshot: try r.resolve(snapshot))
            var o = RestoreOptions()
            o.silos = silo
            o.to = to
            o.include = include
            o.dryRun = dryRun
            o.safetySnapshot = !noSafetySnapshot
            o.force = force
            o.wait = global.wait
            o.numericOwner = numericOwner
            var changes: [ChangeJSON] = []
            let progress = Progress("restore")
            if progress.enabled && include.isEmpty, let snap = try? r.resolve(snapshot) {
                let chosen = snap.record.silos.filter { silo.isEmpty || silo.contains($0.name) }
                progress.setTotal(files: chosen.reduce(0) { $0 + $1.files }, bytes: chosen.reduce(0) { $0 + $1.bytes })
            }
            let session = CairnSession(opened: r)
            session.onWarning = { Out.err("cairn: warning: \($0)") }
            let res = try session.restore(snapshot, options: o) { restorer in
                if dryRun && (verbose || global.json) {
                    restorer.onChange = { marker, path in
                        if global.json { changes.append(ChangeJSON(change: marker, path: path)) } else { Out.line("\(marker) \(path.escaped)") }
                    }
                }
                restorer.onProgress = { c in progress.update(done: c.files, bytes: c.bytes) }
            }.result
            progress.finish()
            if let note = res.recovered { Out.err("cairn: note: \(note)") }
            for w in res.warnings { Out.err("cairn: warning: \(w)") }
            if global.json {
                struct Doc: Encodable { var result: RestoreResult; var changes: [ChangeJSON]? }
                try Out.summary(Doc(result: res, changes: dryRun ? changes : nil))
                return
            }
            let t = res.totals
            for s in res.silos {
                let c = s.changes
                Out.line("\(dryRun ? "would restore" : "restored") \(s.name) -> \(s.target): \(c.added) added, \(c.removed) removed, \(c.modified) modified, \(c.metadataOnly) metadata only, \(c.unchanged) unchanged; \(human(c.bytesToWrite)) to write")
            }
            if dryRun {
                Out.line("dry run: nothing changed (\(t.added) added, \(t.removed) removed, \(t.modified) modified, \(t.metadataOnly) metadata only; \(human(t.bytesToWrite)) would be written)")
                return
            }
            Out.line("wrote \(res.written.files) files, \(res.written.dirs) dirs, \(res.written.symlinks) symlinks, \(human(res.written.bytes)) from snapshot \(String(res.snapshot.prefix(12)))")
            if let s = res.safetySnapshot, let undo = res.undo {
                Out.line("safety snapshot \(String(s.prefix(12))) (tag pre-restore) holds the replaced state; undo with: \(undo)")
            }
        }
    }
}
