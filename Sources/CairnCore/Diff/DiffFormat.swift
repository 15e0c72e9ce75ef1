// Output formats of `cairn diff`: human lines, totals only (--stat), JSON and JSON lines.
//
// Human (`DiffFormat.human`): one line per change, then one `total:` line. Paths are
// SILO/relative/path; SIZE is `ByteFormat.human`; DELTA is signed ("+1.0 KiB", "-750 B").
//
//     + SILO/  (silo added)                  first line of a silo only in B
//     - SILO/  (silo removed)                first line of a silo only in A
//     + SILO/PATH  (SIZE)                    added file
//     + SILO/PATH/                           added directory
//     + SILO/PATH  (symlink -> TARGET)       added symlink
//     - SILO/PATH  (SIZE)                    removed: the same three shapes with "-"
//     M SILO/PATH  (OLDSIZE -> NEWSIZE, DELTA, NEWCONTENT new content)   modified file
//     M SILO/PATH  (symlink target OLD -> NEW)                           modified symlink
//     T SILO/PATH  (OLDKIND -> NEWKIND)      kind change; KIND is file, dir or symlink
//     R SILO/OLDPATH -> SILO/PATH  (SIZE)    rename
//     m SILO/PATH  (META)                    metadata only (lowercase: content unchanged);
//                                            a directory's path ends with "/"
//
// META (only with `DiffOptions.metadata`) is "mode 644 -> 755" (permission bits, octal)
// and/or "mtime 2023-11-14T22:13:20Z -> 2023-11-14T22:14:20Z" (UTC; nanoseconds are shown
// when the seconds are equal), joined by ", ". On M and R lines it follows "; " inside
// the parentheses.
//
// Totals (`DiffFormat.stat`, --stat): one line per silo with changes, then the total line:
//
//     SILO: [silo added, |silo removed, ]COUNTS; +BYTESADDED -BYTESREMOVED, CONTENT new content
//     total: COUNTS; +BYTESADDED -BYTESREMOVED, CONTENT new content[; SILOS][; repository +R]
//
// COUNTS lists the nonzero ones of "N added", "N removed", "N modified", "N renamed",
// "N type changed", "N metadata only", "N dir(s) added", "N dir(s) removed" (added /
// removed / ... count files and symlinks), or is "no changes" (then the byte part is left
// out). SILOS is "N silo(s) added" and/or "N silo(s) removed". The repository part appears
// when `DiffReport.repositoryBytesAdded` is set. Bytes are as in `DiffTotals`.
//
// JSON (`DiffFormat.json`): one compact document, keys in exactly this order, then "\n":
//
//     {"version":1,"addedSilos":[S,...],"removedSilos":[S,...],
//      "silos":[{"silo":S,"state":"common"|"added"|"removed","totals":TOTALS,"changes":[CHANGE,...]},...],
//      "totals":{TOTALS keys...,"repositoryBytesAdded":N|null},"treeBlocksRead":N|null}
//     CHANGE = {"silo":S,"kind":"added"|"removed"|"modified"|"typeChanged"|"renamed"|"metadata",
//               "path":S,"oldPath":S|null,"oldKind":K|null,"newKind":K|null,"oldSize":N|null,
//               "newSize":N|null,"sizeDelta":N,"contentBytesChanged":N,"oldTarget":S|null,
//               "newTarget":S|null,"oldMode":N|null,"newMode":N|null,"oldMtimeNs":N|null,
//               "newMtimeNs":N|null,"pathBytes":B|null,"oldPathBytes":B|null,
//               "oldTargetBytes":B|null,"newTargetBytes":B|null}
//     TOTALS = {"filesAdded":N,"filesRemoved":N,"filesModified":N,"filesRenamed":N,
//               "typeChanged":N,"metadataOnly":N,"dirsAdded":N,"dirsRemoved":N,
//               "bytesAdded":N,"bytesRemoved":N,"contentBytesChanged":N}
//
// K is "file", "dir" or "symlink"; paths are silo-relative; modes are the stored mode as
// a decimal integer; every key is always present (null when it does not apply). Names are
// bytes: a path or target that is valid UTF-8 is its JSON string and its `…Bytes` key is
// null; otherwise the string holds the escaped form and `…Bytes` (B) the raw bytes in
// base64 (Docs/Format.md, "Names in JSON"). Human output shows names escaped (`\xNN`).
//
// JSON lines (`DiffFormat.jsonLines`): one object per line, each change as
// {"type":"change",CHANGE keys...}, then one final
// {"type":"totals","addedSilos":[...],"removedSilos":[...],TOTALS keys...,"repositoryBytesAdded":N|null,
//  "treeBlocksRead":N|null}.
// `treeBlocksRead` is `DiffReport.treeBlocksRead`: the tree blocks the diff loaded.

