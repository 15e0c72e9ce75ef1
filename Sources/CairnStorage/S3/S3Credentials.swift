// S3 credentials, found the way the AWS tools find them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_SESSION_TOKEN from the environment; else the profile AWS_PROFILE (default "default") of
// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials). Region:
// AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.

#if canImport(Glibc)
import Glibc
#endif

/// Keys for signing requests. `description` never shows the secret.
public struct S3Credentials: Sendable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var region: String
    /// Where the keys came from, for messages ("environment" or "profile P in FILE").
    public var source: String

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, region: String = "us-east-1", source: String = "explicit") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.source = source
    }

    public var description: String { "key id \(accessKeyId) from \(source)" }

    /// Resolves credentials from `env` (the process environment by default) and the shared file.
    public static func resolve(env: [String: String]) throws -> S3Credentials {
        let region = nonEmpty(env["AWS_REGION"]) ?? nonEmpty(env["AWS_DEFAULT_REGION"]) ?? "us-east-1"
        if let id = nonEmpty(env["AWS_ACCESS_KEY_ID"]) {
            guard let secret = nonEmpty(env["AWS_SECRET_ACCESS_KEY"]) else {
                throw StorageError(.permission, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both", detail: .badCredentials)
            }
            return S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: nonEmpty(env["AWS_SESSION_TOKEN"]), region: region, source: "environment")
        }
        let profile = nonEmpty(env["AWS_PROFILE"]) ?? "default"
        let file = nonEmpty(env["AWS_SHARED_CREDENTIALS_FILE"]) ?? ((nonEmpty(env["HOME"]) ?? "") + "/.aws/credentials")
        guard let text = readSmallFile(file) else {
            throw StorageError(.permission, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put profile [\(profile)] in \(file)", detail: .badCredentials)
        }
        let values = parseProfile(text, profile: profile)
        guard let id = nonEmpty(values["aws_access_key_id"]), let secret = nonEmpty(values["aws_secret_access_key"]) else {
            throw StorageError(.permission, "profile [\(profile)] in \(file) has no aws_access_key_id and aws_secret_access_key; add them or set AWS_PROFILE", detail: .badCredentials)
        }
        return S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: nonEmpty(values["aws_session_token"]),
                             region: nonEmpty(env["AWS_REGION"]) ?? nonEmpty(env["AWS_DEFAULT_REGION"]) ?? nonEmpty(values["region"]) ?? "us-east-1",
                             source: "profile \(profile) in \(file)")
    }

    /// The `key = value` lines of section `[profile]` of an INI file (comments and other sections ignored).
    static func parseProfile(_ text: String, profile: String) -> [String: String] {
        var inSection = false
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                inSection = String(line.dropFirst().dropLast()).trimmingSpaces == profile
                continue
            }
            guard inSection, let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq]).trimmingSpaces.lowercased()] = String(line[line.index(after: eq)...]).trimmingSpaces
        }
        return out
    }

    private static func nonEmpty(_ s: String?) -> String? { (s?.isEmpty ?? true) ? nil : s }

    /// A file of at most 1 MiB as text, or nil.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < 1 << 20 {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
