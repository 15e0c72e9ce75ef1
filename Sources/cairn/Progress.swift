// One progress model for long commands, drawn two ways: a line on a terminal (stderr) and,
// under `--json`, `status` events (Docs/JSON.md). Commands feed `Progress` from the
// library's callbacks; `Progress` throttles (terminal: every 0.1 s once the work has taken
// `CAIRN_PROGRESS_AFTER` seconds, default 1; JSON: at most every `CAIRN_STATUS_INTERVAL`
// seconds, default 0.5) and renders.
//
// The terminal line never exceeds the terminal's width (TIOCGWINSZ, re-read on SIGWINCH),
// so it never wraps: fields are dropped from the least useful up, and the current path is
// escaped (FileName.escape) and shortened in the middle.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a long command has done so far.
struct ProgressState: Sendable {
    /// What `done`/`total` count: files, blocks, packs, snapshots.
    var unit = "files"
    var done = 0
    var total: Int?
    var bytesDone: UInt64 = 0
    var bytesTotal: UInt64?
    /// The path being worked on, when known (raw; see `currentEscaped`).
    var current: FileName?
    /// `current` safe for a terminal and for JSON consumers (FileName.escape).
    var currentEscaped: String? { current?.escaped }
    /// A sub-step of the command (prune: mark, repack).
    var phase: String?

    /// 0...100 from bytes when their total is known, else from counts.
    var percent: Double? {
        if let t = bytesTotal, t > 0 { return min(100, Double(bytesDone) / Double(t) * 100) }
        if let t = total, t > 0 { return min(100, Double(done) / Double(t) * 100) }
        return nil
    }
}

/// The `status` event of Docs/JSON.md.
struct StatusJSON: Encodable {
    var command: String
    var phase: String?
    var unit: String
    var done: Int
    var total: Int?
    var bytesDone: UInt64
    var bytesTotal: UInt64?
    var percent: Double?
    var bytesPerSecond: Double
    var etaSeconds: Double?
    var elapsedSeconds: Double
    var current: String?
    enum K: String, CodingKey { case command, phase, unit, done, total, bytesDone, bytesTotal, percent, bytesPerSecond, etaSeconds, elapsedSeconds, current }
    /// Every key is present; unknown values are null.
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        let strings: [(K, String?)] = [(.command, command), (.phase, phase), (.unit, unit), (.current, current)]
        let counts: [(K, UInt64?)] = [(.done, UInt64(exactly: done)), (.total, total.flatMap { UInt64(exactly: $0) }),
                                      (.bytesDone, bytesDone), (.bytesTotal, bytesTotal)]
        let reals: [(K, Double?)] = [(.percent, percent), (.bytesPerSecond, bytesPerSecond), (.etaSeconds, etaSeconds), (.elapsedSeconds, elapsedSeconds)]
        for (k, v) in strings { try c.encode(v, forKey: k) }
        for (k, v) in counts { try c.encode(v, forKey: k) }
        for (k, v) in reals { try c.encode(v, forKey: k) }
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Progress of one long command.
final class Progress {
    let command: String
    let start = monotonicSeconds()
    private(set) var state = ProgressState()
    private let line: ProgressLine?
    private let json: Bool
    private var lastJSON = 0.0
    private var lastDraw = 0.0
    private let drawAfter: Double
    private let statusInterval: Double

    /// True when anything is shown (a terminal line or JSON events): worth computing totals.
    var enabled: Bool { line != nil || json }

    /// `terminalOnly`: no `status` events (for commands whose JSON is one document).
    init(_ command: String, unit: String = "files", terminalOnly: Bool = false) {
        self.command = command
        state.unit = unit
        json = Out.jsonMode && !terminalOnly
        line = !Out.jsonMode && cairnIsTTY(2) ? ProgressLine() : nil
        drawAfter = Progress.seconds("CAIRN_PROGRESS_AFTER", default: 1)
        statusInterval = Progress.seconds("CAIRN_STATUS_INTERVAL", default: 0.5)
    }

    /// A non-negative number of seconds from the environment, else `value`.
    static func seconds(_ name: String, default value: Double) -> Double {
        guard let v = ProcessInfo.processInfo.environment[name].flatMap(Double.init), v.isFinite, v >= 0 else { return value }
        return v
    }