/// Renders a `DiffReport` (formats described at the top of DiffFormat.swift).
public enum DiffFormat {
    /// The output styles of `cairn diff`.
    public enum Style: String, Sendable, CaseIterable {
        case human, stat, json, jsonLines
    }

    /// The whole output for `style`, newline-terminated.
    public static func render(_ report: DiffReport, style: Style) -> String {
        var out = ""
        emit(report, style: style) { out += $0 + "\n" }
        return out
    }

    /// Hands the output for `style` to `line`, one line at a time (no newlines), so a
    /// caller can print a large diff without building the whole text (`.json` is one line).
    public static func emit(_ report: DiffReport, style: Style, to line: (String) -> Void) {
        switch style {
        case .human: human(report, to: line)
        case .stat: stat(report).forEach(line)
        case .json: line(json(report))
        case .jsonLines: jsonLines(report, to: line)
        }
    }

    /// Human lines: silo lines and one line per change, then the total line.
    public static func human(_ report: DiffReport) -> [String] {
        var out: [String] = []
        human(report) { out.append($0) }
        return out
    }

    static func human(_ report: DiffReport, to out: (String) -> Void) {
        for s in report.silos {
            if s.state == .added { out("+ \(s.silo)/  (silo added)") }
            if s.state == .removed { out("- \(s.silo)/  (silo removed)") }
            for c in s.changes { out(line(c)) }
        }
        out(totalLine(report))
    }

    /// One change as a human line (no newline).
    public static func line(_ c: Change) -> String {
        let p = c.silo + "/" + c.path.escaped
        let meta = metadataText(c)
        switch c.kind {
        case .added, .removed:
            let kind = c.kind == .added ? c.newKind : c.oldKind
            let size = c.kind == .added ? c.newSize : c.oldSize
            let target = c.kind == .added ? c.newTarget : c.oldTarget
            switch kind {
            case .directory?: return "\(c.kind.marker) \(p)/"
            case .symlink?: return "\(c.kind.marker) \(p)  (symlink -> \(target?.escaped ?? ""))"
            default: return "\(c.kind.marker) \(p)  (\(ByteFormat.human(size ?? 0)))"
            }
        case .modified:
            let suffix = meta.isEmpty ? "" : "; " + meta
            if c.newKind == .symlink {
                return "M \(p)  (symlink target \(c.oldTarget?.escaped ?? "") -> \(c.newTarget?.escaped ?? "")\(suffix))"
            }
            return "M \(p)  (\(ByteFormat.human(c.oldSize ?? 0)) -> \(ByteFormat.human(c.newSize ?? 0)), \(ByteFormat.signed(c.sizeDelta)), "
                + "\(ByteFormat.human(c.contentBytesChanged)) new content\(suffix))"
        case .typeChanged:
            return "T \(p)  (\(c.oldKind?.name ?? "?") -> \(c.newKind?.name ?? "?"))"
        case .renamed:
            return "R \(c.silo)/\(c.oldPath?.escaped ?? "") -> \(p)  (\(ByteFormat.human(c.newSize ?? 0))\(meta.isEmpty ? "" : "; " + meta))"
        case .metadata:
            return "m \(p)\(c.newKind == .directory ? "/" : "")  (\(meta))"
        }
    }

    /// Totals only: one line per silo with changes, then the total line.
    public static func stat(_ report: DiffReport) -> [String] {
        var out: [String] = []
        for s in report.silos where s.state != .common || !s.totals.isEmpty {
            var items = s.state == .added ? ["silo added"] : s.state == .removed ? ["silo removed"] : []
            items += countItems(s.totals)
            out.append("\(s.silo): " + (items.isEmpty ? "no changes" : items.joined(separator: ", ")) + bytesPart(s.totals))
        }
        out.append(totalLine(report))
        return out
    }

