import ArgumentParser
import CairnCore

/// `--require-meta` / `--warn-meta` of `restore` and `import`: application metadata the
/// snapshot (or archive) must carry, or should carry.
struct MetaCheckOptions: ParsableArguments {
    @Option(name: .customLong("require-meta"), help: ArgumentHelp("Refuse unless the snapshot's metadata has KEY=VALUE (repeatable).", valueName: "key=value"))
    var require: [String] = []
    @Option(name: .customLong("warn-meta"), help: ArgumentHelp("Warn (and proceed) unless the snapshot's metadata has KEY=VALUE (repeatable).", valueName: "key=value"))
    var warn: [String] = []

    var isEmpty: Bool { require.isEmpty && warn.isEmpty }

    /// Checks a snapshot of the repository.
    func check(snapshot: Snapshot) throws {
        try check(snapshot.record.meta, what: "snapshot \(snapshot.shortId)")
    }

    /// Checks an archive's manifest (read alone, before anything is imported).
    func check(archive path: String, display: String, password: ZipPassword? = nil) throws {
        if isEmpty { return }
        let s = try ArchiveSummary.inspect(path: path, password: password)
        try check(s.snapshot?.meta, what: s.cairnExport ? "archive \(display)" : "archive \(display) (not a Cairn export, no metadata)")
    }

    func check(_ meta: [String: String]?, what: String) throws {
        if isEmpty { return }
        let warnings = try SnapshotMeta.check(meta, require: try SnapshotMeta.parse(require, option: "--require-meta"),
                                              warn: try SnapshotMeta.parse(warn, option: "--warn-meta"), what: what)
        for w in warnings { Out.err("cairn: warning: \(w)") }
    }
}