    /// Sets the totals (nil: unknown).
    func setTotal(files: Int?, bytes: UInt64?, unit: String? = nil) {
        state.total = files
        state.bytesTotal = bytes
        if let unit { state.unit = unit }
    }

    /// Records new counters and shows them when it is time.
    func update(done: Int, bytes: UInt64, current: FileName? = nil, phase: String? = nil) {
        state.done = done
        state.bytesDone = bytes
        if let current { state.current = current }
        if let phase { state.phase = phase }
        let now = monotonicSeconds()
        let elapsed = now - start
        if json, elapsed >= statusInterval, now - lastJSON >= statusInterval {
            lastJSON = now
            try? Out.event("status", status(elapsed: elapsed))
        }
        if let line {
            // The latest state is kept for a redraw on SIGWINCH; painted at most every 0.1 s.
            let paint = elapsed >= drawAfter && now - lastDraw >= 0.1
            if paint { lastDraw = now }
            line.draw(ProgressText(command: command, state: state, elapsed: elapsed), paint: paint)
        }
    }

    /// The current `status` event.
    func status(elapsed: Double) -> StatusJSON {
        let t = ProgressText(command: command, state: state, elapsed: elapsed)
        return StatusJSON(command: command, phase: state.phase, unit: state.unit, done: state.done, total: state.total,
                          bytesDone: state.bytesDone, bytesTotal: state.bytesTotal, percent: state.percent.map { ($0 * 10).rounded() / 10 },
                          bytesPerSecond: t.rate.rounded(), etaSeconds: t.eta.map { $0.rounded() }, elapsedSeconds: (elapsed * 1000).rounded() / 1000,
                          current: state.currentEscaped)
    }

    /// Removes the terminal line (call before printing the result).
    func finish() { line?.clear() }
}

/// The fields of a progress line and how to fit them into a width.
struct ProgressText {
    var command: String
    var state: ProgressState
    var elapsed: Double

    /// Bytes per second so far (counts per second when no bytes move).
    var rate: Double { elapsed > 0 ? Double(state.bytesDone) / elapsed : 0 }

    /// Seconds left, from bytes when their total is known, else from counts.
    var eta: Double? {
        guard elapsed > 0.2 else { return nil }
        if let t = state.bytesTotal, t >= state.bytesDone, state.bytesDone > 0 {
            return Double(t - state.bytesDone) / (Double(state.bytesDone) / elapsed)
        }
        if let t = state.total, t >= state.done, state.done > 0 {
            return Double(t - state.done) / (Double(state.done) / elapsed)
        }
        return nil
    }

    static func clock(_ s: Double) -> String {
        let v = Int(min(s, 359_999).rounded())
        return v >= 3600 ? String(format: "%d:%02d:%02d", v / 3600, v / 60 % 60, v % 60) : String(format: "%d:%02d", v / 60, v % 60)
    }

