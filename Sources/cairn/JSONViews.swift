// JSON shapes the CLI adds around library results (Docs/JSON.md): the same conventions in
// every command. A path is `{"silo": NAME, "path": REL}` with REL silo-relative and
// `/`-separated ("" for the silo's root); modes are integers (permission bits).

import CairnCore

/// Splits "SILO/rel/path" into the silo name and the silo-relative path (silo names hold no "/").
func splitSiloPath(_ full: FileName) -> (silo: String, path: FileName) {
    guard let slash = full.bytes.firstIndex(of: 0x2F) else { return (full.jsonText, FileName(bytes: [])) }
    return (FileName(bytes: full.bytes[..<slash]).jsonText, FileName(bytes: full.bytes[(slash + 1)...]))
}

/// `policy show` / `policy set`: always an object; `set` says whether a policy is stored.
struct PolicyJSON: Encodable {
    var policy: RetentionPolicy?
    init(_ p: RetentionPolicy?) { policy = p }
    enum K: String, CodingKey { case set, summary }
    func encode(to encoder: Encoder) throws {
        try policy?.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(policy != nil, forKey: .set)
        try c.encode(policy?.summary ?? "no policy set", forKey: .summary)
    }
}

/// `check` summary: the report, plus the index rebuild's counts with `--rebuild-index`.
struct CheckJSON: Encodable {
    var report: CheckReport
    var rebuiltIndex: [String: Int]?
    enum K: String, CodingKey { case rebuiltIndex }
    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(rebuiltIndex, forKey: .rebuiltIndex)
    }
}
