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
