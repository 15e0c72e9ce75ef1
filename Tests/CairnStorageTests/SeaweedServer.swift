// A SeaweedFS of a test's own (distinct ports, own data folder), managed through
// Scripts/seaweedfs.sh by pid: for tests that restart, kill or configure the server.

import CairnStorage
import Foundation
import Testing

final class SeaweedServer: @unchecked Sendable {
    let state: String
    let config: String?
    private(set) var endpoint = ""

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/seaweedfs.sh").path
    }

    /// Starts a server; `identities` (an -s3.config JSON) turns SigV4 checking on.
    static func start(identities: String? = nil) async throws -> SeaweedServer {
        let s = try SeaweedServer(identities: identities)
        try await s.start()
        return s
    }

    private init(identities: String?) throws {
        state = try TempDir.make() + "/weed"
        if let identities {
            let p = state + ".identities.json"
            try identities.write(toFile: p, atomically: true, encoding: .utf8)
            config = p
        } else {
            config = nil
        }
    }

    /// (Re)starts on the same data and ports, on a thread of its own (the script takes seconds;
    /// the concurrency pool stays free).
    func start() async throws {
        let args = ["start", state] + (config.map { [$0] } ?? [])
        let ok: Bool = await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: (try? Self.run(args)) != nil) }
        }
        guard ok else { throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "Scripts/seaweedfs.sh start failed; see \(state)/weed.log"]) }
        endpoint = try String(contentsOfFile: state + "/endpoint", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A server enforcing `identities` whose bucket exists and takes writes, with `first` stored
    /// through the backend `backend(server)` returns. A server that still answers 500 after two
    /// minutes (its volume never came up: seen once under CI load) is replaced by a fresh one,
    /// twice at most; the end of its log is printed so the cause stays visible.
    static func startWritable(identities: String, first: ObjectHandle, _ backend: (SeaweedServer) throws -> S3Backend) async throws -> (SeaweedServer, S3Backend) {
        var lastError: (any Error)?
        for attempt in 1...3 {
            let server = try await start(identities: identities)
            let b = try backend(server)
            do {
                try await b.createBucket()
                try await putWhenReady(b, first, bytes: [1], within: 120)
                return (server, b)
            } catch {
                lastError = error
                print("note: SeaweedFS server \(attempt) never took writes (\(error)); its log ends with:\n\(server.logTail())")
                server.stop()
            }
        }
        throw lastError!
    }

    /// The last lines of the server's log.
    func logTail(_ lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: state + "/weed.log", encoding: .utf8)) ?? "(no log)"
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// SIGKILL, keeping the data (a crash).
    func kill() throws { _ = try Self.run(["kill", state]) }

    func stop() { _ = try? Self.run(["stop", state]) }

    deinit { stop() }

    /// Runs the script; its output goes to /dev/null (a pipe would be held open by the server it
    /// starts), results are read from STATE files.
    static func run(_ args: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = (["/bin/bash", script] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ) == 0 else { throw POSIXError(.EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "seaweedfs.sh \(args.first ?? "") failed (status \(status))"])
        }
    }
}

/// Runs S3 tests that start their own servers only where SeaweedFS tests run at all.
func ownServerAllowed() -> Bool { S3Env.require() != nil }
