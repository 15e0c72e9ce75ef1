// `cairn find` (entries matching a pattern across snapshots) and `cairn tag` (change a
// snapshot's tags: a new record replaces the old one).

import ArgumentParser
import CairnCore
import Foundation

struct FindCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "find", abstract: "Find entries whose path matches a pattern, across snapshots.",
        discussion: "PATTERN is in the exclude-pattern language (Docs/CLI.md, Exclude patterns): '*.db' matches a name at any depth, 'notes/**/draft*' is anchored at the silo root.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Pattern (matched on the bytes of silo-relative paths).") var pattern: String
    @Option(name: .long, help: "Silo to search (repeatable; default all).") var silo: [String] = []
    @Option(name: .long, help: "Snapshot to search (repeatable; default all, oldest first).") var snapshot: [String] = []

    func run() throws {
        try guarded {
            let r = try global.open("find")
            let reader = r.makeReader()
            var found: [LsEntryJSON] = []
            var count = 0
            let iso = ISO8601DateFormatter()
            try r.find(RawArgument.bytes(pattern).bytes, silos: silo, snapshots: snapshot, reader: reader) { f in
                count += 1
                let e = f.entry
                if global.json {
                    var row = LsEntryJSON(silo: f.silo, rel: f.path, entry: e)
                    row.snapshot = f.snapshot.id
                    row.time = iso.string(from: f.snapshot.record.date)
                    found.append(row)
                } else {
                    let name = FileName(utf8: f.silo).appending(f.path).escaped + (e.kind == .directory ? "/" : "")
                    Out.line("\(f.snapshot.shortId)  \(formatTime(f.snapshot.record.timeNs))  \(String(e.size).leftPad(12))  \(name)")
                }
            }
            if global.json { try Out.json(found) } else if count == 0 { Out.err("cairn: no entry matches '\(pattern)'") }
        }
    }
}

struct TagCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Add, remove or set a snapshot's tags.",
        discussion: "Snapshot records are write-once and named by their hash: the retagged snapshot gets a new id (printed); the old record is deleted after the new one is durable.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot reference.") var snapshot: String
    @Option(name: .long, help: "Tag to add (repeatable).") var add: [String] = []
    @Option(name: .long, help: "Tag to remove (repeatable).") var remove: [String] = []
    @Option(name: .long, help: "Replace all tags with these (repeatable; --set '' clears them).") var set: [String] = []

    struct TagJSON: Encodable {
        var id: String
        var replaced: String?
        var tags: [String]
    }

    func run() throws {
        try guarded {
            guard !add.isEmpty || !remove.isEmpty || !set.isEmpty else {
                throw CairnError(.invalidInput, "give --add TAG, --remove TAG or --set TAG")
            }
            guard set.isEmpty || (add.isEmpty && remove.isEmpty) else {
                throw CairnError(.invalidInput, "--set replaces all tags; give it without --add and --remove")
            }
            let r = try global.open("tag")
            let (snap, replaced) = try r.retag(snapshot, add: add, remove: remove, set: set.isEmpty ? nil : set.filter { !$0.isEmpty })
            if global.json { try Out.json(TagJSON(id: snap.id, replaced: replaced, tags: snap.record.tags)); return }
            let tags = snap.record.tags.isEmpty ? "no tags" : "tags " + snap.record.tags.joined(separator: ", ")
            if let old = replaced {
                Out.line("snapshot \(String(old.prefix(12))) is now \(snap.shortId): \(tags)")
            } else {
                Out.line("snapshot \(snap.shortId) unchanged: \(tags)")
            }
        }
    }
}
