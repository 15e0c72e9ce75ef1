import ArgumentParser
import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct ListCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List snapshots, oldest first.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Only snapshots holding this silo.") var silo: String?
    @Option(name: .long, help: "Only snapshots with this tag.") var tag: String?

    func run() throws {
        try guarded {
            let r = try global.open("list")
            if let s = silo { _ = try r.silo(s) }
            let snaps = try r.snapshots().filter { s in
                (silo == nil || s.record.silo(silo!) != nil) && (tag == nil || s.record.tags.contains(tag!))
            }
            if global.json { try Out.json(snaps.map { SnapshotJSON($0) }); return }
            for s in snaps {
                let bytes = s.record.silos.reduce(UInt64(0)) { $0 + $1.bytes }
                let tags = s.record.tags.isEmpty ? "" : " [\(s.record.tags.joined(separator: ","))]"
                let meta = s.record.meta.map { " {\(SnapshotMeta.format($0))}" } ?? ""
                Out.line("\(s.shortId)  \(formatTime(s.record.timeNs))  \(s.record.silos.map(\.name).joined(separator: ","))  \(human(bytes))  +\(human(s.record.bytesAdded))\(tags)\(meta)\(s.record.message.isEmpty ? "" : "  \(s.record.message)")\(s.record.partial ? "  (partial)" : "")")
            }
        }
    }
}

struct ShowCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a snapshot's record: per-silo counts and bytes.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot: id, unique prefix (6+ hex digits) or 'latest'.") var snapshot: String

    func run() throws {
        try guarded {
            let r = try global.open("show")
            let s = try r.resolve(snapshot)
            if global.json { try Out.json(SnapshotJSON(s)); return }
            let rec = s.record
            Out.line("snapshot \(s.id)")
            Out.line("time     \(formatTime(rec.timeNs))")
            Out.line("host     \(rec.hostname)")
            if let p = rec.parent { Out.line("parent   \(p.prefix(12))") }
            if !rec.tags.isEmpty { Out.line("tags     \(rec.tags.joined(separator: ", "))") }
            if !rec.message.isEmpty { Out.line("message  \(rec.message)") }
            if let m = rec.meta, !m.isEmpty { Out.line("meta     \(SnapshotMeta.format(m))") }
            if let c = rec.copied { Out.line("copied   from snapshot \(c.snapshot.prefix(12)) of repository \(c.repository) at \(formatTime(c.copiedAtNs))") }
            Out.line("added    \(human(rec.bytesAdded)) in \(rec.blocksAdded) blocks\(rec.partial ? " (partial snapshot)" : "")")
            for silo in rec.silos {
                Out.line("silo \(silo.name) (\(silo.kind), \(silo.source)): \(silo.files) files, \(silo.dirs) dirs, \(silo.symlinks) symlinks, \(human(silo.bytes))\(silo.sqliteDatabases > 0 ? ", \(silo.sqliteDatabases) live SQLite" : "")")
                for w in silo.warnings { Out.line("  warning: \(w)") }
            }
        }
    }
}

/// One `ls --json` row. Names use the lossless encoding of Docs/Format.md ("Names in JSON"):
/// `path`/`target` hold text, `pathBytes`/`targetBytes` the raw bytes in base64 when the
/// name is not valid UTF-8.
struct LsEntryJSON: Encodable {
    var silo: String
    var path: String
    var pathBytes: String?
    var type: String
    var mode: UInt32
    var size: UInt64
    var mtimeNs: Int64
    var target: String?
    var targetBytes: String?
    var sqlite: Bool
    var uid: UInt32?
    var gid: UInt32?
    var links: UInt64?
    /// `find` only: the snapshot holding the entry (full id) and its time.
    var snapshot: String?
    var time: String?

    /// The row of `entry` at silo-relative path `rel` in silo `silo`.
    init(silo: String, rel: FileName, entry e: TreeEntry) {
        self.silo = silo
        path = rel.jsonText
        pathBytes = rel.jsonBase64
        type = e.kind.name
        mode = e.mode
        size = e.size
        mtimeNs = e.mtimeNs
        target = e.target?.jsonText
        targetBytes = e.target?.jsonBase64
        sqlite = e.flags & TreeEntry.flagSQLite != 0
        uid = e.owner?.uid
        gid = e.owner?.gid
        links = e.links > 1 ? e.links : nil
    }
}

/// Command-line paths as bytes: a shell hands over raw bytes, which Swift's `String` arguments
/// may have repaired (invalid UTF-8 replaced). The raw argv entry that decodes to `s` is used.
enum RawArgument {
    static func bytes(_ s: String) -> FileName {
        for i in 1..<Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[i] else { continue }
            if String(cString: p) == s {
                return FileName(bytes: UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
            }
        }
        return FileName(utf8: s)
    }
}

