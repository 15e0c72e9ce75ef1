// Names in JSON (Docs/Format.md, "Names in JSON"): one lossless encoding for every JSON
// Cairn writes (export manifest, `ls --json`, `diff --json`, `restore --json`).
//
// A name field `K` holds the name as text. When the bytes are valid UTF-8 that text is the
// name itself (control characters use JSON escapes, so nothing is lost). Otherwise `K`
// holds the escaped form (`FileName.escaped`, for people) and a sibling `KBytes` holds
// the raw bytes in base64 (RFC 4648, with padding); readers take `KBytes` when present.

import Foundation

extension FileName {
    /// The text of a JSON name field: the name when valid UTF-8, else its escaped form.
    public var jsonText: String { utf8String ?? escaped }

    /// The base64 of the raw bytes when they are not valid UTF-8 (the `…Bytes` field), else nil.
    public var jsonBase64: String? { isValidUTF8 ? nil : Data(bytes).base64EncodedString() }

    /// Decodes a JSON name: `base64` (the `…Bytes` field) wins; otherwise the UTF-8 of `text`.
    /// Nil when `base64` is present but not valid base64.
    public static func fromJSON(text: String?, base64: String?) -> FileName? {
        if let b = base64 {
            guard let d = Data(base64Encoded: b) else { return nil }
            return FileName(bytes: d)
        }
        return text.map { FileName(utf8: $0) }
    }
}

extension FileName {
    /// A list of names as two JSON fields: `K` (the texts) and `KBytes`, aligned with `K`, holding
    /// the base64 of each name that is not valid UTF-8 and `null` for the others. `KBytes` is nil
    /// (the field is left out) when every name is valid UTF-8.
    public static func jsonList(_ names: [FileName]) -> (texts: [String], bytes: [String?]?) {
        let bytes = names.map(\.jsonBase64)
        return (names.map(\.jsonText), bytes.contains { $0 != nil } ? bytes : nil)
    }

    /// Decodes a list written by `jsonList`, strictly: nil when `bytes` is not aligned with
    /// `texts`, holds invalid base64, or a decoded name is valid UTF-8 or does not escape to its
    /// text (a list no writer produces).
    public static func fromJSONList(texts: [String], bytes: [String?]?) -> [FileName]? {
        guard let bytes else { return texts.map { FileName(utf8: $0) } }
        guard bytes.count == texts.count else { return nil }
        var out: [FileName] = []
        out.reserveCapacity(texts.count)
        for (text, b) in zip(texts, bytes) {
            guard let b else { out.append(FileName(utf8: text)); continue }
            guard let name = fromJSON(text: nil, base64: b), !name.isValidUTF8, name.escaped == text else { return nil }
            out.append(name)
        }
        return out
    }
}
