// Where an S3 repository is: `s3:http://HOST:PORT/BUCKET/PREFIX` (restic's form; `s3:HOST/…`
// without a scheme means https). Parsed with bounds: the host, port, bucket and every prefix
// segment are checked before anything is sent.

/// A parsed `s3:` repository URL.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public enum Addressing: String, Sendable { case path, virtualHost }

    public var secure: Bool
    public var host: String
    public var port: Int?
    public var bucket: String
    /// Key prefix without leading or trailing `/` (may be empty).
    public var prefix: String
    public var addressing: Addressing

    /// `host[:port]` as sent in the Host header (no port when it is the scheme's default).
    public var authority: String {
        guard let port, port != (secure ? 443 : 80) else { return host }
        return "\(host):\(port)"
    }

    /// The repository URL, without credentials.
    public var description: String {
        "s3:\(secure ? "https" : "http")://\(authority)/\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)")
    }

    /// Parses `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX…]` or `s3:HOST[:PORT]/BUCKET[/PREFIX…]`.
    public static func parse(_ url: String, addressing: Addressing = .path) throws -> S3Location {
        func bad(_ why: String) -> StorageError {
            StorageError(.fatal, "invalid S3 repository URL \"\(url.prefix(200))\": \(why); use s3:http://HOST:PORT/BUCKET/PREFIX")
        }
        guard url.utf8.count <= 2048 else { throw bad("longer than 2048 bytes") }
        guard url.hasPrefix("s3:") else { throw bad("it does not start with s3:") }
        var rest = Substring(url.dropFirst(3))
        var secure = true
        if rest.hasPrefix("https://") { rest = rest.dropFirst(8) }
        else if rest.hasPrefix("http://") { secure = false; rest = rest.dropFirst(7) }
        else if rest.contains("://") { throw bad("only http and https are supported") }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let hostPort = parts.first, !hostPort.isEmpty else { throw bad("the host is missing") }
        guard !hostPort.contains("@") else { throw bad("credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") }
        var host = String(hostPort), port: Int? = nil
        if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else { throw bad("the port must be 1...65535") }
            port = p
        }
        guard !host.isEmpty, host.utf8.count <= 253,
              host.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            throw bad("the host must be a DNS name or IPv4 address")
        }
        guard parts.count >= 2, !parts[1].isEmpty else { throw bad("the bucket is missing") }
        let bucket = String(parts[1])
        let bu = Array(bucket.utf8)
        guard (3...63).contains(bu.count), isAlnum(bu.first!), isAlnum(bu.last!),
              bu.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
            throw bad("the bucket name must be 3-63 letters, digits, '.', '-' or '_'")
        }
        var segments = parts.dropFirst(2).map(String.init)
        while segments.last == "" { segments.removeLast() }
        for s in segments {
            guard !s.isEmpty, s != ".", s != "..", s.utf8.count <= 255,
                  s.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
                throw bad("prefix segment \"\(s.prefix(60))\" must be letters, digits, '.', '-' or '_' (and not . or ..)")
            }
        }
        return S3Location(secure: secure, host: host, port: port, bucket: bucket, prefix: segments.joined(separator: "/"), addressing: addressing)
    }

    /// The full key of a repository-relative path.
    func key(_ rel: String) -> String { prefix.isEmpty ? rel : prefix + "/" + rel }

    /// The URL a request for repository-relative `path` goes to (for messages and checks).
    public func url(forPath path: String) -> String { target(key: key(path)).url }

    /// The request URL and canonical path for `key` (nil: the bucket itself).
    func target(key: String?) -> (url: String, path: String, host: String) {
        let scheme = secure ? "https" : "http"
        let encodedKey = key.map { SigV4.uriEncode($0, keepSlash: true) }
        switch addressing {
        case .path:
            let path = "/\(bucket)" + (encodedKey.map { "/\($0)" } ?? "")
            return ("\(scheme)://\(authority)\(path)", path, authority)
        case .virtualHost:
            let h = "\(bucket).\(authority)"
            let path = "/" + (encodedKey ?? "")
            return ("\(scheme)://\(h)\(path)", path, h)
        }
    }
}

private func isAlnum(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}