    /// The `total:` line.
    public static func totalLine(_ report: DiffReport) -> String {
        let items = countItems(report.totals)
        var s = "total: " + (items.isEmpty ? "no changes" : items.joined(separator: ", ")) + bytesPart(report.totals)
        var silos: [String] = []
        if !report.addedSilos.isEmpty { silos.append(plural(report.addedSilos.count, "silo", "added")) }
        if !report.removedSilos.isEmpty { silos.append(plural(report.removedSilos.count, "silo", "removed")) }
        if !silos.isEmpty { s += "; " + silos.joined(separator: ", ") }
        if let r = report.repositoryBytesAdded { s += "; repository +" + ByteFormat.human(r) }
        return s
    }

    /// The JSON document (no trailing newline).
    public static func json(_ report: DiffReport) -> String {
        var totals = totalsFields(report.totals)
        totals.append(("repositoryBytesAdded", report.repositoryBytesAdded.map { .uint($0) } ?? .null))
        let silos: [DiffJSON] = report.silos.map { s in
            .object([("silo", .string(s.silo)), ("state", .string(s.state.rawValue)), ("totals", .object(totalsFields(s.totals))),
                     ("changes", .array(s.changes.map { .object(changeFields($0)) }))])
        }
        return DiffJSON.object([
            ("version", .int(1)),
            ("addedSilos", .array(report.addedSilos.map { .string($0) })),
            ("removedSilos", .array(report.removedSilos.map { .string($0) })),
            ("silos", .array(silos)),
            ("totals", .object(totals)),
            ("treeBlocksRead", report.treeBlocksRead.map { .int(Int64($0)) } ?? .null),
        ]).text
    }

    /// JSON lines: one object per change, then the totals object (no newlines).
    public static func jsonLines(_ report: DiffReport) -> [String] {
        var out: [String] = []
        jsonLines(report) { out.append($0) }
        return out
    }

    static func jsonLines(_ report: DiffReport, to out: (String) -> Void) {
        for s in report.silos {
            for c in s.changes { out(DiffJSON.object([("type", .string("change"))] + changeFields(c)).text) }
        }
        var totals: [(String, DiffJSON)] = [("type", .string("totals")),
                                             ("addedSilos", .array(report.addedSilos.map { .string($0) })),
                                             ("removedSilos", .array(report.removedSilos.map { .string($0) }))]
        totals += totalsFields(report.totals)
        totals.append(("repositoryBytesAdded", report.repositoryBytesAdded.map { .uint($0) } ?? .null))
        totals.append(("treeBlocksRead", report.treeBlocksRead.map { .int(Int64($0)) } ?? .null))
        out(DiffJSON.object(totals).text)
    }

    // MARK: - Pieces

    static func metadataText(_ c: Change) -> String {
        var parts: [String] = []
        if let o = c.oldMode, let n = c.newMode {
            parts.append("mode \(String(o & 0o7777, radix: 8)) -> \(String(n & 0o7777, radix: 8))")
        }
        if let o = c.oldMtimeNs, let n = c.newMtimeNs {
            var a = timestamp(o, nanos: false), b = timestamp(n, nanos: false)
            if a == b {
                a = timestamp(o, nanos: true)
                b = timestamp(n, nanos: true)
            }
            parts.append("mtime \(a) -> \(b)")
        }
        return parts.joined(separator: ", ")
    }

    static func countItems(_ t: DiffTotals) -> [String] {
        var items: [String] = []
        func add(_ n: Int, _ text: String) { if n > 0 { items.append("\(n) \(text)") } }
        add(t.filesAdded, "added")
        add(t.filesRemoved, "removed")
        add(t.filesModified, "modified")
        add(t.filesRenamed, "renamed")
        add(t.typeChanged, "type changed")
        add(t.metadataOnly, "metadata only")
        if t.dirsAdded > 0 { items.append(plural(t.dirsAdded, "dir", "added")) }
        if t.dirsRemoved > 0 { items.append(plural(t.dirsRemoved, "dir", "removed")) }
        return items
    }

    static func bytesPart(_ t: DiffTotals) -> String {
        t.isEmpty ? "" : "; +\(ByteFormat.human(t.bytesAdded)) -\(ByteFormat.human(t.bytesRemoved)), \(ByteFormat.human(t.contentBytesChanged)) new content"
    }

    static func plural(_ n: Int, _ noun: String, _ verb: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s") \(verb)" }

