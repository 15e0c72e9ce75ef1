import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The command-line conventions of Docs/CLI.md: global options anywhere, one error format with
/// suggestions, one meaning per exit code, the manual page and shell completion.
@Suite struct CLIConventionTests {
    func cli(_ args: [String], env: [String: String] = [:]) throws -> RunResult { try run(cairnBinary(), args, env: env) }

    @Test func globalOptionsBeforeOrAfterTheSubcommand() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        try writeFile(t.sub("s/a.txt"), Array("a".utf8))
        #expect(try cli(["--repo", repo, "init"]).status == 0)
        #expect(try cli(["--repo=\(repo)", "silo", "add", "s", t.sub("s")]).status == 0)
        #expect(try cli(["--repo", repo, "--json", "snapshot"]).status == 0)
        let list = try cli(["--json", "--repo", repo, "list"])
        #expect(list.status == 0, "\(list.stderr)")
        guard case .array(let snaps)? = parseJSON(list.stdout) else { Issue.record("not a JSON array: \(list.stdout)"); return }
        #expect(snaps.count == 1)
        #expect(try cli(["--wait", "5", "--repo", repo, "prune"]).status == 0)
        #expect(try cli(["--repo", repo, "policy", "set", "--keep-last", "2"]).status == 0)
        #expect(parseJSON(try cli(["--repo", repo, "policy", "--json", "show"]).stdout)?["keepLast"]?.int == 2)
        #expect(parseJSON(try cli(["--json", "silo", "list", "--repo", repo]).stdout) != nil)
        // After `--`, nothing is moved; and options keep working after the subcommand.
        #expect(try cli(["list", "--repo", repo, "--json"]).status == 0)
    }

    @Test func usageErrorsAreOneLineWithSuggestion() throws {
        let cases: [([String], String, String)] = [
            (["lst"], "did you mean `list`?", "see `cairn help`"),
            (["list", "--jsn"], "did you mean `--json`?", "see `cairn help list`"),
            (["silo", "ad", "x"], "did you mean `add`?", "see `cairn help silo`"),
            (["policy", "sho"], "did you mean `show`?", "see `cairn help policy`"),
            (["help", "nope"], "no command 'nope'", "see `cairn help`"),
            (["help", "silo", "rmove"], "did you mean `remove`?", "see `cairn help silo`"),
            (["restore", "latest", "--dryrun"], "did you mean `--dry-run`?", "see `cairn help restore`"),
        ]
        for (args, suggestion, more) in cases {
            let r = try cli(args)
            #expect(r.status == 64, "\(args)")
            #expect(r.stdout.isEmpty, "\(args)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("cairn: error: "), "\(args): \(r.stderr)")
            #expect(r.stderr.contains(suggestion) && r.stderr.contains(more), "\(args): \(r.stderr)")
        }
        let help = try cli(["help", "silo", "add"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: cairn silo add"))
    }

    @Test func exitCodesAreDistinctAndDocumented() throws {
        let codes = CairnError.Code.allCases
        #expect(Set(codes.map(\.exitCode)).count == codes.count, "two codes share an exit code")
        #expect(!codes.contains { $0.exitCode == 0 })
        let doc = String(decoding: try FS.readAll(packageRoot() + "/Docs/CLI.md"), as: UTF8.self)
        for c in codes {
            #expect(doc.contains("| \(c.exitCode) | `\(c.rawValue)` |"), "Docs/CLI.md does not document exit code \(c.exitCode) (\(c.rawValue))")
        }
        #expect(CairnError.Code.busy.exitCode != CairnError.Code.filesInUse.exitCode)
        #expect(CairnError.Code.interrupted.exitCode == 130 && CairnError.Code.terminated.exitCode == 143)
        #expect(CairnError.Code.usage.exitCode == 64)
        // The manual page lists them too.
        let man = try cli(["--generate-manual"]).stdout
        for c in codes { #expect(man.contains(".B \(c.exitCode)\n\(c.rawValue):"), "man page lacks \(c.exitCode)") }
    }

    @Test func errorsUnderJSONAreOneObject() throws {
        let t = TempDir(); defer { t.remove() }
        let r = try cli(["--json", "show", "latest", "--repo", t.sub("none")])
        #expect(r.status == 10)
        let o = try #require(parseJSON(r.stdout.trimmingCharacters(in: .newlines)), "\(r.stdout)")
        #expect(o["type"]?.string == "error" && o["code"]?.string == "repository-not-found" && o["exitCode"]?.int == 10)
        #expect(o["path"]?.string == t.sub("none"))
        #expect(r.stderr.isEmpty)
        let cat = try cli(["cat", "latest", "s/x", "--json", "--repo", t.sub("none")])
        #expect(cat.status == 18 && parseJSON(cat.stdout)?["message"]?.string?.contains("--json does not apply") == true, "\(cat.stdout)")
    }

    @Test func manualPageAndCompletion() throws {
        let man = try cli(["--generate-manual"])
        #expect(man.status == 0)
        #expect(man.stdout.hasPrefix(".TH CAIRN 1"))
        for section in [".SH SYNOPSIS", ".SH COMMANDS", ".SS silo add", ".SS policy set", ".SS restore", ".SH EXIT STATUS", ".SH SHELL COMPLETION"] {
            #expect(man.stdout.contains(section), "man page lacks \(section)")
        }
        // No line of the page starts with a stray control character (every help line is escaped).
        let macros: Set<String> = [".TH", ".SH", ".SS", ".B", ".TP", ".nf", ".fi"]
        for line in man.stdout.split(separator: "\n") where line.hasPrefix(".") || line.hasPrefix("'") {
            #expect(macros.contains(String(line.split(separator: " ").first ?? "")), "unexpected roff request: \(line)")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") {
            let t = TempDir(); defer { t.remove() }
            try writeFile(t.sub("cairn.1"), Array(man.stdout.utf8))
            let text = try sh("groff -man -Tutf8 -ww '\(t.sub("cairn.1"))' 2>&1 >/dev/null")
            #expect(text.stdout.isEmpty, "groff warnings: \(text.stdout)")
        }
        for (shell, marker) in [("bash", "complete"), ("zsh", "#compdef cairn"), ("fish", "complete -c 'cairn'")] {
            let r = try cli(["--generate-completion-script", shell])
            #expect(r.status == 0 && r.stdout.contains(marker) && r.stdout.contains("snapshot"), "\(shell): \(r.stderr)")
        }
    }
}
