import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The progress line on a real terminal (a pty): never wider than the terminal, redrawn at
/// the new width on SIGWINCH, names escaped, and Ctrl-C leaving nothing behind.
@Suite struct PtyProgressTests {
    /// A repository with a silo of files with long, non-ASCII and control-character names,
    /// then a command silo that stalls, so the line stays on screen.
    func fixture(_ t: TempDir, stall: Bool) throws -> String {
        let repo = t.sub("repo")
        var rng = SeededBytes(seed: 4)
        for i in 0..<120 {
            let name: String
            switch i % 4 {
            case 0: name = String(repeating: "long-name-", count: 15) + "\(i).bin"
            case 1: name = "日本語のファイル名-\(i).txt"
            case 2: name = "esc\u{1B}[31mred\u{07}-\(i).dat"
            default: name = "plain-\(i)"
            }
            try writeFile(t.sub("data/deep/er/\(name)"), rng.bytes(16 << 10))
        }
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "a", t.sub("data")]).status == 0)
        if stall { #expect(try cairn(repo, ["silo", "add", "z", "--no-trial", "--command", "head -c 100000 /dev/zero; exec sleep 30", "--filename", "z"]).status == 0) }
        return repo
    }

    func expectFits(_ segments: [String], width: Int, _ what: String) {
        for s in segments {
            #expect(terminalColumns(s) < width, "\(what): a line of \(terminalColumns(s)) columns on a \(width)-column terminal: \(s)")
            #expect(!s.contains("\u{1B}") && !s.contains("\u{07}"), "\(what): a raw control character reached the terminal: \(s.debugDescription)")
        }
    }

    @Test(arguments: [200, 80, 40]) func lineFitsTheTerminal(width: Int) throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try fixture(t, stall: false)
        let p = try PtyProcess(cairnBinary(), ["snapshot", "--repo", repo], columns: UInt16(width), env: ["CAIRN_PROGRESS_AFTER": "0"])
        #expect(p.wait() == 0)
        let segs = p.segments
        let progress = segs.filter { $0.hasPrefix("snapshot") && !$0.contains("saved") }
        #expect(!progress.isEmpty, "no progress line drawn: \(segs)")
        expectFits(progress, width: width, "snapshot")
        // Percent and totals are there on 80 columns, the path shortened in the middle; a wide
        // terminal also gets bytes done/total and the rate.
        if width == 80 {
            #expect(progress.contains { $0.contains("%") && $0.contains("/120 files") && $0.contains("...") }, "\(progress)")
        }
        if width == 200 {
            #expect(progress.contains { $0.contains("%") && $0.contains("/120 files") && $0.contains("iB/s") && $0.contains(" KiB/") }, "\(progress)")
        }
    }

    @Test func redrawOnResizeAndCtrlCLeavesNothing() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try fixture(t, stall: true)
        let p = try PtyProcess(cairnBinary(), ["snapshot", "--repo", repo], columns: 80, env: ["CAIRN_PROGRESS_AFTER": "0"])
        // Wait for the line, then for silo a to be done: the command silo is stalled now.
        #expect(p.read(until: { String(decoding: $0, as: UTF8.self).contains(" files") }, timeout: 20), "\(p.segments)")
        // Silo a is done when the line stops moving for a second (a loaded machine may take seconds).
        for _ in 0..<30 {
            let n = p.output.count
            if !p.read(until: { $0.count > n }, timeout: 1.0) { break }
        }
        let before = p.output.count
        p.resize(columns: 40)
        #expect(p.read(until: { $0.count > before }, timeout: 5), "no redraw after SIGWINCH")
        usleep(100_000)
        p.pump(timeout: 0.1)
        let after = PtyProcess.segments(of: Array(p.output[before...]))
        #expect(!after.isEmpty)
        // The redraw shows the latest state: all of silo a's files.
        #expect(after.contains { $0.contains("120") }, "\(after)")
        expectFits(after, width: 40, "after resize")
        expectFits(PtyProcess.segments(of: Array(p.output[..<before])), width: 80, "before resize")
        p.type([0x03])
        let status = p.wait(timeout: 8)
        #expect(status == 130, "\(p.segments)")
        #expect(p.segments.last == "cairn: interrupted", "\(p.segments.suffix(3))")
        #expect(((try? FS.list(repo + "/locks")) ?? []).isEmpty)
        #expect(((try? FS.list(repo + "/tmp")) ?? []).isEmpty)
        #expect(((try? FS.list(repo + "/packs/tmp")) ?? []).isEmpty)
        #expect(try listSnapshotIds(repo).isEmpty)
        #expect(try cairn(repo, ["check"]).status == 0)
    }
}
