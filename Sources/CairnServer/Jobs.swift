// Jobs: long work (snapshot, restore, check, prune, import) run in the background.
//
// A job runs on its own thread and outlives the request that created it (a client that
// disconnects loses nothing). Its state lives in memory and in STATE/jobs.json, rewritten
// atomically on every state change (and at most every 2 s for progress). At start, a job
// the file shows as queued or running was cut off by a server stop: it is marked
// `interrupted`, and the cleanup for its kind runs (upload spool files are deleted; an
// interrupted restore is completed or rolled back by opening the repository).

import CairnCore
import Foundation

/// Progress of a running job, as polled or streamed (SSE).
public struct JobProgress: Codable, Sendable, Equatable {
    public var phase: String = ""
    public var files: Int = 0
    public var bytes: UInt64 = 0
    /// Bytes expected in all, when known.
    public var total: UInt64?
    public var percent: Double?
    /// Bytes per second since the job started.
    public var rate: Double = 0
    /// Seconds left at the current rate, when `total` is known.
    public var eta: Double?
    public var currentPath: String?
}

/// What the API reports about a job.
public struct JobRecord: Codable, Sendable {
    public var id: String
    public var type: String
    /// queued, running, succeeded, failed, cancelled, interrupted
    public var state: String
    public var createdBy: String
    public var createdAt: String
    public var startedAt: String?
    public var finishedAt: String?
    public var params: [String: JSONValue]
    public var progress: JobProgress
    public var result: JSONValue?
    public var error: ErrorBodyCodable?
    /// Whether `DELETE /api/v1/jobs/{id}` can stop it (every kind can, while it is unfinished).
    public var cancellable: Bool
    var spool: String?

    public var finished: Bool { !(state == "queued" || state == "running") }
    /// The record without server-side paths.
    var api: JobRecord {
        var j = self
        j.spool = nil
        return j
    }
}

/// The JSON error shape, as stored in a job.
public struct ErrorBodyCodable: Codable, Sendable {
    public var code: String
    public var message: String
    public var hint: String
}

/// Handed to a job's body: progress reporting and the job's cancellation token.
public final class JobContext: @unchecked Sendable {
    let id: String
    let manager: JobManager
    let started = Date()
    /// The job's one cancellation token (CairnCore): the job's thread runs inside it, so the
    /// library's own checks (and the pool's waits) stop the job when a client cancels it.
    let token = CancellationToken()
    init(id: String, manager: JobManager) {
        self.id = id
        self.manager = manager
    }

    public var isCancelled: Bool { token.isCancelled }

    /// Records progress (cheap; call as often as the library reports).
    public func progress(phase: String, files: Int, bytes: UInt64, total: UInt64?, path: String? = nil) {
        let el = max(Date().timeIntervalSince(started), 0.001)
        var p = JobProgress(phase: phase, files: files, bytes: bytes, total: total, rate: Double(bytes) / el, currentPath: path)
        if let t = total, t > 0 {
            p.percent = min(100, Double(bytes) * 100 / Double(t))
            if p.rate > 0, t >= bytes { p.eta = Double(t - bytes) / p.rate }
        }
        manager.update(id) { $0.progress = p }
    }
}

/// Owns every job: creation, running, cancelling, persistence.
public final class JobManager: @unchecked Sendable {
    let file: String
    let state = Locked<[String: JobRecord]>([:])
    let contexts = Locked<[String: JobContext]>([:])
    let lastSave = Locked(Date.distantPast)
    static let keepFinished = 200

    /// Loads STATE/jobs.json; unfinished jobs become `interrupted` and their spool files are removed.
    init(stateDir: String) throws {
        file = stateDir + "/jobs.json"
        guard FS.exists(file) else { return }
        let decoded = try? JSONDecoder().decode([JobRecord].self, from: Data(try FS.readAll(file)))
        var jobs: [String: JobRecord] = [:]
        for var j in decoded ?? [] {
            if !j.finished {
                let was = j.state
                j.state = "interrupted"
                j.finishedAt = ISO8601DateFormatter().string(from: Date())
                j.error = ErrorBodyCodable(code: "interrupted", message: "the server stopped while this \(j.type) job was \(was == "queued" ? "waiting" : "running"); nothing it had not finished was recorded",
                                           hint: "start the job again")
                if let s = j.spool { unlink(s) }
                j.spool = nil
            }
            jobs[j.id] = j
        }
        state.with { $0 = jobs }
        save(force: true)
    }

