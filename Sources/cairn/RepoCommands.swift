import ArgumentParser
import CairnCore
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a new repository.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try guarded {
            let r = try Repository.create(at: try global.repoPath())
            if global.json {
                struct InitJSON: Encodable { var repository: String; var id: String; var version: Int }
                try Out.json(InitJSON(repository: r.root, id: r.config.id, version: Int(r.config.version)))
            } else {
                Out.line("created repository \(r.root) (id \(r.config.id.prefix(12)), format \(r.config.version), chunker \(r.config.chunker.name) \(r.config.chunker.minSize)/\(r.config.chunker.avgSize)/\(r.config.chunker.maxSize))")
            }
        }
    }
}

struct SiloCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "silo", abstract: "Register, list and remove silos.",
                                                    subcommands: [Add.self, List.self, Remove.self, Exclude.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a directory, a single file, or a command's output as a silo.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Silo name.") var name: String
        @Argument(help: "Directory or file.") var path: String?
        @Option(name: .long, help: "Pattern of paths to leave out (repeatable; Docs/CLI.md \"Exclude patterns\").") var exclude: [String] = []
        @Option(name: .customLong("exclude-file"), help: "File of exclude patterns, one per line (repeatable; stored with the silo).") var excludeFile: [String] = []
        @Option(name: .long, help: "Shell command whose standard output is the silo's one file.") var command: String?
        @Option(name: .long, help: "File name for the command's output.") var filename: String?
        @Option(name: .long, help: "Command silos: seconds the command may run before it and its process group are killed (default 3600).") var timeout: Double?
        @Flag(name: .customLong("no-trial"), help: "Command silos: do not run the command once now to prove it works.") var noTrial = false
        @Option(name: .customLong("before-snapshot"), help: "Hook: shell command run before each snapshot of this silo; failing stops it.") var beforeSnapshot: String?
        @Option(name: .customLong("after-snapshot"), help: "Hook: shell command run after each snapshot of this silo.") var afterSnapshot: String?
        @Option(name: .customLong("before-restore"), help: "Hook: shell command run before an in-place restore of this silo; failing stops it.") var beforeRestore: String?
        @Option(name: .customLong("after-restore"), help: "Hook: shell command run after an in-place restore of this silo.") var afterRestore: String?

        func run() throws {
            try guarded {
                let r = try global.open("silo add")
                let silo: Silo
                if let c = command {
                    guard path == nil else { throw CairnError(.invalidInput, "give either PATH or --command, not both") }
                    guard exclude.isEmpty && excludeFile.isEmpty else { throw CairnError(.invalidInput, "--exclude and --exclude-file apply to path silos only") }
                    var s = Silo(name: name, command: c, filename: filename ?? "")
                    if let t = timeout { try CommandSilo.validate(timeout: t); s.timeout = t }
                    silo = s
                } else {
                    guard timeout == nil else { throw CairnError(.invalidInput, "--timeout applies to command silos (--command) only") }
                    guard let p = path else { throw CairnError(.invalidInput, "give the silo's PATH, or --command CMD --filename NAME") }
                    silo = Silo(name: name, path: p, excludes: exclude + (try excludeFile.flatMap { try ExcludeFile.storablePatterns($0) }))
                }
                let hooks: [(HookEvent, String?)] = [(.beforeSnapshot, beforeSnapshot), (.afterSnapshot, afterSnapshot),
                                                     (.beforeRestore, beforeRestore), (.afterRestore, afterRestore)]
                if silo.kind == .command && !noTrial {
                    let bytes = try CommandSilo.trial(silo, repository: r)
                    if !global.json { Out.err("cairn: command `\(silo.command ?? "")` ran once and wrote \(human(bytes)) (nothing stored)") }
                }
                try r.addSilo(silo)
                for case let (event, command?) in hooks { try r.setHook(event, command: command, silo: name) }
                let s = try r.silo(name)
                if global.json { try Out.json(s) } else { Out.line("added silo \(name): \(s.path ?? "command `\(s.command ?? "")` -> \(s.filename ?? "")")") }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List silos.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            try guarded {
                let silos = try global.open("silo list").silos()
                if global.json { try Out.json(silos); return }
                for s in silos {
                    let src = s.kind == .command ? "command `\(s.command ?? "")` -> \(s.filename ?? "")" : (s.path ?? "")
                    Out.line("\(s.name)\t\(src)" + (s.excludes.isEmpty ? "" : "\texclude: \(s.excludes.joined(separator: ", "))"))
                }
            }
        }
    }

    struct Exclude: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a path silo's exclude patterns (added ones go last: later patterns win).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Silo name.") var name: String
        @Option(name: .long, help: "Pattern to add (repeatable).") var add: [String] = []
        @Option(name: .customLong("add-file"), help: "File of patterns to add, one per line (repeatable).") var addFile: [String] = []
        @Option(name: .long, help: "Pattern to remove, exactly as listed by `silo list` (repeatable).") var remove: [String] = []
        @Flag(name: .long, help: "Remove every pattern first.") var clear = false

        func run() throws {
            try guarded {
                let r = try global.open("silo exclude")
                let added = add + (try addFile.flatMap { try ExcludeFile.storablePatterns($0) })
                let s = try r.editSiloExcludes(name, clear: clear, remove: remove, add: added)
                if global.json { try Out.json(s) } else {
                    Out.line("silo \(name): " + (s.excludes.isEmpty ? "no exclude patterns" : "exclude \(s.excludes.joined(separator: ", "))"))
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unregister a silo (its snapshots stay).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        func run() throws {
            try guarded {
                try global.open("silo remove").removeSilo(name)
                if global.json { try Out.json(["removed": name]) } else { Out.line("removed silo \(name)") }
            }
        }
    }
}

struct SnapshotCmd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshot", abstract: "Snapshot all silos, or those named.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Silo to snapshot (repeatable; default all).") var silo: [String] = []
    @Option(name: .long, help: "Tag (repeatable).") var tag: [String] = []
    @Option(name: .long, help: "Message.") var message: String = ""
    @Option(name: .long, help: "Seconds each command silo may run before it and its process group are killed (overrides the silo's own; default 3600).") var timeout: Double?
    @Option(name: .long, help: ArgumentHelp("Application metadata KEY=VALUE (repeatable; keys a-z 0-9 _ . -).", valueName: "key=value")) var meta: [String] = []
    @OptionGroup var walk: WalkFlags
    @Flag(name: .customLong("skip-if-unchanged"), help: "Record nothing when no silo changed since its latest snapshot (exit 0, says so).") var skipIfUnchanged = false

    func run() throws {
        try guarded {
            if let t = timeout { try CommandSilo.validate(timeout: t) }
            let pairs = try SnapshotMeta.parse(meta, option: "--meta")
            let r = try global.open("snapshot")
            let walkOptions = try walk.options()
            let progress = Progress("snapshot")
            if progress.enabled {
                let est = try r.estimate(silos: silo, options: walkOptions)
                progress.setTotal(files: est.reduce(0) { $0 + $1.files }, bytes: est.reduce(0) { $0 + $1.changedBytes })
            }
            let session = CairnSession(opened: r)
            session.onWarning = { Out.err("cairn: warning: \($0)") }
            let outcome = try session.snapshot(silos: silo, tags: tag, message: message, meta: pairs, commandTimeout: timeout) { s in
                s.onProgress = { p in progress.update(done: p.files, bytes: p.bytesRead, current: p.currentPath) }
                s.options.excludes = walkOptions.excludes
                s.options.oneFileSystem = walkOptions.oneFileSystem
                s.options.skipIfUnchanged = skipIfUnchanged
            }
            let res = outcome.result
            progress.finish()
            for w in res.warnings { Out.err("cairn: warning: \(w)") }
            for (_, why) in res.failedSilos.sorted(by: { $0.key < $1.key }) { Out.err("cairn: error: \(why)") }
            if let since = res.unchangedSince {
                struct SkippedJSON: Encodable { var skipped = true; var unchangedSince: String }
                if global.json { try Out.summary(SkippedJSON(unchangedSince: since.id)) }
                else { Out.line("nothing changed since snapshot \(since.shortId); no snapshot recorded") }
                return
            }
            if let snap = res.snapshot {
                if global.json {
                    try Out.summary(SnapshotJSON(snap, filesRead: res.filesRead, bytesRead: res.bytesRead, failed: res.failedSilos))
                } else {
                    let files = snap.record.silos.reduce(0) { $0 + $1.files }
                    let bytes = snap.record.silos.reduce(UInt64(0)) { $0 + $1.bytes }
                    Out.line("snapshot \(snap.shortId) saved: \(snap.record.silos.count) silos, \(files) files, \(human(bytes)); read \(res.filesRead) files (\(human(res.bytesRead))), added \(human(snap.record.bytesAdded)) in \(res.stats.blocksAdded) new blocks")
                }
            } else if global.json {
                try Out.summary(["failedSilos": res.failedSilos])
            }
            if let p = outcome.policy { printPolicyRemovals(p, json: global.json) }
            if !res.failedSilos.isEmpty { throw ExitCode(CairnError.Code.siloFailed.exitCode) }
            if !res.warnings.isEmpty { throw ExitCode(CairnError.Code.partial.exitCode) }
        }
    }
}

/// JSON view of a snapshot.
struct SnapshotJSON: Encodable {
    var id: String
    var time: String
    var timeNs: Int64
    var hostname: String
    var tags: [String]
    var message: String
    var parent: String?
    var silos: [SiloSnapshot]
    var bytesAdded: UInt64
    var partial: Bool
    var filesRead: Int?
    var bytesRead: UInt64?
    var failedSilos: [String: String]?
    var meta: [String: String]?
    /// Set on snapshots made by `cairn copy`: the source repository and snapshot.
    var copied: CopyOrigin?

    init(_ s: Snapshot, filesRead: Int? = nil, bytesRead: UInt64? = nil, failed: [String: String]? = nil) {
        id = s.id
        time = ISO8601DateFormatter().string(from: s.record.date)
        timeNs = s.record.timeNs
        hostname = s.record.hostname
        tags = s.record.tags
        message = s.record.message
        parent = s.record.parent
        silos = s.record.silos
        bytesAdded = s.record.bytesAdded
        partial = s.record.partial
        self.filesRead = filesRead
        self.bytesRead = bytesRead
        failedSilos = failed
        meta = s.record.meta
        copied = s.record.copied
    }
}

/// Options of the tree walk shared by `snapshot` and `estimate`.
struct WalkFlags: ParsableArguments {
    @Option(name: .customLong("exclude-file"), help: "File of exclude patterns, one per line, added after each silo's own (repeatable).") var excludeFile: [String] = []
    @Flag(name: .customLong("one-file-system"), help: "Do not descend into directories on another file system (mount points are kept, empty).") var oneFileSystem = false

    /// The walk options, with the exclude files read.
    func options() throws -> SnapshotOptions {
        var o = SnapshotOptions()
        o.excludes = try ExcludeFile.matcher(excludeFile)
        o.oneFileSystem = oneFileSystem
        return o
    }
}
