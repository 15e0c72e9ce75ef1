// AWS Signature Version 4 for S3 requests, written from the AWS specification ("Authenticating
// Requests: Using the Authorization Header"). Pure functions: the request's method, canonical path,
// query, headers and payload hash in; the Authorization header out. Checked against the AWS S3
// documentation's example signatures (Tests/CairnStorageTests/SigV4Tests.swift).

/// Signs S3 requests.
public struct SigV4: Sendable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var region: String
    public var service: String

    public init(accessKeyId: String, secretAccessKey: String, region: String, service: String = "s3") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// The SHA-256 of an empty payload.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The `Authorization` header value for a request.
    /// - path: the URI path as sent, each segment already encoded with `uriEncode`.
    /// - query: decoded names and values (encoded and sorted here).
    /// - headers: every header to sign (must include host, x-amz-date, x-amz-content-sha256).
    /// - amzDate: `YYYYMMDDTHHMMSSZ`, the value of `x-amz-date`.
    public func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                              payloadHash: String, amzDate: String) -> String {
        let canon = Self.canonicalHeaders(headers)
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, Self.canonicalQuery(query), canon.block, canon.signed, payloadHash,
        ].joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(Digest.sha256(Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = Digest.hmacSHA256(key: Array("AWS4\(secretAccessKey)".utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = Digest.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = Hex.encode(Digest.hmacSHA256(key: key, Array(stringToSign.utf8)))
        return "AWS4-HMAC-SHA256 Credential=\(accessKeyId)/\(scope),SignedHeaders=\(canon.signed),Signature=\(signature)"
    }

    /// Sorted, encoded `name=value&…` (a name without value gets `name=`).
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0, keepSlash: false), uriEncode($0.1, keepSlash: false)) }
            .sorted { $0.0 == $1.0 ? $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) : $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Lowercased names with trimmed, space-collapsed values, sorted; and the signed-headers list.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (block: String, signed: String) {
        var merged: [String: [String]] = [:]
        for (n, v) in headers {
            let value = v.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            merged[n.lowercased(), default: []].append(value)
        }
        let names = merged.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let block = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    /// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything else is
    /// `%XX` (upper-case hex) of its UTF-8 bytes; `/` stays when `keepSlash`.
    public static func uriEncode(_ s: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for c in s.utf8 {
            let unreserved = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "~")
            if unreserved || (keepSlash && c == UInt8(ascii: "/")) {
                out.append(c)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(c >> 4)], hex[Int(c & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