struct LsCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List files in a snapshot.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot reference.") var snapshot: String
    @Argument(help: "SILO/path to list (default: silo roots).") var path: String?
    @Flag(name: [.short, .long], help: "Recurse.") var recursive = false

    func run() throws {
        try guarded {
            let r = try global.open("ls")
            let s = try r.resolve(snapshot)
            let reader = r.makeReader()
            var first = true
            if global.json { Out.line("[") }
            try r.list(s, path: path.map(RawArgument.bytes), recursive: recursive, reader: reader) { le in
                let e = le.entry
                if global.json {
                    let (siloName, rel) = splitSiloPath(le.path)
                    let j = LsEntryJSON(silo: siloName, rel: rel, entry: e)
                    let enc = JSONEncoder()
                    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    Out.line((first ? "  " : ", ") + String(decoding: try enc.encode(j), as: UTF8.self))
                    first = false
                } else {
                    let t: String = e.kind == .directory ? "d" : e.kind == .symlink ? "l" : "-"
                    let m = String(format: "%@%04o", t, e.mode)
                    let name = le.path.escaped + (e.kind == .directory ? "/" : "")
                    Out.line("\(m) \(String(e.size).leftPad(12)) \(formatTime(e.mtimeNs)) \(name)\(e.target.map { " -> \($0.escaped)" } ?? "")")
                }
            }
            if global.json { Out.line("]") }
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

struct CatCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Stream one file's content to stdout.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot reference.") var snapshot: String
    @Argument(help: "SILO/path of the file.") var path: String

    func run() throws {
        try guarded {
            if global.json {
                throw CairnError(.invalidInput, "cat writes the file's bytes to standard output, --json does not apply; `cairn ls --json SNAPSHOT SILO/PATH` gives its metadata")
            }
            let r = try global.open("cat")
            let s = try r.resolve(snapshot)
            let reader = r.makeReader()
            let le = try r.lookup(s, path: RawArgument.bytes(path), reader: reader)
            let out = PosixFile(fd: 1, path: "stdout")
            try r.readContent(le.entry, path: le.path.escaped, reader: reader) { try out.write($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count) }
        }
    }
}

struct StatsCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Logical and stored bytes, dedup and compression ratios.")
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try guarded {
            let st = try global.open("stats").stats()
            if global.json { try Out.json(st); return }
            Out.line("snapshots          \(st.snapshots)")
            Out.line("packs              \(st.packs) (\(human(st.packBytes)))")
            Out.line("blocks             \(st.blocks)")
            Out.line("logical bytes      \(human(st.logicalBytes))  (sum over snapshots)")
            Out.line("unique bytes       \(human(st.uniqueRawBytes))")
            Out.line("stored bytes       \(human(st.storedBytes))")
            Out.line(String(format: "dedup ratio        %.2fx", st.dedupRatio))
            Out.line(String(format: "compression ratio  %.2fx", st.compressionRatio))
        }
    }
}

struct EstimateCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "estimate", abstract: "Files and bytes the silos hold now, and what changed since their latest snapshot (metadata only).")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Silo (repeatable; default all).") var silo: [String] = []
    @OptionGroup var walk: WalkFlags
    func run() throws {
        try guarded {
            let est = try global.open("estimate").estimate(silos: silo, options: try walk.options())
            if global.json { try Out.json(est); return }
            for e in est {
                Out.line("\(e.silo): \(e.files) files, \(e.dirs) dirs, \(human(e.bytes)); changed since last snapshot: \(e.changedFiles) files, \(human(e.changedBytes))\(e.hasSnapshot ? "" : " (no snapshot yet)")")
            }
        }
    }
}

struct CheckCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Verify snapshots, trees and blocks; rebuild the index from packs.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Re-read and re-hash every block.") var readData = false
    @Flag(name: .long, help: "Rebuild index.sqlite from pack trailers and snapshot files.") var rebuildIndex = false

    func run() throws {
        try guarded {
            let path = try global.repoPath()
            var rebuilt: [String: Int]?
            if rebuildIndex {
                let r = try Repository.rebuildIndex(at: path, wait: global.wait)
                for s in r.skipped { Out.err("cairn: warning: \(s)") }
                if global.json { rebuilt = ["packs": r.packs, "blocks": r.blocks, "snapshots": r.snapshots] } else {
                    Out.line("index rebuilt: \(r.packs) packs, \(r.blocks) blocks, \(r.snapshots) snapshots")
                }
            }
            let r = try global.open("check")
            let progress = Progress("check", unit: "blocks")
            let rep = try r.check(readData: readData) { n, total in
                progress.setTotal(files: total, bytes: nil)
                progress.update(done: n, bytes: 0)
            }
            progress.finish()
            if global.json { try Out.summary(CheckJSON(report: rep, rebuiltIndex: rebuilt)) } else {
                for w in rep.warnings { Out.err("cairn: warning: \(w)") }
                for e in rep.errors { Out.line("error: \(e)") }
                for d in rep.damaged {
                    Out.line("damaged block \(d.block)\(d.pack.map { " in \($0)" } ?? "")\(d.offset.map { " at byte offset \($0)" } ?? ""): \(d.problem)")
                    for u in d.usedBy { Out.line("  used by \(u)") }
                }
                if !rep.damagedSnapshots.isEmpty {
                    Out.line("damaged snapshots: \(rep.damagedSnapshots.joined(separator: ", ")) (the lost blocks are recorded: the next snapshot stores them again from intact live data; these older snapshots stay damaged unless it does)")
                }
                Out.line("checked \(rep.snapshots) snapshots, \(rep.trees) trees, \(rep.packs) packs\(readData ? ", \(rep.blocksRead) blocks read" : ""): \(rep.ok ? "no errors" : "\(rep.errors.count + rep.damaged.count) problems")")
            }
            if !rep.ok { throw ExitCode(CairnError.Code.integrity.exitCode) }
        }
    }
}
