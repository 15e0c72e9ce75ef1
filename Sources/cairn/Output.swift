// Where the CLI's output goes, and the one error format (Docs/CLI.md, Docs/JSON.md).
//
// Human output: results on stdout; `cairn: error: MESSAGE`, `cairn: warning: ...`,
// `cairn: note: ...` and the progress line on stderr. Under `--json`: short commands print
// one JSON document on stdout; long commands print JSON lines (`status` events, then one
// `summary`); an error is one `error` object line, on the same stream as the rest of the
// JSON. That stream is stdout, except for commands whose stdout carries data (`export -o -`),
// where it is stderr.

import ArgumentParser
import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes to stdout (buffered; flushed after every JSON line so consumers see events as they
/// happen, and at exit) and stderr (unbuffered, after flushing stdout so the order holds).
/// Every write goes through here (never `print`), so nothing is reordered.
enum Out {
    private final class Buffer: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var bytes: [UInt8] = []
        init() { pthread_mutex_init(&mutex, nil) }
    }
    private static let buffer = Buffer()

    /// `--json` was given. Set once by `main` before any command runs.
    nonisolated(unsafe) static var jsonMode = false
    /// JSON goes to stderr because stdout carries data. Set by such commands before any output.
    nonisolated(unsafe) static var jsonToStderr = false

    static func line(_ s: String) { write(1, s + "\n", flush: false) }
    static func err(_ s: String) { write(2, s + "\n") }

    /// Writes `s` to `fd`: stdout through the buffer (written out when `flush` or past 64 KiB),
    /// stderr at once (after the buffer).
    static func write(_ fd: Int32, _ s: String, flush: Bool = true) {
        pthread_mutex_lock(&buffer.mutex)
        defer { pthread_mutex_unlock(&buffer.mutex) }
        if fd == 1 {
            buffer.bytes.append(contentsOf: s.utf8)
            if flush || buffer.bytes.count >= 64 << 10 { drain() }
            return
        }
        drain()
        writeAll(fd, Array(s.utf8))
    }

    /// Writes out buffered stdout (at exit).
    static func flush() {
        pthread_mutex_lock(&buffer.mutex)
        drain()
        pthread_mutex_unlock(&buffer.mutex)
    }

    /// Called with the mutex held.
    private static func drain() {
        if buffer.bytes.isEmpty { return }
        writeAll(1, buffer.bytes)
        buffer.bytes.removeAll(keepingCapacity: true)
    }

    /// All of `bytes` to `fd`, retrying short writes and EINTR.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var bytes = bytes
        bytes.withUnsafeMutableBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }

    /// One JSON document (short commands), pretty-printed with sorted keys.
    static func json<T: Encodable>(_ v: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        write(jsonToStderr ? 2 : 1, String(decoding: try enc.encode(v), as: UTF8.self) + "\n")
    }

    /// One JSON line of the given `type` (`status`, `summary`, `error`): `v`'s fields plus "type".
    static func event<T: Encodable>(_ type: String, _ v: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        write(jsonToStderr ? 2 : 1, String(decoding: try enc.encode(Typed(type: type, value: v)), as: UTF8.self) + "\n")
    }

    /// The final result of a long command: one `summary` line.
    static func summary<T: Encodable>(_ v: T) throws { try event("summary", v) }
}

/// An object's fields plus a "type" key (the wrapped value must encode as an object).
private struct Typed<T: Encodable>: Encodable {
    var type: String
    var value: T
    enum Key: String, CodingKey { case type }
    func encode(to encoder: Encoder) throws {
        try value.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type, forKey: .type)
    }
}

/// The `error` object of Docs/JSON.md.
struct ErrorJSON: Encodable {
    var code: String
    var exitCode: Int32
    var message: String
    var path: String?
    var offset: UInt64?
    enum K: String, CodingKey { case code, exitCode, message, path, offset }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        try c.encode(code, forKey: .code)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(message, forKey: .message)
        try c.encode(path, forKey: .path)      // null when absent: the key is always there
        try c.encode(offset, forKey: .offset)
    }
}

/// Reports a failure in the one format and returns the exit code.
enum Report {
    /// Prints `e` (one stderr line, or one JSON error object under --json).
    static func error(_ e: CairnError) -> Int32 {
        ProgressLine.clearActive()
        if Out.jsonMode {
            let j = ErrorJSON(code: e.code.rawValue, exitCode: e.code.exitCode, message: e.message, path: e.path, offset: e.offset)
            if (try? Out.event("error", j)) == nil { Out.err("cairn: error: \(e.description)") }
        } else if e.code == .interrupted || e.code == .terminated {
            Out.err("cairn: \(e.message)")
        } else {
            Out.err("cairn: error: \(e.description)")
        }
        return e.code.exitCode
    }

    /// Turns anything a command or the parser threw into output and an exit code.
    static func exitCode(for error: Error, argv: Argv) -> Int32 {
        if let e = error as? CairnError { return self.error(e) }
        if let code = error as? ExitCode { return code.rawValue }
        let parserCode = CairnCommand.exitCode(for: error)
        if parserCode == .success {
            // --help, --version and the like.
            let text = CairnCommand.fullMessage(for: error)
            if !text.isEmpty { Out.line(text) }
            return 0
        }
        if parserCode.rawValue == CairnError.Code.usage.exitCode || parserCode == .validationFailure {
            return self.error(usageError(CairnCommand.message(for: error), argv: argv))
        }
        return self.error(CairnError(.internalError, "\(error)"))
    }

    /// A usage error: the parser's message, a suggestion when the word is a near miss, and where to read more.
    static func usageError(_ parserMessage: String, argv: Argv) -> CairnError {
        let command = Argv.command(at: argv.path, root: CairnCommand.self) ?? CairnCommand.self
        var msg = parserMessage.split(separator: "\n").first.map(String.init) ?? parserMessage
        if msg.hasPrefix("Error: ") { msg.removeFirst(7) }
        // The parser's own suggestion, in the one style: "...; did you mean `--json`?".
        if let r = msg.range(of: ". Did you mean '") {
            let word = msg[r.upperBound...].prefix { $0 != "'" }
            msg = msg[..<r.lowerBound] + "; did you mean `\(word)`?"
        }
        if !msg.lowercased().contains("did you mean"), let word = quotedWord(msg) {
            let candidates = word.hasPrefix("-") ? Suggest.options(of: command, root: CairnCommand.self) : Suggest.subcommands(of: command)
            if let s = Suggest.nearest(word, in: candidates) { msg += "; did you mean `\(s)`?" }
        }
        let more = (["cairn", "help"] + argv.path).joined(separator: " ")
        return CairnError(.usage, "\(msg); see `\(more)`")
    }

    /// The first word between single quotes in a parser message (`Unexpected argument 'lst'`).
    static func quotedWord(_ s: String) -> String? {
        let parts = s.split(separator: "'", omittingEmptySubsequences: false)
        return parts.count >= 3 ? String(parts[1]) : nil
    }
}
