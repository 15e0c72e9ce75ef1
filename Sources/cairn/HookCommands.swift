import ArgumentParser
import CairnCore

extension HookEvent: ExpressibleByArgument {}

struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Set, list and clear hooks: commands run before and after snapshots and restores.",
        discussion: "Events: before-snapshot, after-snapshot, before-restore, after-restore. See Docs/CLI.md (Hooks).",
        subcommands: [Set.self, List.self, Clear.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the repository's (or, with --silo, a silo's) hook for an event.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "before-snapshot, after-snapshot, before-restore or after-restore.") var event: HookEvent
        @Argument(help: "Shell command (run with /bin/sh -c).") var command: String
        @Option(name: .long, help: "The silo the hook belongs to (default: the repository).") var silo: String?
        @Option(name: .long, help: "Seconds before the hook is killed with its process group (default 300).") var timeout: Double?
        func run() throws {
            try guarded {
                let r = try global.open("hook set")
                try r.setHook(event, command: command, silo: silo, timeout: timeout)
                if global.json { try Out.json(try r.hooks()) } else { Out.line("hook \(event.rawValue) of \(silo.map { "silo \($0)" } ?? "the repository"): \(command)") }
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a hook.")
        @OptionGroup var global: GlobalOptions
        @Argument var event: HookEvent
        @Option(name: .long, help: "The silo the hook belongs to (default: the repository).") var silo: String?
        func run() throws {
            try guarded {
                let r = try global.open("hook clear")
                try r.setHook(event, command: nil, silo: silo)
                if global.json { try Out.json(try r.hooks()) } else { Out.line("cleared hook \(event.rawValue) of \(silo.map { "silo \($0)" } ?? "the repository")") }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List hooks.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            try guarded {
                let t = try global.open("hook list").hooks()
                if global.json { try Out.json(t); return }
                func line(_ owner: String, _ hooks: [String: Hook]) {
                    for (e, h) in hooks.sorted(by: { $0.key < $1.key }) {
                        Out.line("\(owner)\t\(e)\t\(h.command)\t(timeout \(Int(h.timeout ?? Hook.defaultTimeout)) s)")
                    }
                }
                line("repository", t.repository)
                for (s, hooks) in t.silos.sorted(by: { $0.key < $1.key }) { line("silo \(s)", hooks) }
            }
        }
    }
}