    static func totalsFields(_ t: DiffTotals) -> [(String, DiffJSON)] {
        [("filesAdded", .int(Int64(t.filesAdded))), ("filesRemoved", .int(Int64(t.filesRemoved))),
         ("filesModified", .int(Int64(t.filesModified))), ("filesRenamed", .int(Int64(t.filesRenamed))),
         ("typeChanged", .int(Int64(t.typeChanged))), ("metadataOnly", .int(Int64(t.metadataOnly))),
         ("dirsAdded", .int(Int64(t.dirsAdded))), ("dirsRemoved", .int(Int64(t.dirsRemoved))),
         ("bytesAdded", .uint(t.bytesAdded)), ("bytesRemoved", .uint(t.bytesRemoved)),
         ("contentBytesChanged", .uint(t.contentBytesChanged))]
    }

    static func changeFields(_ c: Change) -> [(String, DiffJSON)] {
        func str(_ s: String?) -> DiffJSON { s.map { .string($0) } ?? .null }
        func uint(_ n: UInt64?) -> DiffJSON { n.map { .uint($0) } ?? .null }
        func int(_ n: Int64?) -> DiffJSON { n.map { .int($0) } ?? .null }
        func name(_ n: FileName?) -> DiffJSON { n.map { .string($0.jsonText) } ?? .null }
        func bytes(_ n: FileName?) -> DiffJSON { str(n?.jsonBase64) }
        return [("silo", .string(c.silo)), ("kind", .string(c.kind.rawValue)), ("path", name(c.path)), ("oldPath", name(c.oldPath)),
                ("oldKind", str(c.oldKind?.name)), ("newKind", str(c.newKind?.name)), ("oldSize", uint(c.oldSize)), ("newSize", uint(c.newSize)),
                ("sizeDelta", .int(c.sizeDelta)), ("contentBytesChanged", .uint(c.contentBytesChanged)),
                ("oldTarget", name(c.oldTarget)), ("newTarget", name(c.newTarget)),
                ("oldMode", uint(c.oldMode.map(UInt64.init))), ("newMode", uint(c.newMode.map(UInt64.init))),
                ("oldMtimeNs", int(c.oldMtimeNs)), ("newMtimeNs", int(c.newMtimeNs)),
                ("pathBytes", bytes(c.path)), ("oldPathBytes", bytes(c.oldPath)), ("oldTargetBytes", bytes(c.oldTarget)),
                ("newTargetBytes", bytes(c.newTarget))]
    }

    /// UTC "YYYY-MM-DDTHH:MM:SSZ" (with ".nnnnnnnnn" before the Z when `nanos`).
    static func timestamp(_ ns: Int64, nanos: Bool) -> String {
        var (secs, frac) = ns.quotientAndRemainder(dividingBy: 1_000_000_000)
        if frac < 0 { secs -= 1; frac += 1_000_000_000 }
        var (days, rem) = secs.quotientAndRemainder(dividingBy: 86_400)
        if rem < 0 { days -= 1; rem += 86_400 }
        // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ n: Int64, _ w: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        let date = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rem / 3600, 2)):\(pad(rem / 60 % 60, 2)):\(pad(rem % 60, 2))"
        return date + (nanos ? "." + pad(frac, 9) : "") + "Z"
    }
}

/// Human byte sizes in binary units.
public enum ByteFormat {
    /// "0 B" ... "1023 B", then one decimal: "1.0 KiB", "1.5 MiB", "2.0 GiB" (up to EiB).
    public static func human(_ n: UInt64) -> String {
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(n) / 1024
        var i = 0
        while (v * 10).rounded() >= 10_240, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[i])"
    }

    /// A signed size: "+1.0 KiB", "-750 B", "+0 B".
    public static func signed(_ n: Int64) -> String { (n < 0 ? "-" : "+") + human(n.magnitude) }
}

/// A minimal JSON value that keeps object keys in the order given.
enum DiffJSON {
    case null
    case int(Int64)
    case uint(UInt64)
    case string(String)
    case array([DiffJSON])
    case object([(String, DiffJSON)])

    var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .int(let n): out += String(n)
        case .uint(let n): out += String(n)
        case .string(let s): DiffJSON.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out += "," }
                DiffJSON.quote(k, into: &out)
                out += ":"
                v.write(into: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
