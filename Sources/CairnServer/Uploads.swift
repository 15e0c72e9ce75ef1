// Uploads: an archive sent to the server is spooled to STATE/uploads/ID.zip (raw body or
// the file part of a multipart/form-data body), never held in memory, refused past the
// size limit (413), then inspected with the library's hostile-archive rules (422 when
// they refuse it). Nothing is written to the repository until an import job runs.
// A spool file is removed when its import finishes (success or failure), when the upload
// is discarded or expires (1 hour), when the client drops the connection mid-upload, and
// at the next start (the whole folder is emptied).

import CairnCore
import Foundation
import Hummingbird

/// What the server knows about a spooled upload.
public struct UploadRecord: Codable, Sendable {
    public var id: String
    public var size: UInt64
    public var filename: String
    public var summary: ArchiveSummary
    var path: String
    var created: Date
}

/// The spool folder and the uploads waiting in it.
final class UploadStore: @unchecked Sendable {
    let dir: String
    let maxSize: UInt64
    let uploads = Locked<[String: UploadRecord]>([:])
    static let lifetime: TimeInterval = 3600

    /// Creates or empties STATE/uploads (left by a previous run: a crash mid-upload or mid-import).
    init(stateDir: String, maxSize: UInt64) throws {
        dir = stateDir + "/uploads"
        self.maxSize = maxSize
        try FS.mkdirs(dir, mode: 0o700)
        for n in try FS.list(dir) { unlink(dir + "/" + n) }
    }

    var spoolCount: Int { (try? FS.list(dir).count) ?? 0 }

    func take(_ id: String) -> UploadRecord? { uploads.with { $0.removeValue(forKey: id) } }
    func get(_ id: String) -> UploadRecord? { uploads.with { $0[id] } }

    func discard(_ id: String) -> Bool {
        guard let u = take(id) else { return false }
        unlink(u.path)
        return true
    }

    func expire() {
        let now = Date()
        let old = uploads.with { u -> [UploadRecord] in
            let o = u.values.filter { now.timeIntervalSince($0.created) > UploadStore.lifetime }
            for r in o { u[r.id] = nil }
            return o
        }
        for r in old { unlink(r.path) }
    }

    /// Spools the request body, inspects it, and registers the upload.
    func receive(_ request: Request) async throws -> UploadRecord {
        expire()
        if let cl = request.headers[.contentLength].flatMap({ UInt64($0) }), cl > maxSize + (64 << 10) {
            throw tooLarge()
        }
        let id = "u" + String(UInt64.random(in: 0...UInt64.max), radix: 16).leftPadded(16)
        let path = "\(dir)/\(id).zip"
        let file = try PosixFile.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600)
        var filename = "upload.zip"
        var size: UInt64 = 0
        do {
            defer { file.close() }
            let type = request.headers[.contentType] ?? "application/octet-stream"
            if type.lowercased().hasPrefix("multipart/form-data") {
                guard let b = Multipart.boundary(type) else { throw APIError.badRequest("multipart body without a boundary parameter") }
                var parser = Multipart(boundary: b)
                for try await buf in request.body {
                    try parser.feed(Array(buf.readableBytesView)) { chunk in
                        size += UInt64(chunk.count)
                        if size > maxSize { throw tooLarge() }
                        try file.write(chunk)
                    }
                }
                guard parser.sawFile else { throw APIError.badRequest("the multipart body has no file part", hint: "send the archive as a part with a filename (field name 'file')") }
                if let n = parser.filename, !n.isEmpty { filename = n }
            } else {
                for try await buf in request.body {
                    size += UInt64(buf.readableBytes)
                    if size > maxSize { throw tooLarge() }
                    try file.write(Array(buf.readableBytesView))
                }
                if let n = request.headers[.init("X-Filename")!], !n.isEmpty { filename = String(n.prefix(200)) }
            }
            try file.sync()
        } catch {
            unlink(path)
            throw error
        }
        let summary: ArchiveSummary
        do { summary = try await blocking { try ArchiveSummary.inspect(path: path) } } catch {
            unlink(path)
            var a = APIError.from(error, archive: true)
            a.message = a.message.replacingOccurrences(of: path, with: filename)
            if a.hint.isEmpty { a.hint = "the archive is damaged, not a ZIP, or built to attack the importer; nothing was written" }
            throw a
        }
        var s = summary
        s.archive = filename
        let rec = UploadRecord(id: id, size: size, filename: filename, summary: s, path: path, created: Date())
        uploads.with { $0[id] = rec }
        return rec
    }

    func tooLarge() -> APIError {
        APIError(.contentTooLarge, "too-large", "the upload is larger than the server's limit of \(maxSize) bytes", hint: "raise --max-upload on the server, or export fewer silos")
    }
}

/// A streaming multipart/form-data reader that passes on the content of the first file part.
struct Multipart {
    let delimiter: [UInt8]
    var buffer: [UInt8] = []
    enum State { case preamble, headers, content(file: Bool), epilogue }
    var state = State.preamble
    var sawFile = false
    var filename: String?

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        // The body may start with the boundary line directly (no CRLF before it).
        buffer = Array("\r\n".utf8)
    }

    static func boundary(_ contentType: String) -> String? {
        for p in contentType.split(separator: ";") {
            let t = p.trimmingCharacters(in: .whitespaces)
            if t.lowercased().hasPrefix("boundary=") {
                let v = String(t.dropFirst(9)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return v.isEmpty || v.utf8.count > 200 ? nil : v
            }
        }
        return nil
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int = 0) -> Int? {
        guard hay.count >= needle.count, let first = needle.first else { return nil }
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == first {
                var j = 1
                while j < needle.count && hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    mutating func feed(_ bytes: [UInt8], _ emit: ([UInt8]) throws -> Void) throws {
        buffer += bytes
        while true {
            switch state {
            case .preamble:
                guard let i = Multipart.find(delimiter, in: buffer) else {
                    if buffer.count > 64 << 10 { throw APIError.badRequest("the multipart body does not start with its boundary") }
                    return
                }
                buffer.removeFirst(i + delimiter.count)
                state = .headers
            case .headers:
                let crlf2: [UInt8] = Array("\r\n\r\n".utf8)
                if buffer.count >= 2 && buffer[0] == 0x2D && buffer[1] == 0x2D { state = .epilogue; continue }
                guard let i = Multipart.find(crlf2, in: buffer) else {
                    if buffer.count > 16 << 10 { throw APIError.badRequest("a multipart part's headers are longer than 16 KiB") }
                    return
                }
                let head = String(decoding: buffer[..<i], as: UTF8.self)
                buffer.removeFirst(i + 4)
                var isFile = false
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                    if let r = line.range(of: "filename=\"") {
                        isFile = !sawFile
                        let rest = line[r.upperBound...]
                        filename = rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
                    }
                }
                if isFile { sawFile = true }
                state = .content(file: isFile)
            case .content(let file):
                if let i = Multipart.find(delimiter, in: buffer) {
                    if file { try emit(Array(buffer[..<i])) }
                    buffer.removeFirst(i + delimiter.count)
                    state = .headers
                } else {
                    let keep = delimiter.count - 1
                    if buffer.count > keep {
                        let n = buffer.count - keep
                        if file { try emit(Array(buffer[..<n])) }
                        buffer.removeFirst(n)
                    }
                    return
                }
            case .epilogue:
                buffer.removeAll()
                return
            }
        }
    }
}
