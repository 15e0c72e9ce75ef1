// HTTP plumbing shared by every endpoint: the JSON error shape, CairnError -> HTTP status,
// JSON responses, query parsing, and running blocking library calls off the event loops.

import CairnCore
import Foundation
import Hummingbird

/// An API failure: a stable `code`, a one-line `message`, a `hint` (what to do), an HTTP status.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var hint: String
    /// Extra structured detail (e.g. the processes holding files open).
    public var detail: [String: JSONValue]?
    /// For 405: the methods the path takes (the `Allow` header).
    public var allow: String?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, hint: String = "", detail: [String: JSONValue]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.detail = detail
    }

    static func badRequest(_ message: String, hint: String = "") -> APIError { APIError(.badRequest, "bad-request", message, hint: hint) }
    static func notFound(_ message: String, hint: String = "") -> APIError { APIError(.notFound, "not-found", message, hint: hint) }

    /// Maps a library error to an HTTP status. `archive`: the error is about an uploaded archive (422).
    static func from(_ e: CairnError, archive: Bool = false) -> APIError {
        let status: HTTPResponse.Status
        var hint = ""
        switch e.code {
        case .invalidInput, .ambiguous:
            status = archive ? .unprocessableContent : .badRequest
        case .notFound:
            status = archive ? .unprocessableContent : .notFound
        case .integrity, .unsupportedFormat:
            status = archive ? .unprocessableContent : .internalServerError
            if !archive { hint = "run a check job (POST /api/v1/jobs {\"type\":\"check\"})" }
        case .locked:
            status = .serviceUnavailable
            hint = "the repository is locked by another process; retry later"
        case .busy, .alreadyExists, .filesInUse:
            status = .conflict
        case .usage:
            status = .badRequest
        case .interrupted, .terminated:
            status = .serviceUnavailable
            hint = "the server is stopping; retry once it is back"
        case .siloFailed, .metadataMismatch:
            status = .unprocessableContent
        case .hookFailed:
            status = .conflict
            hint = "a before-hook of the repository or silo refused the operation; see its message"
        case .accessDenied, .unreachable, .clockSkew:
            status = .badGateway
            hint = "the repository's storage refused or did not answer; see the message"
        case .noSpace:
            status = .init(code: 507, reasonPhrase: "Insufficient Storage")
            hint = "free some space on the repository's filesystem"
        case .repositoryNotFound, .io, .internalError, .partial:
            status = .internalServerError
        }
        return APIError(status, e.code.rawValue, e.description, hint: hint)
    }

    static func from(_ error: any Error, archive: Bool = false) -> APIError {
        if let a = error as? APIError { return a }
        if let c = error as? CairnError { return from(c, archive: archive) }
        return APIError(.internalServerError, "internal", "\(error)")
    }
}

/// A small JSON value for free-form response parts.
public enum JSONValue: Codable, Sendable, Equatable {
    case string(String), int(Int64), double(Double), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let i = try? c.decode(Int64.self) { self = .int(i) } else if let d = try? c.decode(Double.self) { self = .double(d) } else if let s = try? c.decode(String.self) { self = .string(s) } else if let a = try? c.decode([JSONValue].self) { self = .array(a) } else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

struct ErrorBody: Encodable {
    var code: String
    var message: String
    var hint: String
    var detail: [String: JSONValue]?
}

enum HTTP {
    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try jsonEncoder.encode(value)
        return bytes(Array(data), type: "application/json", status: status)
    }

    static func bytes(_ b: [UInt8], type: String, status: HTTPResponse.Status = .ok, extra: HTTPFields = [:]) -> Response {
        var h: HTTPFields = [.contentType: type, .cacheControl: "no-store"]
        h.append(contentsOf: extra)
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: b)))
    }

    static func error(_ e: APIError) -> Response {
        let body = ErrorBody(code: e.code, message: e.message, hint: e.hint, detail: e.detail)
        let data = (try? jsonEncoder.encode(body)) ?? Data("{\"code\":\"internal\"}".utf8)
        return bytes(Array(data), type: "application/json", status: e.status, extra: e.allow.map { [.allow: $0] } ?? [:])
    }

    /// Decodes a JSON request body of at most `limit` bytes (empty body -> `empty`).
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 1 << 20, empty: T? = nil) async throws -> T {
        let buf: ByteBuffer
        do { buf = try await request.body.collect(upTo: limit) } catch {
            throw APIError(.contentTooLarge, "too-large", "the JSON body is larger than \(limit) bytes")
        }
        if buf.readableBytes == 0, let empty { return empty }
        // Only JSON: a cross-site form cannot send this content type without a CORS preflight (never answered).
        guard (request.headers[.contentType] ?? "").lowercased().hasPrefix("application/json") else {
            throw APIError.badRequest("send the body as JSON with Content-Type: application/json")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(buf.readableBytesView)) } catch {
            throw APIError.badRequest("the request body is not valid JSON for this endpoint: \(error)", hint: "see /api/v1/openapi.json")
        }
    }
}

/// Parsed query string: repeated keys kept in order, values percent-decoded.
struct Query: Sendable {
    var items: [(String, String)] = []

    init(_ raw: String?) {
        guard let raw, !raw.isEmpty else { return }
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = Query.decode(String(kv[0]))
            let v = kv.count > 1 ? Query.decode(String(kv[1])) : ""
            items.append((k, v))
        }
    }

    static func decode(_ s: String) -> String {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s
    }

    subscript(_ key: String) -> String? { items.last(where: { $0.0 == key })?.1 }
    func all(_ key: String) -> [String] { items.filter { $0.0 == key }.map(\.1).filter { !$0.isEmpty } }

    func bool(_ key: String) throws -> Bool {
        guard let v = self[key] else { return false }
        switch v.lowercased() {
        case "", "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw APIError.badRequest("query parameter \(key)=\(v) is not a boolean; use true or false")
        }
    }

    func int(_ key: String, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let v = self[key] else { return d }
        guard let n = Int(v), range.contains(n) else {
            throw APIError.badRequest("query parameter \(key)=\(v) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }
}

/// Runs blocking library work on its own thread (never on an event loop or the cooperative pool).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let t = Thread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
        t.stackSize = 8 << 20
        t.start()
    }
}

/// A value shared between threads under a lock.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func with<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var get: T { with { $0 } }
}

extension ISO8601DateFormatter {
    static func string(ns: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(ns) / 1e9))
    }
}
