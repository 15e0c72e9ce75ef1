// `cairn export`, `cairn inspect`, `cairn import`: snapshots as portable ZIP archives
// (Docs/Export.md). The work is in CairnCore/Export; these commands parse options, choose
// where bytes go, and report.

import ArgumentParser
import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension ExportCompression: ExpressibleByArgument {}

struct ExportCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a snapshot as a ZIP archive (to a file or to standard output).",
        discussion: "Entries are SILO/relative/path, plus cairn-snapshot.json (every file's SHA-256) and RESTORE.txt at the root.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot: id, unique prefix (6+ hex digits) or 'latest'.") var snapshot: String
    @Option(name: .long, help: "Export only this silo (repeatable).") var silo: [String] = []
    @Option(name: [.short, .long], help: "Archive to write, or '-' for standard output.") var output: String?
    @Option(name: .long, help: "store, deflate, or auto (deflate files that compressed at snapshot time).") var compression: ExportCompression = .auto
    @Option(name: .long, help: "zlib level for deflated entries, 1 (fastest, the default) to 9 (smallest).") var level: Int32 = 1
    @Flag(name: .long, help: "Print the archive's size without writing it: exact for store, a bound otherwise.") var estimate = false
    @Flag(name: .long, help: "Encrypt file contents with a password: AES-256 (WinZip AE-2), opened by 7-Zip, bsdtar and WinZip.") var encrypt = false
    @OptionGroup var password: PasswordArguments

    func run() throws {
        // The archive goes to stdout: JSON goes to stderr.
        if output == "-" && !estimate { Out.jsonToStderr = true }
        try guarded {
            let r = try global.open("export")
            let snap = try r.resolve(snapshot)
            guard (1...9).contains(level) else { throw CairnError(.invalidInput, "--level \(level) is out of range; give 1 (fastest) to 9 (smallest)") }
            let encryption = encrypt && !estimate ? ZipEncryption(password: try password.read("password for the archive", confirm: true)) : nil
            if estimate && encrypt {
                // Sizes only: any password gives the same layout.
                let e = try SnapshotExporter(repository: r, snapshot: snap, options: ExportOptions(silos: silo, compression: compression, deflateLevel: level, encryption: ZipEncryption(password: [0]))).estimate()
                if global.json { try Out.json(e); return }
                Out.line("snapshot \(snap.shortId) encrypted: store \(e.storeBytes) bytes (exact), \(compression.rawValue) at most \(e.boundBytes) bytes")
                return
            }
            let exporter = try SnapshotExporter(repository: r, snapshot: snap, options: ExportOptions(silos: silo, compression: compression, deflateLevel: level, encryption: encryption))
            if estimate {
                let e = try exporter.estimate()
                if global.json { try Out.json(e); return }
                Out.line("snapshot \(snap.shortId): \(e.entries) entries, \(e.files) files, \(human(e.contentBytes)) of content")
                Out.line("store:   \(e.storeBytes) bytes (\(human(e.storeBytes)), exact)")
                if compression != .store { Out.line("\(compression.rawValue): at most \(e.boundBytes) bytes (\(human(e.boundBytes)))") }
                return
            }
            guard let output else { throw CairnError(.invalidInput, "give --output FILE.zip (or --output - for standard output), or --estimate") }
            let progress = Progress("export")
            if progress.enabled {
                let e = try exporter.estimate()
                progress.setTotal(files: e.files, bytes: e.contentBytes)
            }
            exporter.onProgress = { files, bytes in progress.update(done: files, bytes: bytes) }
            let result: ExportResult
            if output == "-" {
                if cairnIsTTY(1) {
                    throw CairnError(.invalidInput, "standard output is a terminal; redirect it (`> file.zip`, `| ...`) or give --output FILE.zip")
                }
                // A closed pipe must be an error return from write(2), not a silent death.
                signal(SIGPIPE, SIG_IGN)
                result = try exporter.export(to: FileSink.descriptor(1))
            } else {
                Cleanup.register(output + ".partial")
                defer { Cleanup.unregister(output + ".partial") }
                result = try exporter.export(toFile: output)
            }
            progress.finish()
            if global.json { try Out.summary(result); return }
            let text = "exported snapshot \(snap.shortId) (\(result.silos.joined(separator: ", "))): \(result.files) files, \(result.dirs) dirs, \(result.symlinks) symlinks, \(human(result.contentBytes)) -> \(result.archiveBytes) bytes (\(human(result.archiveBytes)))\(output == "-" ? "" : " in \(output)")"
            if output == "-" { Out.err(text) } else { Out.line(text) }
        }
    }
}