    /// The line for a terminal `width` columns wide: at most `width - 1` columns (the last
    /// column is left free so no terminal wraps), ASCII control-free.
    func render(width: Int) -> String {
        let limit = max(width - 1, 1)
        let s = state
        var fields: [(text: String, priority: Int)] = []
        fields.append((s.phase.map { "\(command) \($0)" } ?? command, 6))
        fields.append((s.percent.map { String(format: "%3.0f%%", $0) } ?? "", 5))
        fields.append((s.total.map { "\(s.done)/\($0) \(s.unit)" } ?? "\(s.done) \(s.unit)", 4))
        if s.bytesDone > 0 || s.bytesTotal != nil {
            fields.append((s.bytesTotal.map { "\(ByteFormat.human(s.bytesDone))/\(ByteFormat.human($0))" } ?? ByteFormat.human(s.bytesDone), 2))
            fields.append(("\(ByteFormat.human(UInt64(max(0, min(rate, 1e18)))))/s", 1))
        }
        fields.append((eta.map { "ETA \(ProgressText.clock($0))" } ?? "", 3))
        fields = fields.filter { !$0.text.isEmpty }
        // Drop the least useful fields until the fixed part leaves room (or nothing is left to drop).
        func joined(_ f: [(text: String, priority: Int)]) -> String { f.map(\.text).joined(separator: "  ") }
        // The path is worth more than the rate and the byte counts once it would be cut to a stub.
        let pathRoom = s.currentEscaped.map { min(24, limit / 3, Columns.width($0)) } ?? 0
        func dropLeast(minPriority: Int) -> Bool {
            guard let i = fields.indices.filter({ fields[$0].priority >= minPriority }).min(by: { fields[$0].priority < fields[$1].priority }) else { return false }
            fields.remove(at: i)
            return true
        }
        while fields.count > 1, Columns.width(joined(fields)) > limit { _ = dropLeast(minPriority: 0) }
        while pathRoom > 0, fields.count > 1, limit - Columns.width(joined(fields)) - 2 < pathRoom, fields.contains(where: { $0.priority < 4 }) {
            _ = dropLeast(minPriority: 0)
        }
        var text = Columns.truncate(joined(fields), to: limit)
        if let cur = s.currentEscaped {
            let room = limit - Columns.width(text) - 2
            if room >= min(8, Columns.width(cur)), room > 0 { text += "  " + Columns.middle(cur, to: room) }
        }
        return text
    }
}

/// Terminal column arithmetic, conservative: every non-ASCII character counts as two columns.
enum Columns {
    static func width(_ s: String) -> Int { s.unicodeScalars.reduce(0) { $0 + ($1.isASCII ? 1 : 2) } }

    /// `s` cut to at most `n` columns from the end.
    static func truncate(_ s: String, to n: Int) -> String {
        var out = "", w = 0
        for ch in s {
            let cw = width(String(ch))
            if w + cw > n { break }
            out.append(ch)
            w += cw
        }
        return out
    }

    /// `s` shortened to at most `n` columns by replacing its middle with "...".
    static func middle(_ s: String, to n: Int) -> String {
        if width(s) <= n { return s }
        guard n > 3 else { return truncate(s, to: n) }
        let keep = n - 3
        let head = truncate(s, to: keep / 2)
        var tail = "", w = 0
        for ch in s.reversed() {
            let cw = width(String(ch))
            if w + cw > keep - keep / 2 { break }
            tail.insert(ch, at: tail.startIndex)
            w += cw
        }
        return head + "..." + tail
    }
}

/// The progress line on stderr. One at a time; the signal thread redraws it on SIGWINCH
/// and clears it before an interruption message, so drawing is serialized by a mutex.
final class ProgressLine: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var last: ProgressText?
    private var width: Int
    private var shown = false
    nonisolated(unsafe) private static var active: ProgressLine?
    nonisolated(unsafe) private static var activeMutex = pthread_mutex_t()

    init() {
        pthread_mutex_init(&mutex, nil)
        width = ProgressLine.terminalWidth()
        pthread_mutex_lock(&ProgressLine.activeMutex)
        ProgressLine.active = self
        pthread_mutex_unlock(&ProgressLine.activeMutex)
    }

    /// The width of the terminal on stderr (80 when it cannot be asked).
    static func terminalWidth() -> Int {
        var ws = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    /// Records `t` as the current state; shows it when `paint`.
    func draw(_ t: ProgressText, paint: Bool) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        last = t
        if paint { self.paint() }
    }

    /// Called with the mutex held.
    private func paint() {
        guard let t = last else { return }
        Out.write(2, "\r" + t.render(width: width) + "\u{1B}[K")
        shown = true
    }

    /// SIGWINCH: take the new width and redraw.
    func resized() {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        width = ProgressLine.terminalWidth()
        if shown { paint() }
    }

    func clear() {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if shown { Out.write(2, "\r\u{1B}[K") }
        shown = false
        last = nil
    }

    /// The line currently on screen, for the signal thread.
    static func withActive(_ body: (ProgressLine) -> Void) {
        pthread_mutex_lock(&activeMutex)
        let a = active
        pthread_mutex_unlock(&activeMutex)
        if let a { body(a) }
    }

    static func clearActive() { withActive { $0.clear() } }
}

func cairnIsTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }
