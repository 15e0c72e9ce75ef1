// Operations: the ONE place where the server calls CairnCore, one function per operation
// (status, list, show, ls, cat, diff, estimate, export, snapshot, restore, check, prune,
// import, forget, policy). Endpoints and jobs call these; when a library API changes,
// this file is what adapts. Every function runs on a blocking thread with a pooled
// repository instance (RepositoryPool).

import CairnCore
import Foundation

/// A snapshot as the API shows it.
public struct SnapshotView: Codable, Sendable {
    public var id: String
    public var shortId: String
    public var time: String
    public var timeNs: Int64
    public var hostname: String
    public var tags: [String]
    public var message: String
    public var parent: String?
    public var partial: Bool
    public var bytes: UInt64
    public var files: Int
    public var bytesAdded: UInt64
    public var silos: [SiloSnapshot]

    init(_ s: Snapshot) {
        id = s.id
        shortId = s.shortId
        timeNs = s.record.timeNs
        time = ISO8601DateFormatter.string(ns: s.record.timeNs)
        hostname = s.record.hostname
        tags = s.record.tags
        message = s.record.message
        parent = s.record.parent
        partial = s.record.partial
        bytes = s.record.silos.reduce(0) { $0 &+ $1.bytes }
        files = s.record.silos.reduce(0) { $0 &+ $1.files }
        bytesAdded = s.record.bytesAdded
        silos = s.record.silos
    }
}

struct SiloView: Codable, Sendable {
    var name: String
    var kind: String
    var source: String
    var excludes: [String]
    var latestSnapshot: SnapshotView?
}

struct StatusView: Codable, Sendable {
    var repository: String
    var repositoryId: String
    var formatVersion: Int
    var server: String
    var snapshots: Int
    var silos: [SiloView]
    var freeBytes: UInt64?
    var jobs: [JobRecord]
    var recovered: String?
}

struct SnapshotPage: Codable, Sendable {
    var total: Int
    var offset: Int
    var limit: Int
    var items: [SnapshotView]
}

struct LsItem: Codable, Sendable {
    var path: String
    var type: String
    var mode: String
    var size: UInt64
    var mtime: String
    var target: String?
}

struct LsPage: Codable, Sendable {
    var snapshot: String
    var path: String
    var items: [LsItem]
    var truncated: Bool
}

struct ChangeItem: Codable, Sendable {
    var change: String
    var path: String
}

struct DryRunView: Codable, Sendable {
    var result: RestoreResult
    var changes: [ChangeItem]
    var truncated: Bool
}

struct DecisionView: Codable, Sendable {
    var id: String
    var time: String
    var group: String
    var keep: Bool
    var reasons: [String]
}

struct ForgetView: Codable, Sendable {
    var dryRun: Bool
    var decisions: [DecisionView]
    var removed: [String]
}

/// The request body of `POST /api/v1/jobs` and the restore dry run (fields by job type).
public struct JobRequest: Codable, Sendable {
    public var type: String?
    public var silos: [String]?
    public var tags: [String]?
    public var message: String?
    public var snapshot: String?
    public var include: [String]?
    public var to: String?
    public var safetySnapshot: Bool?
    public var force: Bool?
    public var readData: Bool?
    public var maxUnusedPercent: Double?
    public var dryRun: Bool?
    public var upload: String?
    public var asSilo: [String]?
    public var restore: Bool?
}

struct ForgetRequest: Codable, Sendable {
    var ids: [String]?
    var policy: PolicyBody?
    var dryRun: Bool?
}

/// A retention policy as the API takes it (every field optional; keepWithin like "2d3h").
struct PolicyBody: Codable, Sendable {
    var keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly: Int?
    var keepWithin: String?
    var keepTags: [String]?
    var silo: String?

    func policy() throws -> RetentionPolicy {
        try RetentionPolicy(parsingKeepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, keepWeekly: keepWeekly,
                            keepMonthly: keepMonthly, keepYearly: keepYearly, keepWithin: keepWithin, keepTags: keepTags ?? [], silo: silo,
                            within: "keepWithin")
    }
}

struct StopEarly: Error {}

enum Operations {
    static let maxListed = 10_000

    static func status(_ r: Repository, jobs: [JobRecord], recovered: String?) throws -> StatusView {
        let snaps = try r.snapshots()
        let silos = try r.silos().map { s in
            SiloView(name: s.name, kind: s.kind.rawValue, source: s.path ?? s.command ?? "", excludes: s.excludes,
                     latestSnapshot: snaps.last(where: { $0.record.silo(s.name) != nil }).map(SnapshotView.init))
        }
        return StatusView(repository: r.root, repositoryId: r.config.id, formatVersion: r.config.version, server: Cairn.versionString,
                          snapshots: snaps.count, silos: silos, freeBytes: try? FS.freeBytes(r.root), jobs: jobs, recovered: recovered)
    }

    static func list(_ r: Repository, silo: String?, tag: String?, since: Int64?, until: Int64?, offset: Int, limit: Int) throws -> SnapshotPage {
        if let s = silo { _ = try r.silo(s) }
        let all = try r.snapshots().filter { s in
            (silo == nil || s.record.silo(silo!) != nil) && (tag == nil || s.record.tags.contains(tag!))
                && (since == nil || s.record.timeNs >= since!) && (until == nil || s.record.timeNs <= until!)
        }.reversed()
        let page = Array(all.dropFirst(offset).prefix(limit)).map(SnapshotView.init)
        return SnapshotPage(total: all.count, offset: offset, limit: limit, items: page)
    }

    static func show(_ r: Repository, _ ref: String) throws -> SnapshotView { SnapshotView(try r.resolve(ref)) }

    static func ls(_ r: Repository, _ ref: String, path: String?, recursive: Bool, limit: Int) throws -> LsPage {
        let s = try r.resolve(ref)
        let reader = r.makeReader()
        var items: [LsItem] = []
        var truncated = false
        do {
            try r.list(s, path: path.map { FileName(utf8: $0) }, recursive: recursive, reader: reader) { le in
                if items.count == limit { truncated = true; throw StopEarly() }
                let e = le.entry
                items.append(LsItem(path: le.path.jsonText, type: e.kind.name, mode: String(e.mode, radix: 8), size: e.size,
                                    mtime: ISO8601DateFormatter.string(ns: e.mtimeNs), target: e.target?.jsonText))
            }
        } catch is StopEarly {}
        return LsPage(snapshot: s.id, path: path ?? "", items: items, truncated: truncated)
    }

    /// Resolves a file for `cat`: (snapshot, entry) or an error before any byte is sent.
    static func catTarget(_ r: Repository, _ ref: String, path: String) throws -> (Snapshot, ListedEntry) {
        let s = try r.resolve(ref)
        let le = try r.lookup(s, path: FileName(utf8: path), reader: r.makeReader())
        guard le.entry.kind == .file else {
            throw CairnError(.invalidInput, "\(le.path.escaped) is a \(le.entry.kind.name), not a file; list it with GET /api/v1/snapshots/\(s.shortId)/ls?path=\(le.path.escaped)")
        }
        return (s, le)
    }

    static func cat(_ r: Repository, _ le: ListedEntry, to sink: ByteSink) throws {
        try r.readContent(le.entry, path: le.path.escaped, reader: r.makeReader()) { try sink.write($0) }
    }

    /// The diff as the CLI's `--json` document.
    static func diff(_ r: Repository, a: String, b: String, silos: [String], metadata: Bool) throws -> [UInt8] {
        let d = try r.diff(a, b, silos: silos, options: DiffOptions(metadata: metadata))
        var text = DiffFormat.render(d.report, style: .json)
        if !d.warnings.isEmpty || !d.failedSilos.isEmpty, text.hasSuffix("}\n") {
            // Add the live walk's warnings and failed silos to the document.
            let extra = (try? String(decoding: HTTP.jsonEncoder.encode(["warnings": d.warnings]), as: UTF8.self)) ?? "{}"
            let failed = (try? String(decoding: HTTP.jsonEncoder.encode(d.failedSilos), as: UTF8.self)) ?? "{}"
            text = String(text.dropLast(2)) + ",\"warnings\":" + String(extra.dropFirst(12).dropLast()) + ",\"failedSilos\":" + failed + "}\n"
        }
        return Array(text.utf8)
    }

    static func estimate(_ r: Repository, silos: [String]) throws -> [SiloEstimate] { try r.estimate(silos: silos) }

    static func exporter(_ r: Repository, _ ref: String, silos: [String], compression: ExportCompression, level: Int32) throws -> SnapshotExporter {
        try SnapshotExporter(repository: r, snapshot: try r.resolve(ref), options: ExportOptions(silos: silos, compression: compression, deflateLevel: level))
    }

    // MARK: Jobs

    /// A snapshot through `CairnSession`, as the CLI takes one: repository hooks, then the
    /// snapshot, then the stored retention policy when it is complete.
    static func snapshot(_ r: Repository, _ q: JobRequest, _ ctx: JobContext) throws -> JSONValue {
        let silos = q.silos ?? []
        let total = try r.estimate(silos: silos).reduce(UInt64(0)) { $0 &+ $1.bytes }
        let session = CairnSession(opened: r, keepsLock: true)
        let warnings = Locked<[String]>([])
        session.onWarning = { w in warnings.with { $0.append(w) } }
        let out = try session.snapshot(silos: silos, tags: q.tags ?? [], message: q.message ?? "") { s in
            s.onProgress = { p in ctx.progress(phase: "snapshot", files: p.files, bytes: p.bytesSeen, total: total, path: p.currentPath.escaped) }
        }
        let res = out.result
        struct Doc: Encodable { var snapshot: SnapshotView?; var filesRead: Int; var bytesRead: UInt64; var warnings: [String]; var failedSilos: [String: String]; var policyRemoved: [String] }
        guard res.snapshot != nil || res.failedSilos.isEmpty else {
            throw CairnError(.siloFailed, res.failedSilos.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))
        }
        return try jsonValue(Doc(snapshot: res.snapshot.map(SnapshotView.init), filesRead: res.filesRead, bytesRead: res.bytesRead,
                                 warnings: res.warnings + warnings.get, failedSilos: res.failedSilos, policyRemoved: out.policy?.removed ?? []))
    }

    static func restoreOptions(_ q: JobRequest, dryRun: Bool, wait: Double) -> RestoreOptions {
        var o = RestoreOptions()
        o.silos = q.silos ?? []
        o.to = q.to
        o.include = q.include ?? []
        o.dryRun = dryRun
        o.safetySnapshot = q.safetySnapshot ?? true
        o.force = q.force ?? false
        o.wait = wait
        return o
    }

    /// The CLI's dry run; with `force` set so that `openFiles` lists the processes holding silo files open.
    static func restoreDryRun(_ r: Repository, _ q: JobRequest, ref: String, wait: Double) throws -> DryRunView {
        var o = restoreOptions(q, dryRun: true, wait: wait)
        o.force = true
        let restorer = Restorer(repository: r, options: o)
        var changes: [ChangeItem] = []
        var truncated = false
        restorer.onChange = { marker, path in
            if changes.count < maxListed { changes.append(ChangeItem(change: marker, path: path.jsonText)) } else { truncated = true }
        }
        let res = try restorer.run(ref)
        return DryRunView(result: res, changes: changes, truncated: truncated)
    }

    static func restore(_ r: Repository, _ q: JobRequest, ref: String, wait: Double, _ ctx: JobContext) throws -> RestoreResult {
        let snap = try r.resolve(ref)
        let chosen = q.silos ?? []
        let total = snap.record.silos.filter { chosen.isEmpty || chosen.contains($0.name) }.reduce(UInt64(0)) { $0 &+ $1.bytes }
        // Through CairnSession, as the CLI restores: the before/after-restore hooks run.
        let session = CairnSession(opened: r, keepsLock: true)
        session.onWarning = { _ in }
        return try session.restore(snap.id, options: restoreOptions(q, dryRun: false, wait: wait)) { restorer in
            restorer.onProgress = { c in ctx.progress(phase: "restore", files: c.files, bytes: c.bytes, total: total) }
        }.result
    }

    static func check(_ r: Repository, _ q: JobRequest, _ ctx: JobContext) throws -> JSONValue {
        let rep = try r.check(readData: q.readData ?? false) { n, total in
            ctx.progress(phase: "check blocks", files: n, bytes: UInt64(max(0, n)), total: UInt64(max(0, total)))
        }
        struct Doc: Encodable { var report: CheckReport; var ok: Bool }
        return try jsonValue(Doc(report: rep, ok: rep.ok))
    }

    static func prune(_ r: Repository, _ q: JobRequest, _ ctx: JobContext) throws -> JSONValue {
        let pct = q.maxUnusedPercent ?? 10
        guard pct >= 0 && pct <= 100 else { throw CairnError(.invalidInput, "maxUnusedPercent \(pct) is out of range; give 0 to 100") }
        let rep = try r.prune(PruneOptions(maxUnusedPercent: pct, dryRun: q.dryRun ?? false)) { phase, done, total in
            ctx.progress(phase: phase, files: done, bytes: UInt64(max(0, done)), total: UInt64(max(0, total)))
        }
        return try jsonValue(rep)
    }

    static func importArchive(_ r: Repository, _ q: JobRequest, upload: UploadRecord, maxSize: UInt64, wait: Double, _ ctx: JobContext) throws -> JSONValue {
        let importer = SnapshotImporter(repository: r, options: ImportOptions(asSilo: q.asSilo ?? [], tags: q.tags ?? [], maxSize: maxSize))
        let total = upload.summary.folders.reduce(UInt64(0)) { $0 &+ $1.bytes }
        importer.onProgress = { files, bytes in ctx.progress(phase: "import", files: files, bytes: bytes, total: total) }
        let res: ImportResult
        do { res = try importer.run(archive: upload.path, display: upload.filename) } catch var e as CairnError {
            // Name the upload, not the server's spool file.
            e.message = e.message.replacingOccurrences(of: upload.path, with: upload.filename)
            if e.path == upload.path { e.path = upload.filename }
            throw e
        }
        struct Doc: Encodable { var `import`: ImportResult; var restore: RestoreResult? }
        var doc = Doc(import: res, restore: nil)
        if q.restore == true {
            doc.restore = try restore(r, q, ref: res.snapshot, wait: wait, ctx)
        }
        return try jsonValue(doc)
    }

    static func forget(_ r: Repository, _ q: ForgetRequest) throws -> ForgetView {
        let res: ForgetResult
        if let ids = q.ids, !ids.isEmpty {
            guard q.policy == nil else { throw CairnError(.invalidInput, "give snapshot ids or a policy, not both") }
            res = try r.forget(ids: ids, dryRun: q.dryRun ?? false)
        } else if let p = q.policy {
            res = try r.forget(policy: try p.policy(), dryRun: q.dryRun ?? false)
        } else if let p = try r.storedPolicy() {
            res = try r.forget(policy: p, dryRun: q.dryRun ?? false)
        } else {
            throw CairnError(.invalidInput, "give snapshot ids or a policy (no policy is stored; PUT /api/v1/policy)")
        }
        return ForgetView(dryRun: res.dryRun, decisions: res.decisions.map {
            DecisionView(id: $0.id, time: ISO8601DateFormatter.string(ns: $0.timeNs), group: $0.group, keep: $0.keep, reasons: $0.reasons)
        }, removed: res.removed)
    }

    static func policy(_ r: Repository) throws -> RetentionPolicy? { try r.storedPolicy() }

    static func setPolicy(_ r: Repository, _ p: RetentionPolicy?) throws {
        try p?.validate()
        try r.setStoredPolicy(p)
    }
}