struct InspectCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a ZIP archive holds (snapshot, silos, counts, bytes) without extracting it.")
    @Argument(help: "The archive.") var archive: String
    @Flag(name: .long, help: "Machine-readable JSON output.") var json = false
    @OptionGroup var password: PasswordArguments

    func run() throws {
        try guarded {
            let source = password.options, shown = archive
            let s = try ArchiveSummary.inspect(path: archive, password: ZipPassword { try Password.read(source, purpose: "password for archive \(shown)") })
            if json { try Out.json(s); return }
            Out.line("archive  \(archive) (\(s.archiveBytes) bytes, \(s.entries) entries)")
            if let snap = s.snapshot {
                Out.line("Cairn export of snapshot \(snap.id)")
                Out.line("time     \(formatTime(snap.timeNs))")
                Out.line("host     \(snap.hostname)")
                if !snap.tags.isEmpty { Out.line("tags     \(snap.tags.joined(separator: ", "))") }
                if !snap.message.isEmpty { Out.line("message  \(snap.message)") }
                if let m = snap.meta, !m.isEmpty { Out.line("meta     \(SnapshotMeta.format(m))") }
                if let t = s.tool { Out.line("made by  \(t)") }
            } else {
                Out.line("not a Cairn export (no cairn-snapshot.json); top-level folders:")
            }
            for f in s.folders {
                Out.line("\(s.cairnExport ? "silo " : "")\(f.name): \(f.files) files, \(f.dirs) dirs, \(f.symlinks) symlinks, \(human(f.bytes)) (\(human(f.compressedBytes)) in the archive)")
            }
            if s.looseEntries > 0 { Out.line("\(s.looseEntries) entries outside any folder (import them with --as-silo NAME)") }
        }
    }
}

struct ImportCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Record a ZIP archive as a snapshot: a Cairn export comes back identical, any other ZIP's top-level folders become silos.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The archive, or '-' for standard input.") var archive: String
    @Option(name: .customLong("as-silo"), help: "NAME: the whole archive as one silo; OLD=NEW: rename a top-level folder (repeatable).") var asSilo: [String] = []
    @Option(name: .long, help: "Tag for the imported snapshot (repeatable).") var tag: [String] = []
    @Option(name: .customLong("max-size"), help: "Refuse archives larger than BYTES, or holding more than BYTES uncompressed.") var maxSize: UInt64?
    @Flag(name: .customLong("keep-special-modes"), help: "Keep setuid, setgid and sticky bits (and, from foreign ZIPs, world-writable permissions); by default they are dropped.")
    var keepSpecialModes = false
    @OptionGroup var metaCheck: MetaCheckOptions
    @OptionGroup var password: PasswordArguments

    func run() throws {
        try guarded {
            let r = try global.open("import")
            let source = password.options, shown = archive == "-" ? "standard input" : archive
            let ask = ZipPassword { try Password.read(source, purpose: "password for archive \(shown)") }
            let importer = SnapshotImporter(repository: r, options: ImportOptions(asSilo: asSilo, tags: tag, maxSize: maxSize, keepSpecialModes: keepSpecialModes, password: ask))
            let progress = Progress("import")
            if progress.enabled && archive != "-", let s = try? ArchiveSummary.inspect(path: archive, password: ask) {
                // Totals from the central directory (loose entries outside folders are not counted: a lower bound).
                progress.setTotal(files: s.folders.reduce(0) { $0 + $1.files }, bytes: s.folders.reduce(0) { $0 + $1.bytes })
            }
            importer.onProgress = { files, bytes in progress.update(done: files, bytes: bytes) }
            let result: ImportResult
            if archive == "-" {
                let spool = try importer.spool(fd: 0)
                defer { unlink(spool) }
                try metaCheck.check(archive: spool, display: "<stdin>", password: ask)
                result = try importer.run(archive: spool, display: "<stdin>")
            } else {
                try metaCheck.check(archive: archive, display: archive, password: ask)
                result = try importer.run(archive: archive)
            }
            progress.finish()
            if global.json { try Out.summary(result); return }
            let id = String(result.snapshot.prefix(12))
            if result.cairnExport {
                Out.line("imported Cairn export of snapshot \(String((result.originalSnapshot ?? "").prefix(12))) as snapshot \(id): \(result.files) files, \(result.dirs) dirs, \(result.symlinks) symlinks, \(human(result.bytes)), every SHA-256 verified")
            } else {
                Out.line("imported \(archive == "-" ? "standard input" : archive) as snapshot \(id): \(result.files) files, \(result.dirs) dirs, \(result.symlinks) symlinks, \(human(result.bytes))")
            }
            for s in result.silos {
                Out.line("silo \(s.name): tree \(s.tree.prefix(12))\(s.treeMatches == false ? " (differs from the tree the export recorded)" : "")")
                if s.treeMatches == false { Out.err("cairn: warning: silo \(s.name) was rebuilt as tree \(s.tree) but the export recorded another tree id; the content is verified, metadata differs (setuid, setgid or sticky bits are dropped unless --keep-special-modes)") }
            }
        }
    }
}
