// A strict JSON parser (integers apart from other numbers) and a validator for the subset of
// JSON Schema that Docs/json-schema/ uses: type, const, enum, properties, required,
// additionalProperties (boolean), items, minimum, maximum, minLength.

import Foundation

/// A parsed JSON value.
public indirect enum JSONValue: Equatable, Sendable {
    case null, bool(Bool), integer(Int64), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var int: Int64? { if case .integer(let i) = self { return i }; return nil }
}

/// Parses one JSON text (RFC 8259); nil when it is not exactly one valid value.
public func parseJSON(_ text: String) -> JSONValue? {
    var p = JSONParser(bytes: Array(text.utf8))
    guard let v = p.value() else { return nil }
    p.skipSpace()
    return p.i == p.bytes.count ? v : nil
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }

    mutating func literal(_ s: String) -> Bool {
        let l = Array(s.utf8)
        guard i + l.count <= bytes.count, Array(bytes[i..<i + l.count]) == l else { return false }
        i += l.count
        return true
    }

    mutating func value() -> JSONValue? {
        skipSpace()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "\""): return string().map { .string($0) }
        case UInt8(ascii: "["):
            i += 1
            var out: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            while true {
                guard let v = value() else { return nil }
                out.append(v)
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
                return nil
            }
        case UInt8(ascii: "{"):
            i += 1
            var out: [String: JSONValue] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let k = string() else { return nil }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let v = value(), out[k] == nil else { return nil }  // duplicate keys are invalid here
                out[k] = v
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
                return nil
            }
        default: return number()
        }
    }

    mutating func string() -> String? {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return String(validating: out, as: UTF8.self) }
            if b < 0x20 { return nil }
            if b != UInt8(ascii: "\\") { out.append(b); continue }
            guard i < bytes.count else { return nil }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                guard i + 4 <= bytes.count, let u = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else { return nil }
                i += 4
                var scalar = u
                if (0xD800..<0xDC00).contains(u) {
                    guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                          let lo = UInt32(String(decoding: bytes[i + 2..<i + 6], as: UTF8.self), radix: 16), (0xDC00..<0xE000).contains(lo) else { return nil }
                    i += 6
                    scalar = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                }
                guard let s = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: Array(String(Character(s)).utf8))
            default: return nil
            }
        }
        return nil
    }

    mutating func number() -> JSONValue? {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        var integral = true
        while i < bytes.count {
            let b = bytes[i]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { i += 1; continue }
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") {
                integral = false
                i += 1
                continue
            }
            break
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if integral, let v = Int64(text) { return .integer(v) }
        if let d = Double(text), d.isFinite { return .number(d) }
        return nil
    }
}

/// Validates `value` against `schema`; returns the problems found (empty: valid).
public func validate(_ value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
    guard case .object(let s) = schema else { return ["\(path): schema is not an object"] }
    var problems: [String] = []
    if let t = s["type"] {
        let allowed: [String] = t.string.map { [$0] } ?? { if case .array(let a) = t { return a.compactMap(\.string) }; return [] }()
        if !allowed.contains(where: { matches(value, type: $0) }) { return ["\(path): \(describe(value)) is not of type \(allowed)"] }
    }
    if let c = s["const"], c != value { problems.append("\(path): \(describe(value)) is not \(describe(c))") }
    if case .array(let options)? = s["enum"], !options.contains(value) { problems.append("\(path): \(describe(value)) is not one of \(options.map(describe))") }
    if let min = s["minimum"].flatMap(numeric), let v = numeric(value), v < min { problems.append("\(path): \(v) < minimum \(min)") }
    if let max = s["maximum"].flatMap(numeric), let v = numeric(value), v > max { problems.append("\(path): \(v) > maximum \(max)") }
    if let ml = s["minLength"]?.int, let str = value.string, str.count < ml { problems.append("\(path): shorter than \(ml)") }
    if case .object(let o) = value {
        if case .array(let req)? = s["required"] {
            for k in req.compactMap(\.string) where o[k] == nil { problems.append("\(path): missing key \(k)") }
        }
        let props: [String: JSONValue] = { if case .object(let p)? = s["properties"] { return p }; return [:] }()
        for (k, v) in o {
            if let ps = props[k] { problems += validate(v, against: ps, at: "\(path).\(k)") } else if s["additionalProperties"] == .bool(false) {
                problems.append("\(path): unexpected key \(k)")
            }
        }
    }
    if case .array(let a) = value, let items = s["items"] {
        for (i, v) in a.enumerated() { problems += validate(v, against: items, at: "\(path)[\(i)]") }
    }
    return problems
}

func matches(_ v: JSONValue, type: String) -> Bool {
    switch (type, v) {
    case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
         ("string", .string), ("array", .array), ("object", .object): return true
    default: return false
    }
}

func numeric(_ v: JSONValue) -> Double? {
    switch v {
    case .integer(let i): return Double(i)
    case .number(let d): return d
    default: return nil
    }
}

func describe(_ v: JSONValue) -> String {
    switch v {
    case .null: return "null"
    case .bool(let b): return "\(b)"
    case .integer(let i): return "\(i)"
    case .number(let d): return "\(d)"
    case .string(let s): return "\"\(s)\""
    case .array(let a): return "array(\(a.count))"
    case .object(let o): return "object(\(o.keys.sorted().joined(separator: ",")))"
    }
}
