import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The package root (Docs/ lives there), from this file's path.
func packageRoot() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// Loads Docs/json-schema/NAME.json.
func schema(_ name: String) throws -> JSONValue {
    let text = String(decoding: try FS.readAll(packageRoot() + "/Docs/json-schema/\(name).json"), as: UTF8.self)
    return try #require(parseJSON(text), "Docs/json-schema/\(name).json is not JSON")
}

/// Every command's `--json` output (success and error cases), each line validated against
/// Docs/json-schema (Docs/JSON.md): documents for short commands, `status` lines then one
/// `summary` for long ones, and the `error` object for failures.
@Suite struct JSONSchemaTests {
    enum Shape { case document, lines }

    /// Runs one command and validates its JSON; returns the parsed lines.
    @discardableResult
    func check(_ name: String, _ args: [String], exit: Int32 = 0, shape: Shape = .document, stderrJSON: Bool = false,
               env: [String: String] = ["CAIRN_STATUS_INTERVAL": "0"]) throws -> [JSONValue] {
        let r = try run(cairnBinary(), args, env: env)
        #expect(r.status == exit, "\(args): exit \(r.status), want \(exit): \(r.stderr)")
        let text = stderrJSON ? r.stderr : r.stdout
        var values: [JSONValue] = []
        if shape == .document && exit == 0 {
            values = [try #require(parseJSON(text), "\(args): not one JSON document: \(text.prefix(300))")]
            #expect(try validate(values[0], against: schema(name)) == [], "\(args)")
            return values
        }
        let lines = text.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty, "\(args): no JSON output")
        for (i, line) in lines.enumerated() {
            let v = try #require(parseJSON(line), "\(args): line \(i) is not JSON: \(line.prefix(300))")
            values.append(v)
            let type = v["type"]?.string ?? ""
            let isLast = i == lines.count - 1
            switch type {
            case "status": #expect(!isLast, "\(args): a status line is last")
            case "summary", "error": #expect(isLast, "\(args): \(type) is not the last line")
            default: Issue.record("\(args): line \(i) has type '\(type)'")
            }
            let problems = try validate(v, against: schema(type == "summary" ? name : type))
            #expect(problems == [], "\(args) line \(i): \(problems)")
        }
        #expect(values.last?["type"]?.string == (exit == 0 ? "summary" : "error"), "\(args)")
        if exit != 0 { #expect(values.last?["exitCode"]?.int == Int64(exit)) }
        return values
    }

    @Test func everyCommandMatchesItsSchema() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("s/a.txt"), Array(repeating: UInt8(ascii: "a"), count: 5000))
        var rng = SeededBytes(seed: 15)
        try writeFile(t.sub("s/sub/b.bin"), rng.bytes(300_000))
        symlink("a.txt", t.sub("s/l"))
        let repo = t.sub("repo")
        let g = ["--repo", repo, "--json"]
        try check("init", ["init"] + g)
        try check("silo-add", ["silo", "add", "s", t.sub("s")] + g)
        try check("silo-add", ["silo", "add", "cmd", "--command", "echo hi", "--filename", "hi.txt"] + g)
        try check("silo-list", ["silo", "list"] + g)
        let first = try check("snapshot", ["snapshot", "--tag", "t1", "--meta", "app_version=1.4"] + g, shape: .lines)
        #expect(first.contains { $0["type"]?.string == "status" }, "snapshot printed no status event")
        try writeFile(t.sub("s/c.txt"), Array("new".utf8))
        try check("snapshot", ["snapshot", "--silo", "s"] + g, shape: .lines)
        try check("snapshot-skipped", ["snapshot", "--skip-if-unchanged"] + g, shape: .lines)
        try check("silo-exclude", ["silo", "exclude", "s", "--add", "*.tmp"] + g)
        try check("list", ["list"] + g)
        try check("find", ["find", "*.txt"] + g)
        try check("tag", ["tag", "latest", "--add", "checked"] + g)
        try check("show", ["show", "latest"] + g)
        try check("ls", ["ls", "latest", "s", "-r"] + g)
        try check("stats", ["stats"] + g)
        try check("estimate", ["estimate"] + g)
        try check("check", ["check", "--read-data"] + g, shape: .lines)
        try check("check", ["check", "--rebuild-index"] + g, shape: .lines)
        try check("diff", ["diff", "latest", "live"] + g)
        try check("restore", ["restore", "latest", "--dry-run"] + g, shape: .lines)
        let restored = try check("restore", ["restore", "latest", "--to", t.sub("out")] + g, shape: .lines)
        #expect(restored.contains { $0["type"]?.string == "status" }, "restore printed no status event")
        try check("restore", ["restore", "latest", "--silo", "s"] + g, shape: .lines)
        try check("restore", ["restore", "--recover"] + g, shape: .lines)
        try check("export-estimate", ["export", "latest", "--estimate"] + g)
        let exported = try check("export", ["export", "latest", "-o", t.sub("x.zip")] + g, shape: .lines)
        #expect(exported.contains { $0["type"]?.string == "status" }, "export printed no status event")
        try check("export", ["export", "latest", "-o", "-"] + g, shape: .lines, stderrJSON: true)
        try check("inspect", ["inspect", t.sub("x.zip"), "--json"])
        try check("init", ["init", "--repo", repo + "2", "--json"])
        try check("import", ["import", t.sub("x.zip"), "--repo", repo + "2", "--json"], shape: .lines)
        let copied = try check("copy", ["copy", "--to", repo + "2"] + g, shape: .lines)
        #expect((copied.last?["copied"]?.int ?? 0) >= 2 && copied.last?["alreadyPresent"]?.int == 0, "copy summary: \(copied)")
        try check("copy", ["copy", "latest", "--from", repo, "--repo", repo + "2", "--json"], shape: .lines)
        try check("show", ["show", "latest", "--repo", repo + "2", "--json"])
        try check("list", ["list", "--repo", repo + "2", "--json"])
        let unset = try check("policy", ["policy", "show"] + g)
        #expect(unset.first?["set"] == .bool(false))
        try check("policy", ["policy", "set", "--keep-last", "3"] + g)
        try check("policy", ["policy", "show"] + g)
        try check("forget", ["forget", "--keep-last", "2", "--dry-run"] + g)
        try check("forget", ["forget", "--keep-last", "2", "--prune"] + g)
        try check("policy-clear", ["policy", "clear"] + g)
        try check("prune", ["prune", "--dry-run"] + g, shape: .lines)
        try check("prune", ["prune"] + g, shape: .lines)
        try check("unlock", ["unlock"] + g)
        try check("migrate", ["migrate"] + g)
        try check("silo-remove", ["silo", "remove", "cmd"] + g)
        // Errors: one error object, the exit code inside matching the process's.
        try check("error", ["cat", "latest", "s/a.txt"] + g, exit: 18)
        try check("error", ["list", "--json", "--repo", t.sub("none")], exit: 10)
        try check("error", ["show", "zzz"] + g, exit: 18)
        try check("error", ["show", "abcdef12"] + g, exit: 13)
        try check("error", ["--json", "lst"], exit: 64)
        try check("error", ["list", "--bogus"] + g, exit: 64)
        try check("error", ["help", "nope", "--json"], exit: 64)
        try check("error", ["export", "nope", "-o", "-"] + g, exit: 18, stderrJSON: true)
        try check("error", ["silo", "add", "s", t.sub("s")] + g, exit: 20)
    }

    /// The validator is not a rubber stamp: it rejects each kind of violation the schemas can state.
    @Test func validatorRejectsWrongShapes() throws {
        let status = try schema("status")
        let good = try #require(parseJSON(#"{"type":"status","command":"export","phase":null,"unit":"files","done":1,"total":2,"bytesDone":5,"bytesTotal":null,"percent":50,"bytesPerSecond":1.5,"etaSeconds":null,"elapsedSeconds":0.5,"current":null}"#))
        #expect(validate(good, against: status) == [])
        for bad in [#""done":1,"#: #""done":"1","#, #""percent":50,"#: #""percent":150,"#, #""unit":"files","#: #""unit":"bytes","#,
                    #""current":null}"#: #""current":null,"extra":1}"#, #""type":"status","#: #""type":"summary","#, #""phase":null,"#: ""] {
            var text = #"{"type":"status","command":"export","phase":null,"unit":"files","done":1,"total":2,"bytesDone":5,"bytesTotal":null,"percent":50,"bytesPerSecond":1.5,"etaSeconds":null,"elapsedSeconds":0.5,"current":null}"#
            text = text.replacingOccurrences(of: bad.key, with: bad.value)
            let v = try #require(parseJSON(text), "\(text)")
            #expect(validate(v, against: status) != [], "accepted: \(text)")
        }
        #expect(parseJSON(#"{"a":1,"a":2}"#) == nil && parseJSON("[1,]") == nil && parseJSON(#"{"a":1} x"#) == nil)
        #expect(parseJSON("12")?.int == 12 && parseJSON("1.5") == .number(1.5))
    }

    /// Modes are integers and paths `{silo, path}` in ls, in restore's change list, as in the manifest's mode.
    @Test func modesAndPathsHaveOneShape() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("s/d/f.txt"), Array("x".utf8), mode: 0o640)
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let ls = try #require(parseJSON(try cairn(repo, ["ls", "latest", "s", "-r", "--json"]).stdout))
        guard case .array(let rows) = ls else { Issue.record("ls --json is not an array"); return }
        let f = try #require(rows.first { $0["path"]?.string == "d/f.txt" })
        #expect(f["silo"]?.string == "s")
        #expect(f["mode"]?.int.map { $0 & 0o777 } == 0o640)
        unlink(t.sub("s/d/f.txt"))
        let dry = try cairn(repo, ["restore", "latest", "--dry-run", "--json"])
        let summary = try #require(parseJSON(String(dry.stdout.split(separator: "\n").last ?? "")))
        guard case .array(let changes)? = summary["changes"] else { Issue.record("no changes: \(dry.stdout)"); return }
        #expect(changes.contains { $0["silo"]?.string == "s" && $0["path"]?.string == "d/f.txt" }, "\(changes)")
    }
}
