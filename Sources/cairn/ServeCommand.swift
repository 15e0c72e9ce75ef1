// `cairn serve`: the HTTP API and backup page (Sources/CairnServer, Docs/Server.md).

import ArgumentParser
import CairnCore
import CairnServer
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct ServeCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the repository over HTTP: a JSON API (/api/v1) and a backup page (/).",
        discussion: """
        Listens on 127.0.0.1:8470 by default. Any other address requires --token-file (bearer tokens, \
        stored hashed). Create a token with `cairn serve --add-token NAME --token-file FILE [--read-only]`. \
        For TLS, put a reverse proxy in front (Docs/Server.md).
        """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "HOST:PORT to listen on (PORT 0 picks a free port).") var listen = "127.0.0.1:8470"
    @Option(name: .customLong("token-file"), help: "File of named token hashes (required off loopback).") var tokenFile: String?
    @Option(name: .customLong("add-token"), help: "Create a token NAME in --token-file, print it once, and exit.") var addToken: String?
    @Flag(name: .customLong("read-only"), help: "With --add-token: the token may read but not change anything.") var readOnly = false
    @Option(name: .customLong("state-dir"), help: "Server state folder (jobs, upload spool); default REPO/serve.") var stateDir: String?
    @Option(name: .customLong("max-upload"), help: "Largest accepted upload in bytes.") var maxUpload: UInt64 = 4 << 30
    @Option(name: .long, help: "Repository instances kept open for concurrent requests.") var connections = 8
    @Option(name: .customLong("idle-timeout"), help: "Seconds before a client that sends or reads nothing is dropped (0: never).") var idleTimeout = 60.0

    func run() throws {
        try guarded {
            if let name = addToken {
                guard let f = tokenFile else { throw CairnError(.invalidInput, "--add-token needs --token-file FILE") }
                let token = try TokenStore.add(path: f, name: name, readOnly: readOnly)
                Out.line(token)
                Out.err("cairn: token \(name)\(readOnly ? " (read-only)" : "") added to \(f); it is shown only now: store it where the application can read it")
                return
            }
        }
        if addToken != nil { return }
        var o = ServeOptions(repository: try global.repoPathOrExit())
        do {
            (o.host, o.port) = try ServeOptions.parseListen(listen)
        } catch let e as CairnError { Out.err("cairn: error: \(e.description)"); throw ExitCode(e.code.exitCode) }
        o.tokenFile = tokenFile
        o.stateDir = stateDir
        o.maxUpload = maxUpload
        o.wait = global.wait == 60 ? 10 : global.wait
        o.connections = max(2, min(64, connections))
        o.idleTimeout = max(0, min(86_400, idleTimeout.isFinite ? idleTimeout : 60))
        let host = o.host
        let auth = tokenFile == nil ? "no token (loopback only)" : "bearer tokens from \(tokenFile!)"
        o.onListening = { port in
            let h = host.contains(":") ? "[\(host)]" : host
            Out.line("cairn serve: listening on http://\(h):\(port)/ (\(auth))")
            Out.flush() // whoever started the server waits for this line
            fflush(nil)
        }
        let server: CairnServer
        do { server = try CairnServer(options: o) } catch let e as CairnError {
            Out.err("cairn: error: \(e.description)")
            throw ExitCode(e.code.exitCode)
        }
        signal(SIGPIPE, SIG_IGN)
        // The root command is synchronous: run the server's async loop and wait for it here.
        let done = DispatchSemaphore(value: 0)
        let failure = ServeFailure()
        Task {
            do { try await server.run() } catch { failure.set("\(error)") }
            done.signal()
        }
        // SIGINT/SIGTERM cancel the command's token: the jobs are cancelled too (their error paths
        // clean up) while the signal thread's grace period runs.
        try? Signals.token.onCancel({ server.cancelJobs() }) { done.wait() }
        if let f = failure.get() {
            Out.err("cairn: error: the server stopped: \(f)")
            throw ExitCode(1)
        }
    }
}

extension GlobalOptions {
    func repoPathOrExit() throws -> String {
        do { return try repoPath() } catch let e as CairnError {
            Out.err("cairn: error: \(e.description)")
            throw ExitCode(e.code.exitCode)
        }
    }
}

/// The error that ended the server, handed from its task to the waiting main thread.
final class ServeFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?
    func set(_ s: String) { lock.lock(); text = s; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return text }
}
