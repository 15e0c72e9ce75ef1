// `cairn --generate-manual`: the cairn(1) manual page in roff (man macros), generated from
// the argument parser's own help for every command, plus the exit codes of CairnError.Code.
// Scripts/demo.sh installs it. (swift-argument-parser's generate-manual plugin needs a
// package build of its tool; this keeps the page one command away, offline.)

import ArgumentParser
import CairnCore

enum Manual {
    /// What each exit code means (the EXIT STATUS section; Docs/CLI.md has the same table).
    static func meaning(_ c: CairnError.Code) -> String {
        switch c {
        case .internalError: return "internal error"
        case .partial: return "partial snapshot: some files were skipped or stored with a warning"
        case .repositoryNotFound: return "no repository at the path"
        case .unsupportedFormat: return "repository format version or algorithm not supported"
        case .locked: return "repository locked by another process"
        case .notFound: return "unknown silo, snapshot or path"
        case .ambiguous: return "ambiguous snapshot prefix"
        case .integrity: return "integrity problem (damaged or missing block, check failed)"
        case .noSpace: return "no space left"
        case .io: return "other I/O error"
        case .invalidInput: return "invalid input (bad reference, argument or archive)"
        case .siloFailed: return "a silo failed; the other silos were snapshotted"
        case .alreadyExists: return "already exists"
        case .busy: return "the index or the restore journal was busy beyond the timeout"
        case .filesInUse: return "processes hold silo files open (restore refused without --force)"
        case .metadataMismatch: return "the snapshot's or archive's application metadata does not match --require-meta"
        case .hookFailed: return "a before-snapshot or before-restore hook failed or timed out; nothing was written"
        case .accessDenied: return "the repository's storage refused access (permissions, S3 credentials or policy)"
        case .unreachable: return "the repository's storage did not answer (after retries)"
        case .clockSkew: return "the storage refused the request because this machine's clock is off"
        case .usage: return "command-line usage error"
        case .interrupted: return "interrupted by SIGINT (Ctrl-C); partial files removed"
        case .terminated: return "terminated by SIGTERM; partial files removed"
        }
    }

    static func page() -> String {
        var out = ".TH CAIRN 1 \"\" \"cairn \(Cairn.version)\" \"User Commands\"\n"
        out += ".SH NAME\ncairn \\- \(roff(CairnCommand.configuration.abstract))\n"
        out += ".SH SYNOPSIS\n.B cairn\n[\\fB\\-\\-repo\\fR \\fIDIR\\fR] [\\fB\\-\\-json\\fR] [\\fB\\-\\-wait\\fR \\fISECONDS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n"
        out += ".SH DESCRIPTION\n\(roff(CairnCommand.configuration.discussion))\n"
        out += ".SH COMMANDS\n"
        for (path, type) in commands(CairnCommand.self, path: []) {
            out += ".SS \(roff(path.joined(separator: " ")))\n"
            out += ".nf\n" + block(CairnCommand.helpMessage(for: type, columns: 78)) + ".fi\n"
        }
        out += ".SH ENVIRONMENT\n.TP\n.B CAIRN_REPO\nThe repository when \\fB\\-\\-repo\\fR is not given.\n"
        out += ".TP\n.B CAIRN_PROGRESS_AFTER\nSeconds of work before the progress line appears (default 1).\n"
        out += ".SH EXIT STATUS\n"
        out += ".TP\n.B 0\nsuccess\n"
        for c in CairnError.Code.allCases.sorted(by: { $0.exitCode < $1.exitCode }) {
            out += ".TP\n.B \(c.exitCode)\n\(roff(c.rawValue)): \(roff(meaning(c)))\n"
        }
        out += ".SH SHELL COMPLETION\n.nf\ncairn \\-\\-generate\\-completion\\-script bash > /etc/bash_completion.d/cairn\ncairn \\-\\-generate\\-completion\\-script zsh  > ~/.zfunc/_cairn\ncairn \\-\\-generate\\-completion\\-script fish > ~/.config/fish/completions/cairn.fish\n.fi\n"
        out += ".SH SEE ALSO\nDocs/CLI.md and Docs/JSON.md in the Cairn sources.\n"
        return out
    }

    /// Every command below `type` (depth first), with its name path.
    static func commands(_ type: any ParsableCommand.Type, path: [String]) -> [([String], any ParsableCommand.Type)] {
        var out: [([String], any ParsableCommand.Type)] = []
        for sub in type.configuration.subcommands {
            let p = path + [Argv.commandName(sub)]
            out.append((p, sub))
            out += commands(sub, path: p)
        }
        return out
    }

    /// Text safe in a roff paragraph: backslashes escaped, no line starting with a control character.
    static func roff(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\e").split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : String(line)
        }.joined(separator: "\n")
    }

    /// Preformatted lines (help text), each made safe.
    static func block(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).map { roff(String($0)) + "\n" }.joined()
    }
}
