// Application metadata: KEY=VALUE pairs an application attaches to a snapshot (app name,
// app version, schema version) and the checks `restore` and `import` run against them.
//
// Owns: parsing and bounds of pairs (keys `[a-z0-9_.-]+`, at most 64 bytes; values at most
// 256 bytes of printable UTF-8; at most 32 pairs) and the require/warn comparison.
// Crash properties: pure functions; the pairs are stored in the snapshot record (`meta`),
// so they are written with it, last, like every other record field.

/// Application metadata of a snapshot: sorted KEY=VALUE pairs.
public enum SnapshotMeta {
    /// Longest key in bytes.
    public static let maxKeyBytes = 64
    /// Longest value in bytes.
    public static let maxValueBytes = 256
    /// Most pairs on one snapshot.
    public static let maxPairs = 32

    /// Parses `KEY=VALUE` arguments; `option` names the flag in messages (e.g. "--meta").
    /// A key given twice is an error.
    public static func parse(_ args: [String], option: String) throws -> [String: String] {
        guard args.count <= maxPairs else {
            throw CairnError(.invalidInput, "\(option) given \(args.count) times; at most \(maxPairs) pairs are allowed")
        }
        var out: [String: String] = [:]
        for a in args {
            guard let eq = a.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                throw CairnError(.invalidInput, "\(option) '\(escape(a))' is not KEY=VALUE; write e.g. \(option) app_version=1.4")
            }
            let key = String(decoding: a.utf8[..<eq], as: UTF8.self)
            let value = String(decoding: a.utf8[a.utf8.index(after: eq)...], as: UTF8.self)
            try validate(key: key, value: value, option: option)
            guard out[key] == nil else { throw CairnError(.invalidInput, "\(option) gives key '\(key)' twice; give each key once") }
            out[key] = value
        }
        return out
    }

    /// Checks one pair's bounds.
    public static func validate(key: String, value: String, option: String = "meta") throws {
        let k = Array(key.utf8)
        let keyOK = !k.isEmpty && k.count <= maxKeyBytes && k.allSatisfy { c in
            (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 46 || c == 45
        }
        guard keyOK else {
            throw CairnError(.invalidInput, "\(option) key '\(escape(key))' is not valid; use 1 to \(maxKeyBytes) of a-z, 0-9, '_', '.', '-'")
        }
        let v = Array(value.utf8)
        guard v.count <= maxValueBytes else {
            throw CairnError(.invalidInput, "\(option) value of '\(key)' is \(v.count) bytes; at most \(maxValueBytes) are allowed")
        }
        guard !v.contains(where: { $0 < 32 || $0 == 127 }) else {
            throw CairnError(.invalidInput, "\(option) value of '\(key)' holds a control character; give printable text")
        }
    }

    /// Validates stored pairs (a record read from disk or an archive is hostile input).
    public static func validate(_ meta: [String: String], what: String) throws {
        guard meta.count <= maxPairs else { throw CairnError(.invalidInput, "\(what) holds \(meta.count) metadata pairs, more than \(maxPairs)") }
        for (k, v) in meta { try validate(key: k, value: v, option: "\(what): metadata") }
    }

    /// One-line human form: `k1=v1 k2=v2`, keys sorted, values escaped.
    public static func format(_ meta: [String: String]?) -> String {
        (meta ?? [:]).sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { "\($0.key)=\(escape($0.value))" }.joined(separator: " ")
    }

    /// The requirements `meta` does not meet, one description each (empty when all are met).
    public static func mismatches(_ meta: [String: String]?, against wanted: [String: String]) -> [String] {
        wanted.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.compactMap { k, v in
            guard let have = meta?[k] else { return "\(k) is absent (wanted \(k)=\(escape(v)))" }
            return have == v ? nil : "\(k)=\(escape(have)), wanted \(k)=\(escape(v))"
        }
    }

    /// Applies `--require-meta` (throws `metadataMismatch`) and returns the `--warn-meta`
    /// mismatches for the caller to print. `what` names the snapshot or archive.
    public static func check(_ meta: [String: String]?, require: [String: String], warn: [String: String], what: String) throws -> [String] {
        let bad = mismatches(meta, against: require)
        if !bad.isEmpty {
            throw CairnError(.metadataMismatch, "\(what) does not match --require-meta: \(bad.joined(separator: "; ")); pick a snapshot taken by a matching application or drop the requirement")
        }
        return mismatches(meta, against: warn).map { "\(what) does not match --warn-meta: \($0); proceeding" }
    }

    /// Non-printable bytes as \xNN so one pair stays on one line.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c.value < 32 || c.value == 127 { out += "\\x" + String(c.value, radix: 16).leftPadded(2) } else { out.unicodeScalars.append(c) }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