    /// Every job, oldest first, as stored (with the spool path).
    var records: [JobRecord] { state.get.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt } }
    /// Every job as the API shows it (no server paths).
    var all: [JobRecord] { records.map(\.api) }
    func get(_ id: String) -> JobRecord? { state.with { $0[id] }?.api }
    var running: [JobRecord] { all.filter { !$0.finished } }

    func update(_ id: String, force: Bool = false, _ change: (inout JobRecord) -> Void) {
        state.with { if var j = $0[id] { change(&j); $0[id] = j } }
        save(force: force)
    }

    func save(force: Bool) {
        let now = Date()
        let due = lastSave.with { last -> Bool in
            if !force && now.timeIntervalSince(last) < 2 { return false }
            last = now
            return true
        }
        guard due else { return }
        var jobs = records
        let finished = jobs.filter(\.finished)
        if finished.count > JobManager.keepFinished {
            let drop = Set(finished.prefix(finished.count - JobManager.keepFinished).map(\.id))
            jobs.removeAll { drop.contains($0.id) }
            state.with { s in for d in drop { s[d] = nil } }
        }
        if let data = try? HTTP.jsonEncoder.encode(jobs) { try? FS.atomicWrite(file, Array(data) + [10], mode: 0o600) }
    }

    /// Starts a job: `body` runs on its own thread and returns the result document.
    func start(type: String, params: [String: JSONValue], by principal: Principal, spool: String? = nil,
               _ body: @escaping @Sendable (JobContext) throws -> JSONValue) -> JobRecord {
        let id = "j" + String(UInt64.random(in: 0...UInt64.max), radix: 16).leftPadded(16)
        let now = ISO8601DateFormatter().string(from: Date())
        let rec = JobRecord(id: id, type: type, state: "queued", createdBy: principal.name, createdAt: now, params: params,
                            progress: JobProgress(), cancellable: true, spool: spool)
        let ctx = JobContext(id: id, manager: self)
        state.with { $0[id] = rec }
        contexts.with { $0[id] = ctx }
        save(force: true)
        let shown = rec.api
        let t = Thread { [self] in
            self.update(id, force: true) { $0.state = "running"; $0.startedAt = ISO8601DateFormatter().string(from: Date()) }
            let outcome: Result<JSONValue, any Error> = Result {
                try ctx.token.run {
                    try ctx.token.check() // cancelled while queued
                    return try body(ctx)
                }
            }
            if let s = spool { unlink(s) }
            self.update(id, force: true) { j in
                j.finishedAt = ISO8601DateFormatter().string(from: Date())
                j.spool = nil
                switch outcome {
                case .success(let v):
                    j.state = "succeeded"
                    j.result = v
                    if j.progress.total != nil { j.progress.percent = 100; j.progress.eta = 0 }
                case .failure(let e):
                    if ctx.isCancelled {
                        j.state = "cancelled"
                        j.error = ErrorBodyCodable(code: "cancelled", message: JobManager.cancelledMessage(type), hint: "")
                    } else {
                        let a = APIError.from(e, archive: type == "import")
                        j.state = "failed"
                        j.error = ErrorBodyCodable(code: a.code, message: a.message, hint: a.hint)
                    }
                }
            }
            self.contexts.with { $0[id] = nil }
        }
        t.stackSize = 8 << 20
        t.start()
        return shown
    }

    /// What a cancelled job of `type` left behind.
    static func cancelledMessage(_ type: String) -> String {
        switch type {
        case "restore": return "the restore was cancelled before its swap; the live files are as they were"
        case "import": return "the import was cancelled; no snapshot was recorded"
        case "prune": return "the prune was cancelled; the repository is consistent (packs not yet repacked stay as they were)"
        case "check": return "the check was cancelled before it finished; it changed nothing"
        default: return "the job was cancelled; nothing it had not finished was recorded"
        }
    }

    /// Asks a job to stop. Returns the record, or an error for unknown / finished jobs.
    /// Every kind can be cancelled: the library stops at its next check and its error path
    /// leaves the repository and the live files as they were (a restore already swapping completes).
    func cancel(_ id: String, by principal: Principal) throws -> JobRecord {
        guard let j = get(id) else { throw APIError.notFound("no job \(id)", hint: "list jobs with GET /api/v1/jobs") }
        guard !j.finished, let ctx = contexts.with({ $0[id] }) else { throw APIError(.conflict, "finished", "job \(id) already \(j.state)") }
        ctx.token.cancel(CairnError(.interrupted, "the \(j.type) job \(id) was cancelled by \(principal.name)"))
        return j
    }

    /// Cancels every unfinished job (the server is stopping).
    func cancelAll() {
        for ctx in contexts.get.values { ctx.token.cancel(CairnError(.terminated, "the server is stopping")) }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { utf8.count >= n ? self : String(repeating: "0", count: n - utf8.count) + self }
}

/// Converts any Encodable result into a JSONValue for storage in a job.
func jsonValue<T: Encodable>(_ v: T) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: HTTP.jsonEncoder.encode(v))
}
