// Hooks: shell commands run before and after a snapshot or a restore, per repository and
// per silo (quiesce the application, rebuild an index, tell the user to restart).
//
// Owns: `REPO/hooks.json` (beside `silos.json`; canonical JSON written atomically) and the
// runner. A hook runs as `/bin/sh -c CMD` in its own process group, standard input from
// /dev/null, standard output sent to standard error (so `--json` output stays JSON), with
// CAIRN_OPERATION, CAIRN_HOOK, CAIRN_REPO, CAIRN_SNAPSHOT_ID, CAIRN_SILO and CAIRN_SILO_PATH
// set. Past its timeout (default `Hook.defaultTimeout`) or on Ctrl-C/SIGTERM the whole group
// gets SIGTERM, then SIGKILL two seconds later.
// Crash properties: hooks.json is replaced with one rename; the runner writes nothing.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// When a hook runs.
public enum HookEvent: String, Codable, Sendable, CaseIterable {
    case beforeSnapshot = "before-snapshot"
    case afterSnapshot = "after-snapshot"
    case beforeRestore = "before-restore"
    case afterRestore = "after-restore"

    /// A failing "before" hook stops the operation; a failing "after" hook is a warning.
    public var isBefore: Bool { self == .beforeSnapshot || self == .beforeRestore }
    /// "snapshot" or "restore" (CAIRN_OPERATION).
    public var operation: String { self == .beforeSnapshot || self == .afterSnapshot ? "snapshot" : "restore" }
}

/// One hook: the command and its timeout.
public struct Hook: Codable, Sendable, Equatable {
    /// Seconds a hook may run when no timeout is set.
    public static let defaultTimeout: Double = 300
    public var command: String
    /// Seconds; nil means `defaultTimeout`.
    public var timeout: Double?
    public init(command: String, timeout: Double? = nil) {
        self.command = command
        self.timeout = timeout
    }
}

/// The hooks of a repository (`hooks.json`).
public struct HookTable: Codable, Sendable, Equatable {
    /// Repository hooks by event name.
    public var repository: [String: Hook] = [:]
    /// Silo hooks: silo name -> event name -> hook.
    public var silos: [String: [String: Hook]] = [:]
    public init() {}

    /// The hooks to run for `event` over `silos`, in order: "before" hooks run the repository
    /// hook first, then each silo's; "after" hooks run in the reverse order.
    func plan(_ event: HookEvent, silos names: [String]) -> [(silo: String?, hook: Hook)] {
        var out: [(silo: String?, hook: Hook)] = []
        if let h = repository[event.rawValue] { out.append((nil, h)) }
        for n in names { if let h = silos[n]?[event.rawValue] { out.append((n, h)) } }
        return event.isBefore ? out : out.reversed()
    }
}

extension Repository {
    var hooksPath: String { (layout.remote ? layout.state : root) + "/hooks.json" }

    /// The stored hooks (empty when none are set).
    public func hooks() throws -> HookTable {
        guard FS.exists(hooksPath) else { return HookTable() }
        do { return try JSONDecoder().decode(HookTable.self, from: Data(try FS.readAll(hooksPath))) } catch let e as CairnError { throw e } catch {
            throw CairnError(.integrity, "\(hooksPath) cannot be parsed (\(error)); fix it or remove it and set the hooks again", path: hooksPath)
        }
    }

    /// Sets (or, with a nil command, removes) a hook of the repository or of `silo`.
    public func setHook(_ event: HookEvent, command: String?, silo: String? = nil, timeout: Double? = nil) throws {
        if let t = timeout, !(t > 0 && t <= 86_400) {
            throw CairnError(.invalidInput, "hook timeout \(t) is out of range; give 1 to 86400 seconds")
        }
        if let c = command, c.isEmpty || c.utf8.count > 4096 {
            throw CairnError(.invalidInput, "hook command must be 1 to 4096 bytes")
        }
        var t = try hooks()
        let hook = command.map { Hook(command: $0, timeout: timeout) }
        if let s = silo {
            _ = try self.silo(s)
            var m = t.silos[s] ?? [:]
            m[event.rawValue] = hook
            t.silos[s] = m.isEmpty ? nil : m
        } else {
            t.repository[event.rawValue] = hook
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FS.atomicWrite(hooksPath, Array(try enc.encode(t)) + [10])
    }

    /// Runs the hooks for `event` over `silos`. A failing "before" hook throws `hookFailed`;
    /// a failing "after" hook is returned as a warning line.
    func runHooks(_ event: HookEvent, silos: [String], snapshotId: String?) throws -> [String] {
        let all = try self.silos()
        var warnings: [String] = []
        for (siloName, hook) in try hooks().plan(event, silos: silos) {
            var env = ["CAIRN_OPERATION": event.operation, "CAIRN_HOOK": event.rawValue, "CAIRN_REPO": root,
                       "CAIRN_SNAPSHOT_ID": snapshotId ?? ""]
            if let s = siloName {
                env["CAIRN_SILO"] = s
                env["CAIRN_SILO_PATH"] = all.first { $0.name == s }?.path ?? ""
            } else {
                env["CAIRN_SILO"] = silos.joined(separator: " ")
                env["CAIRN_SILO_PATH"] = ""
            }
            let who = siloName.map { "of silo '\($0)'" } ?? "of the repository"
            if let failure = try HookRunner.run(hook, environment: env) {
                let text = "hook \(event.rawValue) \(who) (`\(hook.command)`) \(failure)"
                if event.isBefore {
                    throw CairnError(.hookFailed, "\(text); the \(event.operation) did not start and nothing was written; fix the hook or remove it with `cairn hook \(siloName == nil ? "" : "--silo \(siloName!) ")clear \(event.rawValue)`")
                }
                warnings.append("\(text); the \(event.operation) itself succeeded")
            }
        }
        return warnings
    }
}

/// Runs one hook process.
enum HookRunner {
    /// Runs `hook`; nil when it exited 0, else what went wrong ("exited with status 3").
    static func run(_ hook: Hook, environment: [String: String]) throws -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", hook.command]
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.standardError
        p.standardError = FileHandle.standardError
        do { try p.run() } catch { return "cannot be started (\(error))" }
        let pid = p.processIdentifier  // Foundation starts it in its own process group
        let stop: @Sendable () -> Void = { kill(-pid, SIGTERM); kill(pid, SIGTERM) }
        let timeout = hook.timeout ?? Hook.defaultTimeout
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        try Cancellation.onRequest(stop) {
            while p.isRunning {
                if !timedOut && Date() >= deadline {
                    timedOut = true
                    stop()
                    let grace = Date().addingTimeInterval(2)
                    while p.isRunning && Date() < grace { usleep(10_000) }
                    if p.isRunning { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
                }
                usleep(10_000)
            }
        }
        p.waitUntilExit()
        if timedOut { return "timed out after \(Int(timeout)) seconds and was killed with its process group" }
        if p.terminationReason == .uncaughtSignal { return "was killed by signal \(p.terminationStatus)" }
        return p.terminationStatus == 0 ? nil : "exited with status \(p.terminationStatus)"
    }
}
