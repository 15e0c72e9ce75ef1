// The few S3 XML answers Cairn reads (ListObjectsV2, InitiateMultipartUpload, Error), parsed by
// a small bounded scanner: elements are found by name, text is entity-decoded, and nothing is
// trusted beyond the bytes received.

enum S3XML {
    /// Texts of every `<tag>…</tag>` in `xml`, in order (not nested ones of the same name).
    static func all(_ tag: String, in xml: Substring) -> [Substring] {
        let open = "<\(tag)>", close = "</\(tag)>"
        var out: [Substring] = []
        var rest = xml[...]
        while let a = rest.range(of: open) {
            guard let b = rest[a.upperBound...].range(of: close) else { break }
            out.append(rest[a.upperBound..<b.lowerBound])
            rest = rest[b.upperBound...]
        }
        return out
    }

    /// Decoded text of the first `<tag>`.
    static func first(_ tag: String, in xml: Substring) -> String? { all(tag, in: xml).first.map(decode) }

    /// Replaces the five XML entities and numeric character references.
    static func decode(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        var out = ""
        var rest = s[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].prefix(12).firstIndex(of: ";") else { out += "&"; rest = rest[rest.index(after: amp)...]; continue }
            let name = rest[rest.index(after: amp)..<semi]
            switch name {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var v: UInt32? = nil
                if name.hasPrefix("#x") || name.hasPrefix("#X") { v = UInt32(name.dropFirst(2), radix: 16) }
                else if name.hasPrefix("#") { v = UInt32(name.dropFirst(), radix: 10) }
                if let v, let u = Unicode.Scalar(v) { out.unicodeScalars.append(u) } else { out += "&" + name + ";" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    struct ListResult {
        var keys: [(key: String, size: UInt64)]
        var truncated: Bool
        var continuation: String?
    }

    static func listObjects(_ xml: String) -> ListResult? {
        let s = xml[...]
        guard s.contains("<ListBucketResult") else { return nil }
        var keys: [(String, UInt64)] = []
        for c in all("Contents", in: s) {
            guard let k = first("Key", in: c), let size = first("Size", in: c).flatMap({ UInt64($0) }) else { return nil }
            keys.append((k, size))
        }
        return ListResult(keys: keys, truncated: first("IsTruncated", in: s) == "true",
                          continuation: first("NextContinuationToken", in: s))
    }

    /// Code and message of an `<Error>` document.
    static func error(_ xml: String) -> (code: String, message: String)? {
        let s = xml[...]
        guard s.contains("<Error>"), let code = first("Code", in: s) else { return nil }
        return (code, oneLine(first("Message", in: s) ?? ""))
    }

    /// At most 300 characters, control characters replaced (server text quoted in one-line messages).
    static func oneLine(_ s: String) -> String {
        String(s.prefix(300).map { $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true ? " " : $0 })
    }
}
