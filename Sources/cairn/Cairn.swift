// The `cairn` command-line tool: a thin layer over CairnCore. Every command maps
// CairnError codes to the exit codes documented in Docs/CLI.md.

import ArgumentParser
import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
struct CairnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Content-addressed incremental snapshots of application data silos.",
        version: Cairn.version,
        subcommands: [Init.self, SiloCommand.self, SnapshotCmd.self, ListCmd.self, ShowCmd.self, LsCmd.self, CatCmd.self,
                      StatsCmd.self, EstimateCmd.self, CheckCmd.self, RestoreCmd.self, DiffCmd.self,
                      ForgetCmd.self, PolicyCommand.self, PruneCmd.self, UnlockCmd.self,
                      ExportCmd.self, InspectCmd.self, ImportCmd.self, ServeCmd.self]
    )
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Repository folder (default: $CAIRN_REPO).")
    var repo: String?

    @Flag(name: .long, help: "Machine-readable JSON output.")
    var json = false

    @Option(name: .long, help: "Seconds to wait for a repository lock held by another process.")
    var wait: Double = 60

    func repoPath() throws -> String {
        if let r = repo, !r.isEmpty { return r }
        if let e = ProcessInfo.processInfo.environment["CAIRN_REPO"], !e.isEmpty { return e }
        throw CairnError(.repositoryNotFound, "no repository given; pass --repo DIR or set CAIRN_REPO")
    }

    /// Opens the repository and takes the shared lock.
    func open(_ command: String) throws -> Repository {
        let r = try Repository.open(at: try repoPath())
        if let note = r.recoveryReport { Out.err("cairn: note: \(note)") }
        try r.lock(.shared, wait: wait, command: command)
        return r
    }
}

/// Writes to stdout / stderr without Foundation buffering surprises.
enum Out {
    static func line(_ s: String) { print(s) }
    static func err(_ s: String) {
        let b = Array((s + "\n").utf8)
        b.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
    static func json<T: Encodable>(_ v: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try enc.encode(v), as: UTF8.self))
    }
}

/// Runs a command body, turning CairnError into one stderr line and its exit code.
func guarded(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CairnError {
        Out.err("cairn: error: \(e.description)")
        throw ExitCode(e.code.exitCode)
    }
}

/// Human byte sizes (binary units); one formatter for every command.
func human(_ n: UInt64) -> String { ByteFormat.human(n) }

func formatTime(_ ns: Int64) -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: Double(ns) / 1e9))
}

/// A progress line on stderr, shown only on a terminal and only after the first second.
final class ProgressLine {
    let start = Date()
    var last = Date.distantPast
    let enabled = cairnIsTTY(2)
    var shown = false
    var total: UInt64?

    func update(files: Int, bytes: UInt64, label: String = "") {
        guard enabled else { return }
        let now = Date()
        let el = now.timeIntervalSince(start)
        guard el > 1, now.timeIntervalSince(last) > 0.1 else { return }
        last = now
        let rate = Double(bytes) / max(el, 0.001)
        var eta = ""
        if let t = total, t > bytes, rate > 0 {
            let s = Int(Double(t - bytes) / rate)
            eta = String(format: "  ETA %d:%02d", s / 60, s % 60)
        }
        let text = "\r\(label)\(files) files  \(human(bytes))  \(human(UInt64(rate)))/s\(eta)\u{1B}[K"
        Array(text.utf8).withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        shown = true
    }

    func finish() {
        if shown { Array("\r\u{1B}[K".utf8).withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) } }
    }
}

func cairnIsTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }
