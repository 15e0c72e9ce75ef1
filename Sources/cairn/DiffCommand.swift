// `cairn diff A B`: what changed between two snapshots, or between a snapshot and the
// live silos (`B` = `live`). Output formats and schemas: Docs/Diff.md.

import ArgumentParser
import CairnCore

struct DiffCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two snapshots, or between a snapshot and the live silos.",
        discussion: """
            Markers: + added, - removed, M modified, T type changed, R renamed, m metadata only (--metadata).
            Exits 0 whether or not there are differences. With `live`, a silo that cannot be read exits 19
            and skipped files exit 3, after the output (as `cairn snapshot` would).
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot A: full id, unique prefix (6+ hex digits) or 'latest'.") var a: String
    @Argument(help: "Snapshot B: as A, or 'live' (what a snapshot taken now would record, without taking it).") var b: String
    @Option(name: .long, help: "Compare only this silo (repeatable; default all).") var silo: [String] = []
    @Flag(name: .customLong("json-lines"), help: "One JSON object per change, then one totals object.") var jsonLines = false
    @Flag(name: .long, help: "Totals only (per silo and overall).") var stat = false
    @Flag(name: .long, help: "Also report mode and mtime changes.") var metadata = false

    func run() throws {
        try guarded {
            if global.json && jsonLines {
                throw CairnError(.invalidInput, "--json and --json-lines cannot be combined; pick one")
            }
            if stat && (global.json || jsonLines) {
                throw CairnError(.invalidInput, "--stat is for human output; the JSON forms already carry the totals (\"totals\")")
            }
            let r = try global.open("diff")
            // The JSON forms of diff are one document or change lines (Docs/Diff.md): no status events.
            let progress = Progress("diff live", terminalOnly: true)
            let d = try r.diff(a, b, silos: silo, options: DiffOptions(metadata: metadata)) { p in
                progress.update(done: p.files, bytes: p.bytesRead, current: p.currentPath)
            }
            progress.finish()
            for w in d.warnings { Out.err("cairn: warning: \(w)") }
            for (_, why) in d.failedSilos.sorted(by: { $0.key < $1.key }) { Out.err("cairn: error: \(why)") }
            let style: DiffFormat.Style = global.json ? .json : jsonLines ? .jsonLines : stat ? .stat : .human
            DiffFormat.emit(d.report, style: style) { Out.line($0) }
            if !d.failedSilos.isEmpty { throw ExitCode(CairnError.Code.siloFailed.exitCode) }
            if !d.warnings.isEmpty { throw ExitCode(CairnError.Code.partial.exitCode) }
        }
    }
}
