// A real `cairn serve` process on loopback for the server tests, and an HTTP client
// (curl, a real client in its own process) that can also be killed mid-transfer.

import CairnCore
import CairnServer
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP exchange as curl saw it.
struct HTTPReply {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var array: [Any] { json as? [Any] ?? [] }
    var code: String? { object["code"] as? String }
}

/// A repository with two silos and a running server.
final class ServerHarness: @unchecked Sendable {
    let dir: TempDir
    let repo: String
    var child: Child?
    var base = ""
    var extraArgs: [String]
    var token: String?

    init(_ label: String, silos: Bool = true, args: [String] = []) throws {
        dir = TempDir("cairn-serve-\(label)")
        repo = dir.sub("repo")
        extraArgs = args
        #expect(try cairn(repo, ["init"]).status == 0)
        if silos {
            try writeFile(dir.sub("app/notes.txt"), Array("first version\n".utf8))
            var rng = SeededBytes(seed: 11)
            try writeFile(dir.sub("app/data/blob.bin"), rng.bytes(200_000))
            try writeFile(dir.sub("media/photo.raw"), rng.bytes(50_000))
            #expect(try cairn(repo, ["silo", "add", "app", dir.sub("app")]).status == 0)
            #expect(try cairn(repo, ["silo", "add", "media", dir.sub("media")]).status == 0)
        }
    }

    /// Starts `cairn serve` on a free port and waits until it listens.
    func start() throws {
        let out = dir.sub("serve.out")
        unlink(out)
        let args = ["serve", "--repo", repo, "--listen", "127.0.0.1:0"] + extraArgs
        child = try Child.spawn(cairnBinary(), args, stdout: out, stderr: dir.sub("serve.log.\(UInt32.random(in: 0...UInt32.max))"))
        for _ in 0..<400 {
            if let text = try? String(decoding: FS.readAll(out), as: UTF8.self), let r = text.range(of: "http://") {
                let rest = text[r.lowerBound...]
                if let end = rest.firstIndex(of: "/", after: 7) {
                    base = String(rest[..<end])
                    return
                }
            }
            usleep(50_000)
        }
        throw CairnError(.internalError, "cairn serve did not start: \(serverLog())")
    }

    func stop(_ sig: Int32 = SIGTERM) {
        child?.kill(sig)
        child?.wait()
        child = nil
    }

    func serverLog() -> String {
        ((try? FS.list(dir.path)) ?? []).filter { $0.hasPrefix("serve.log") }.sorted()
            .map { String(decoding: (try? FS.readAll(dir.sub($0))) ?? [], as: UTF8.self) }.joined()
    }

    deinit {
        stop()
        dir.remove()
    }

    /// One request through curl. `body` is sent raw; `form` as multipart (field=@file).
    func request(_ method: String, _ path: String, body: [UInt8]? = nil, json: String? = nil, form: String? = nil,
                 headers: [String] = [], auth: Bool = true, extra: [String] = []) throws -> HTTPReply {
        let tag = UInt32.random(in: 0...UInt32.max)
        let hfile = dir.sub("h-\(tag)"), bfile = dir.sub("b-\(tag)"), infile = dir.sub("i-\(tag)")
        defer { unlink(hfile); unlink(bfile); unlink(infile) }
        var args = ["-s", "-S", "-X", method, "-D", hfile, "-o", bfile, "--max-time", "60"]
        if let t = token, auth { args += ["-H", "Authorization: Bearer \(t)"] }
        for h in headers { args += ["-H", h] }
        if let json {
            try writeFile(infile, Array(json.utf8))
            args += ["-H", "Content-Type: application/json", "--data-binary", "@\(infile)"]
        } else if let body {
            try writeFile(infile, body)
            args += ["-H", "Content-Type: application/zip", "--data-binary", "@\(infile)"]
        } else if let form {
            args += ["-F", form]
        }
        args += extra
        args.append(base + path)
        let r = try run("curl", args)
        let head = String(decoding: (try? FS.readAll(hfile)) ?? [], as: UTF8.self)
        var status = 0
        var hs: [String: String] = [:]
        for line in head.split(separator: "\r\n") {
            if line.hasPrefix("HTTP/") {
                status = Int(line.split(separator: " ")[1]) ?? 0
                hs = [:]
            } else if let c = line.firstIndex(of: ":") {
                hs[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        if status == 0 { throw CairnError(.io, "curl \(method) \(path) failed: \(r.stderr)") }
        return HTTPReply(status: status, headers: hs, body: (try? FS.readAll(bfile)) ?? [])
    }

    func get(_ path: String) throws -> HTTPReply { try request("GET", path) }
    func post(_ path: String, _ json: String = "{}") throws -> HTTPReply { try request("POST", path, json: json) }

    /// Starts a job and waits for it to finish; returns the final job record.
    func runJob(_ json: String, timeout: Double = 120) throws -> [String: Any] {
        let r = try post("/api/v1/jobs", json)
        #expect(r.status == 202, "job \(json): \(r.text)")
        guard let id = r.object["id"] as? String else { return [:] }
        return try waitJob(id, timeout: timeout)
    }

    func waitJob(_ id: String, timeout: Double = 120) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let j = try get("/api/v1/jobs/\(id)").object
            if let s = j["state"] as? String, s != "queued", s != "running" { return j }
            usleep(100_000)
        }
        throw CairnError(.internalError, "job \(id) did not finish in \(timeout) s")
    }

    /// Waits until no job of the server is queued or running (jobs accepted earlier hold locks).
    func waitForIdle(timeout: Double = 120) throws {
        for job in try get("/api/v1/jobs").array as? [[String: Any]] ?? [] {
            guard let id = job["id"] as? String, let s = job["state"] as? String, s == "queued" || s == "running" else { continue }
            _ = try waitJob(id, timeout: timeout)
        }
    }

    func snapshotIds() throws -> [String] {
        (try get("/api/v1/snapshots?limit=1000").object["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    /// The server keeps its uploads in the repository's per-host state folder (format 3).
    var spoolDir: String { stateFolder(repo) + "/serve/uploads" }
    var spoolFiles: [String] { (try? FS.list(spoolDir)) ?? [] }
}

extension StringProtocol {
    func firstIndex(of c: Character, after offset: Int) -> Index? {
        guard let start = index(startIndex, offsetBy: offset, limitedBy: endIndex) else { return nil }
        return self[start...].firstIndex(of: c)
    }
}

/// Polls `cond` for up to `seconds`.
func eventually(_ seconds: Double = 10, _ cond: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try cond() { return true }
        usleep(50_000)
    }
    return try cond()
}
