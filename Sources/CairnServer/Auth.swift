// Authentication: named bearer tokens stored as SHA-256 hashes in a token file.
//
// File format (one token per line, `#` starts a comment):
//   NAME SHA256-HEX-OF-TOKEN [read-only]
// Tokens never reach disk or logs in clear; `cairn serve --add-token NAME` prints a new
// token once and appends its hash. Comparison hashes the presented token and compares
// it against every stored hash in constant time (no early exit, no length leak).

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One stored token: its name (logged), its hash, and whether it may change anything.
public struct TokenEntry: Sendable, Equatable {
    public var name: String
    public var hash: [UInt8]
    public var readOnly: Bool
}

/// The identity a request was authenticated as.
public struct Principal: Sendable {
    public var name: String
    public var readOnly: Bool
    static let anonymous = Principal(name: "-", readOnly: false)
}

/// The token file, parsed.
public struct TokenStore: Sendable {
    public var tokens: [TokenEntry]

    /// Parses `path`; a malformed line is an error naming the line.
    public static func load(path: String) throws -> TokenStore {
        let bytes = try FS.readAll(path)
        guard bytes.count <= 1 << 20 else { throw CairnError(.invalidInput, "token file \(path) is larger than 1 MiB; it should hold one short line per token", path: path) }
        var out: [TokenEntry] = []
        for (n, raw) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if f.isEmpty { continue }
            guard f.count == 2 || (f.count == 3 && f[2] == "read-only"), let h = Hex.decode(f[1]), h.count == 32, validName(f[0]) else {
                throw CairnError(.invalidInput, "token file \(path) line \(n + 1) is not `NAME SHA256HEX [read-only]`; fix it or re-create the token with `cairn serve --add-token NAME`", path: path)
            }
            if out.contains(where: { $0.name == f[0] }) {
                throw CairnError(.invalidInput, "token file \(path) line \(n + 1) repeats the name \(f[0]); token names must be unique", path: path)
            }
            out.append(TokenEntry(name: f[0], hash: h, readOnly: f.count == 3))
        }
        return TokenStore(tokens: out)
    }

    static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }
    }

    /// The principal whose token is `presented`, or nil. Constant time in the token's content.
    public func authenticate(_ presented: String) -> Principal? {
        let h = BlockId.hash(Array(presented.utf8)).bytes
        var found: TokenEntry?
        for t in tokens {
            var diff: UInt8 = 0
            for i in 0..<32 { diff |= t.hash[i] ^ h[i] }
            if diff == 0 && found == nil { found = t }
        }
        return found.map { Principal(name: $0.name, readOnly: $0.readOnly) }
    }

    /// Creates a token named `name`, appends its hash to `path` (created 0600) and returns the token.
    public static func add(path: String, name: String, readOnly: Bool) throws -> String {
        guard validName(name) else { throw CairnError(.invalidInput, "token name '\(name)' must be 1-64 letters, digits, '.', '-' or '_'") }
        if FS.exists(path), try load(path: path).tokens.contains(where: { $0.name == name }) {
            throw CairnError(.alreadyExists, "token file \(path) already has a token named \(name); choose another name or remove that line")
        }
        var raw = [UInt8](repeating: 0, count: 32)
        for i in raw.indices { raw[i] = UInt8.random(in: 0...255) }
        let token = "cairn_" + Hex.encode(raw)
        let line = "\(name) \(BlockId.hash(Array(token.utf8)).hex)\(readOnly ? " read-only" : "")\n"
        let f = try PosixFile.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o600)
        defer { f.close() }
        try f.write(Array(line.utf8))
        try f.sync()
        return token
    }
}
