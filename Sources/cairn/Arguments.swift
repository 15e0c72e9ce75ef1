// Command-line conventions before the argument parser sees argv: global options
// (`--repo`, `--json`, `--wait`) may come before or after the subcommand, and usage
// errors get a suggestion for a near-miss subcommand or option.
//
// ArgumentParser only accepts a subcommand's options after the subcommand's name, so
// `Argv.hoist` moves global options found before the end of the subcommand path to just
// after it (`cairn --repo X silo add ...` -> `cairn silo add --repo X ...`). Nothing after
// the path (or after `--`) is moved: an option value that looks like `--json` stays a value.

import ArgumentParser

/// The command line, split into the subcommand path and the rest, with global options hoisted.
struct Argv {
    /// Global options of `GlobalOptions`: name -> takes a value.
    static let globals: [String: Bool] = ["--repo": true, "--json": false, "--wait": true]

    /// The arguments to hand to the parser.
    var arguments: [String]
    /// The subcommand names given (e.g. ["silo", "add"]); empty for the root.
    var path: [String]
    /// `--json` was given (anywhere before `--`).
    var json: Bool
    /// The first word where a subcommand name was expected but none matched, if any.
    var unknownCommand: String?
    /// What follows the subcommand path and the hoisted options.
    var rest: [String]

    /// Splits `args` (without the program name) using the command tree under `root`.
    init(_ args: [String], root: any ParsableCommand.Type) {
        var hoisted: [String] = []
        var path: [String] = []
        var level: any ParsableCommand.Type = root
        var i = 0
        var unknown: String?
        scan: while i < args.count {
            let a = args[i]
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if let takesValue = Argv.globals[name] {
                hoisted.append(a)
                if takesValue && !a.contains("="), i + 1 < args.count {
                    hoisted.append(args[i + 1])
                    i += 1
                }
                i += 1
                continue
            }
            if a.hasPrefix("-") { break scan }
            let subs = level.configuration.subcommands
            if subs.isEmpty { break scan }
            guard let next = subs.first(where: { Argv.commandName($0) == a }) else {
                if a != "help" { unknown = a }
                break scan
            }
            path.append(a)
            level = next
            i += 1
        }
        rest = Array(args[i...])
        // Global options belong to leaf commands; a command group (the root, `silo`, `policy`)
        // takes none, so there they are left out (the group prints its help or a usage error).
        arguments = path + (level.configuration.subcommands.isEmpty ? hoisted : []) + rest
        self.path = path
        unknownCommand = unknown
        json = args.prefix(while: { $0 != "--" }).contains("--json")
    }

    /// The name a subcommand is invoked by.
    static func commandName(_ c: any ParsableCommand.Type) -> String {
        c.configuration.commandName ?? Argv.kebab(String(describing: c))
    }

    /// ArgumentParser's default command name: `SiloCommand.Add` -> "add", `UnlockCmd` -> "unlock-cmd".
    static func kebab(_ typeName: String) -> String {
        let last = typeName.split(separator: ".").last.map(String.init) ?? typeName
        var out = ""
        for (i, ch) in last.enumerated() {
            if ch.isUppercase && i > 0 { out.append("-") }
            out.append(contentsOf: ch.lowercased())
        }
        return out
    }

    /// The command type at `path` under `root` (nil when a name does not match).
    static func command(at path: [String], root: any ParsableCommand.Type) -> (any ParsableCommand.Type)? {
        var level: any ParsableCommand.Type = root
        for p in path {
            guard let next = level.configuration.subcommands.first(where: { commandName($0) == p }) else { return nil }
            level = next
        }
        return level
    }
}

/// "Did you mean" suggestions by edit distance.
enum Suggest {
    /// The candidate closest to `word`, when it is close enough to be a typo.
    static func nearest(_ word: String, in candidates: [String]) -> String? {
        let w = Array(word.utf8)
        var best: (name: String, distance: Int)?
        for c in candidates {
            let d = distance(w, Array(c.utf8))
            if d < (best?.distance ?? Int.max) { best = (c, d) }
        }
        guard let (c, d) = best else { return nil }
        // A typo: at most a third of the word wrong (and at least one edit allowed), or a prefix.
        if d <= max(1, w.count / 3) || (w.count >= 2 && c.utf8.starts(with: w)) { return c }
        return nil
    }

    /// Levenshtein distance over bytes.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }

    /// Subcommand names under `command`.
    static func subcommands(of command: any ParsableCommand.Type) -> [String] {
        command.configuration.subcommands.map(Argv.commandName) + (command.configuration.subcommands.isEmpty ? [] : ["help"])
    }

    /// Long option names `command` accepts, read from its usage text (`--name`).
    static func options(of command: any ParsableCommand.Type, root: any ParsableCommand.Type) -> [String] {
        let help = root.helpMessage(for: command, columns: 1000)
        var out: Set<String> = ["--help"]
        var word = ""
        for ch in help + " " {
            if ch.isLetter || ch.isNumber || ch == "-" { word.append(ch) } else {
                if word.hasPrefix("--"), word.count > 2 { out.insert(word) }
                word = ""
            }
        }
        return out.sorted()
    }
}
