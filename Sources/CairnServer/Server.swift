// CairnServer: `cairn serve`, an HTTP API (/api/v1) and a backup page (/) over one repository.
//
// Owns: listening (loopback by default; any other address needs a token file), request
// authentication and logging, routing, and the server state folder (jobs.json, upload
// spool). It calls the library only through Operations.swift. Crash properties: the
// repository is only changed by library calls with their own crash safety; the state
// folder holds nothing that a restart cannot clean up (Jobs.swift, Uploads.swift).

import CairnCore
import Foundation
import Hummingbird
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// How `cairn serve` runs.
public struct ServeOptions: Sendable {
    public var repository: String
    public var host: String = "127.0.0.1"
    public var port: Int = 8470
    public var tokenFile: String?
    /// Server state (jobs.json, uploads/); default REPO/serve.
    public var stateDir: String?
    /// Largest accepted upload, bytes.
    public var maxUpload: UInt64 = 4 << 30
    /// Seconds a request waits for the repository (lock, pool) before 503.
    public var wait: Double = 10
    /// Repository instances opened at start (concurrent requests and jobs).
    public var connections: Int = 8
    /// Called once listening, with the actual port (for --listen HOST:0).
    public var onListening: (@Sendable (Int) -> Void)?

    public init(repository: String) { self.repository = repository }

    /// Parses HOST:PORT (IPv6 as [::1]:PORT).
    public static func parseListen(_ s: String) throws -> (String, Int) {
        var host = s
        var portText = ""
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            host = String(s[s.index(after: s.startIndex)..<close])
            portText = String(s[s.index(after: close)...]).trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        } else if let colon = s.lastIndex(of: ":") {
            host = String(s[..<colon])
            portText = String(s[s.index(after: colon)...])
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw CairnError(.invalidInput, "--listen '\(s)' is not HOST:PORT (e.g. 127.0.0.1:8470)")
        }
        return (host, port)
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// The running server's shared parts.
public final class CairnServer: Sendable {
    public let options: ServeOptions
    let pool: RepositoryPool
    let tokens: TokenStore?
    let jobs: JobManager
    let uploads: UploadStore
    let stateDir: String
    let log = Locked<FileHandle>(FileHandle.standardError)

    /// Opens the repository, the token file and the state folder (cleaning what a previous run left).
    public init(options: ServeOptions) throws {
        self.options = options
        if !ServeOptions.isLoopback(options.host) && options.tokenFile == nil {
            throw CairnError(.invalidInput, "listening on \(options.host) (not loopback) requires --token-file: anyone who can reach the port could read and replace your data; create a token with `cairn serve --add-token NAME --token-file FILE`")
        }
        tokens = try options.tokenFile.map { try TokenStore.load(path: $0) }
        if let t = tokens, t.tokens.isEmpty {
            throw CairnError(.invalidInput, "token file \(options.tokenFile!) holds no token; add one with `cairn serve --add-token NAME --token-file \(options.tokenFile!)`")
        }
        pool = try RepositoryPool(path: options.repository, size: options.connections)
        stateDir = options.stateDir ?? pool.serveState
        try FS.mkdirs(stateDir, mode: 0o700)
        jobs = try JobManager(stateDir: stateDir)
        uploads = try UploadStore(stateDir: stateDir, maxSize: options.maxUpload)
    }

    /// Listens until SIGINT/SIGTERM.
    public func run() async throws {
        let responder = CallbackResponder<BasicRequestContext> { [self] req, _ in await self.respond(req) }
        var logger = Logger(label: "cairn-serve")
        logger.logLevel = .warning
        let onListening = options.onListening
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "cairn"),
            onServerRunning: { ch in onListening?(ch.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    // MARK: Requests

    /// Handles one request: authentication, routing, errors as JSON, one log line.
    func respond(_ req: Request) async -> Response {
        let t0 = Date()
        var who = Principal.anonymous
        var resp: Response
        do {
            who = try authenticate(req)
            resp = try await route(req, who)
        } catch {
            resp = HTTP.error(APIError.from(error))
        }
        resp.headers[.init("X-Content-Type-Options")!] = "nosniff"
        resp.headers[.init("Referrer-Policy")!] = "no-referrer"
        let ms = Int(Date().timeIntervalSince(t0) * 1000)
        let line = "\(ISO8601DateFormatter().string(from: t0)) \(req.method) \(req.uri.path) \(resp.status.code) token=\(who.name) \(ms)ms\n"
        log.with { $0.write(Data(line.utf8)) }
        return resp
    }

    /// The principal for a request. The page and the OpenAPI document need no token (they hold no data).
    func authenticate(_ req: Request) throws -> Principal {
        let path = req.uri.path
        // DNS rebinding: without tokens, only loopback Host names are served.
        if tokens == nil, let host = req.headers[.init("Host")!] ?? req.head.authority {
            let h = host.hasPrefix("[") ? String(host.dropFirst().prefix(while: { $0 != "]" })) : String(host.split(separator: ":").first ?? "")
            guard ServeOptions.isLoopback(h) else { throw APIError(.forbidden, "bad-host", "Host '\(host)' is not a loopback name; without a token file the server only answers to 127.0.0.1 / localhost") }
        }
        // CSRF: a browser sends Origin on cross-site requests; anything but this server's own origin is refused.
        if req.method != .get && req.method != .head, let origin = req.headers[.init("Origin")!] {
            let host = req.headers[.init("Host")!] ?? req.head.authority ?? ""
            let originHost = origin.components(separatedBy: "://").last ?? origin
            guard originHost == host else {
                throw APIError(.forbidden, "cross-origin", "requests from \(origin) are refused; only this server's own page may change things")
            }
        }
        if !path.hasPrefix("/api/") || path == "/api/v1/openapi.json" { return .anonymous }
        guard let tokens else { return .anonymous }
        guard let auth = req.headers[.authorization] else {
            throw APIError(.unauthorized, "unauthorized", "this server needs a token: send `Authorization: Bearer TOKEN`", hint: "ask the server's administrator for a token (`cairn serve --add-token NAME`)")
        }
        let parts = auth.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let p = tokens.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw APIError(.unauthorized, "unauthorized", "the token is not valid for this server", hint: "check the token; tokens are listed by name in the server's token file")
        }
        return p
    }

    func requireWrite(_ who: Principal) throws {
        if who.readOnly {
            throw APIError(.forbidden, "read-only", "token '\(who.name)' is read-only; this request would change the repository", hint: "use a token without read-only")
        }
    }

    /// Runs `body` with a pooled repository on a blocking thread.
    func withRepo<T: Sendable>(exclusive: Bool = false, wait: Double? = nil, _ command: String = "request", _ body: @escaping @Sendable (Repository) throws -> T) async throws -> T {
        let pool = self.pool
        let w = wait ?? options.wait
        return try await blocking { try pool.with(exclusive: exclusive, wait: w, command: command, body) }
    }
}
