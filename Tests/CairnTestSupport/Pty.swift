// A process on a pseudo-terminal: the child is a session leader with the pty as its
// controlling terminal, so it sees a real terminal width (TIOCGWINSZ), gets SIGWINCH when
// the test resizes it, and Ctrl-C (byte 0x03) sends it SIGINT through the line discipline.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class PtyProcess: @unchecked Sendable {
    public let pid: pid_t
    let master: Int32
    /// Everything the child wrote so far.
    public private(set) var output: [UInt8] = []
    private var status: Int32?

    /// Starts `exe args` on a new pty `columns` wide.
    public init(_ exe: String, _ args: [String], columns: UInt16, rows: UInt16 = 24, env: [String: String] = [:]) throws {
        // posix_openpt/ptsname are not visible to Swift here: the Linux ioctls behind them.
        let m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
        guard m >= 0, ioctl(m, TIOCSPTLCK, &unlock) == 0, ioctl(m, TIOCGPTN, &number) == 0 else {
            if m >= 0 { close(m) }
            throw CairnError.posix("cannot open a pty", path: "/dev/ptmx")
        }
        master = m
        let slave = "/dev/pts/\(number)"
        var ws = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(m, UInt(TIOCSWINSZ), &ws)
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        // Opened after setsid (POSIX_SPAWN_SETSID): the first tty a session leader opens becomes its controlling terminal.
        posix_spawn_file_actions_addopen(&fa, 0, slave, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&fa, 0, 1)
        posix_spawn_file_actions_adddup2(&fa, 0, 2)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc >= 2.26)
        do { pid = try spawnProcess(exe, args, env: env.merging(["TERM": "xterm"]) { a, _ in a }, fileActions: &fa, extraFlags: setsid) } catch {
            close(m)
            throw error
        }
    }

    deinit { close(master) }

    /// Reads what is available within `timeout` seconds; false once the child closed the pty.
    @discardableResult
    public func pump(timeout: Double) -> Bool {
        var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        let n = poll(&pfd, 1, Int32(timeout * 1000))
        if n <= 0 { return true }
        var buf = [UInt8](repeating: 0, count: 65536)
        let r = buf.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
        if r <= 0 { return false }
        output.append(contentsOf: buf[0..<r])
        return true
    }

    /// Reads until `predicate` holds on the output so far, or `timeout` seconds pass.
    public func read(until predicate: ([UInt8]) -> Bool, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(output) { return true }
            if !pump(timeout: 0.05) { return predicate(output) }
        }
        return predicate(output)
    }

    /// Types bytes on the terminal (0x03 is Ctrl-C).
    public func type(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) } }

    /// Changes the terminal's width; the kernel sends SIGWINCH to the child.
    public func resize(columns: UInt16, rows: UInt16 = 24) {
        var ws = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
    }

    /// Reads the rest of the output and waits for the child; its exit status (128+signal when killed).
    @discardableResult
    public func wait(timeout: Double = 60) -> Int32 {
        if let s = status { return s }
        let deadline = Date().addingTimeInterval(timeout)
        var st: Int32 = 0
        while true {
            _ = pump(timeout: 0.05)
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid { break }
            if Date() >= deadline { kill(pid, SIGKILL) }
        }
        while pump(timeout: 0.05) && !output.isEmpty, poll0() {}
        let code: Int32 = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
        status = code
        return code
    }

    private func poll0() -> Bool {
        var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0 && pfd.revents & Int16(POLLIN) != 0
    }

    /// The output as terminal lines: split at CR and LF, with the erase-line sequence removed.
    public var segments: [String] { PtyProcess.segments(of: output) }

    /// `bytes` as terminal lines (see `segments`).
    public static func segments(of bytes: [UInt8]) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\u{1B}[K", with: "")
        return text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }).map(String.init)
    }
}

/// Columns a string takes, conservatively: non-ASCII characters count as two.
public func terminalColumns(_ s: String) -> Int { s.unicodeScalars.reduce(0) { $0 + ($1.isASCII ? 1 : 2) } }
