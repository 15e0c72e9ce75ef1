// The `cairn` command-line tool: a thin layer over CairnCore. `main` installs the signal
// thread (Signals.swift), hoists global options (Arguments.swift), runs the command, and
// turns every failure into the one error format and its exit code (Output.swift,
// Docs/CLI.md). Progress for long commands is in Progress.swift.

import ArgumentParser
import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct CairnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Content-addressed incremental snapshots of application data silos.",
        discussion: """
            Global options (--repo, --json, --wait) may be given before or after the subcommand. \
            Errors are one line on stderr, `cairn: error: MESSAGE`; under --json one error object (Docs/JSON.md). \
            Exit codes are listed in the EXIT STATUS section of the manual page and in Docs/CLI.md.
            """,
        version: Cairn.version,
        subcommands: [Init.self, SiloCommand.self, SnapshotCmd.self, ListCmd.self, ShowCmd.self, LsCmd.self, CatCmd.self,
                      StatsCmd.self, EstimateCmd.self, CheckCmd.self, RestoreCmd.self, DiffCmd.self,
                      ForgetCmd.self, PolicyCommand.self, HookCommand.self, PruneCmd.self, UnlockCmd.self, MigrateCmd.self,
                      ExportCmd.self, InspectCmd.self, ImportCmd.self, CopyCmd.self, ServeCmd.self, FindCmd.self, TagCmd.self]
    )
}

@main
enum Main {
    static func main() {
        Signals.install()
        let argv = Argv(Array(CommandLine.arguments.dropFirst()), root: CairnCommand.self)
        Out.jsonMode = argv.json
        let code = run(argv)
        Out.flush()
        exit(code)
    }

    /// Runs the command line; returns the exit code.
    static func run(_ argv: Argv) -> Int32 {
        do {
            if argv.path.isEmpty, let first = argv.rest.first {
                if first == "--generate-manual" { Out.write(1, Manual.page()); return 0 }
                if first == "help" { return try help(Array(argv.rest.dropFirst())) }
            }
            if let word = argv.unknownCommand { throw unknownCommand(word, under: argv.path) }
            var command = try CairnCommand.parseAsRoot(argv.arguments)
            try Signals.token.run { try command.run() }
            return 0
        } catch {
            return Report.exitCode(for: error, argv: argv)
        }
    }

    /// `cairn help [COMMAND...]`: the command's help, or a usage error for an unknown command.
    static func help(_ words: [String]) throws -> Int32 {
        var path: [String] = []
        var level: any ParsableCommand.Type = CairnCommand.self
        for w in words where !w.hasPrefix("-") {
            guard let next = Argv.command(at: path + [w], root: CairnCommand.self) else { throw unknownCommand(w, under: path) }
            path.append(w)
            level = next
        }
        Out.write(1, CairnCommand.helpMessage(for: level) + "\n")
        return 0
    }

    /// The usage error for a word that names no subcommand of the group at `path`.
    static func unknownCommand(_ word: String, under path: [String]) -> CairnError {
        let group = Argv.command(at: path, root: CairnCommand.self) ?? CairnCommand.self
        let near = Suggest.nearest(word, in: Suggest.subcommands(of: group).filter { $0 != "help" })
        let name = (["cairn"] + path).joined(separator: " ")
        let more = (["cairn", "help"] + path).joined(separator: " ")
        return CairnError(.usage, "`\(name)` has no command '\(word)'\(near.map { "; did you mean `\($0)`?" } ?? ""); see `\(more)`")
    }
}

/// Options every command takes (before or after the subcommand).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Repository folder (default: $CAIRN_REPO).")
    var repo: String?

    @Flag(name: .long, help: "Machine-readable JSON output (Docs/JSON.md).")
    var json = false

    @Option(name: .long, help: "Seconds to wait for a repository lock held by another process.")
    var wait: Double = 60

    func repoPath() throws -> String {
        var path: String?
        if let r = repo, !r.isEmpty { path = r } else if let e = ProcessInfo.processInfo.environment["CAIRN_REPO"], !e.isEmpty { path = e }
        guard let path else { throw CairnError(.repositoryNotFound, "no repository given; pass --repo DIR or set CAIRN_REPO") }
        Cleanup.repository(path)
        return path
    }

    /// Opens the repository and takes the shared lock.
    func open(_ command: String) throws -> Repository {
        let r = try Repository.open(at: try repoPath())
        // Format 3 keeps temporaries in the per-host state folder: a signal removes this process's there too.
        if r.layout.state != r.root { Cleanup.repository(r.layout.state) }
        if let note = r.recoveryReport { Out.err("cairn: note: \(note)") }
        try r.lock(.shared, wait: wait, command: command)
        return r
    }
}

/// Runs a command body. Errors go up to `main`, which prints them in the one format.
func guarded(_ body: () throws -> Void) throws { try body() }

/// Human byte sizes (binary units); one formatter for every command.
func human(_ n: UInt64) -> String { ByteFormat.human(n) }

func formatTime(_ ns: Int64) -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: Double(ns) / 1e9))
}
