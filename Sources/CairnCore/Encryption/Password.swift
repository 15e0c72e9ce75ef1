// Where a password comes from: a file (--password-file), a command's standard output
// (--password-command), an environment variable (CAIRN_PASSWORD), or a prompt on the terminal
// with echo off. Passwords are bytes; one trailing newline (LF or CRLF) is dropped.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The password sources of one command, in the order they are tried: file, command,
/// environment variable, terminal prompt.
public struct PasswordOptions: Sendable {
    /// A file whose content is the password.
    public var file: String?
    /// A shell command (`/bin/sh -c`) that prints the password.
    public var command: String?
    /// The environment variable to read, normally `CAIRN_PASSWORD`.
    public var variable: String
    /// The environment to read it from.
    public var environment: [String: String]
    /// Prompt on the controlling terminal when standard input is one and no other source is set.
    public var allowPrompt: Bool

    public init(file: String? = nil, command: String? = nil, variable: String = Password.variable,
                environment: [String: String] = ProcessInfo.processInfo.environment, allowPrompt: Bool = true) {
        self.file = file
        self.command = command
        self.variable = variable
        self.environment = environment
        self.allowPrompt = allowPrompt
    }
}

/// Reading and checking passwords.
public enum Password {
    /// The environment variable holding the password.
    public static let variable = "CAIRN_PASSWORD"
    /// Longest password accepted, in bytes.
    public static let maxLength = 4096
    /// Largest password file or command output read.
    static let maxInput = 64 << 10

    /// The password from the first source `options` has. `purpose` names it in the prompt
    /// ("password for /repo"); `confirm` asks twice on a terminal (new passwords). No source at
    /// all is `keyMissing` (exit 29).
    public static func read(_ options: PasswordOptions, purpose: String, confirm: Bool = false) throws -> [UInt8] {
        if options.file != nil && options.command != nil {
            throw CairnError(.usage, "give either --password-file or --password-command, not both")
        }
        let pw: [UInt8]
        if let f = options.file {
            pw = try fromFile(f)
        } else if let c = options.command {
            pw = try fromCommand(c)
        } else if let v = options.environment[options.variable] {
            pw = Array(v.utf8)
        } else if options.allowPrompt, isatty(0) == 1 {
            pw = try prompt("\(purpose.prefix(1).uppercased())\(purpose.dropFirst()): ")
            if confirm, try prompt("Repeat the \(purpose): ") != pw {
                throw CairnError(.invalidInput, "the two passwords typed differ; nothing was changed, run the command again")
            }
        } else {
            throw CairnError(.keyMissing, "no \(purpose) given: set \(options.variable), pass --password-file FILE or --password-command CMD, or run on a terminal to be asked")
        }
        try checkNew(pw)
        return pw
    }

    /// Refuses an empty or overlong password.
    public static func checkNew(_ pw: [UInt8]) throws {
        if pw.isEmpty { throw CairnError(.invalidInput, "the password is empty; give a non-empty password") }
        if pw.count > maxLength { throw CairnError(.invalidInput, "the password is \(pw.count) bytes, more than \(maxLength); give a shorter one") }
    }

    /// Drops one trailing LF or CRLF.
    static func trimmed(_ b: [UInt8]) -> [UInt8] {
        var b = b
        if b.last == 0x0A { b.removeLast(); if b.last == 0x0D { b.removeLast() } }
        return b
    }

    static func fromFile(_ path: String) throws -> [UInt8] {
        let f = try PosixFile.open(path, O_RDONLY)
        defer { f.close() }
        var buf = [UInt8](repeating: 0, count: maxInput + 1)
        let n = try buf.withUnsafeMutableBytes { try f.readFully(into: $0.baseAddress!, count: $0.count) }
        guard n <= maxInput else {
            throw CairnError(.invalidInput, "password file \(path) is larger than \(maxInput) bytes; it should hold only the password", path: path)
        }
        return trimmed(Array(buf[0..<n]))
    }

    static func fromCommand(_ command: String) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw CairnError(.invalidInput, "--password-command could not be started (\(error)); check the command")
        }
        // The parent's copy of the write end must be closed, or the read below never sees EOF.
        try? out.fileHandleForWriting.close()
        let src = PosixFile(fd: dup(out.fileHandleForReading.fileDescriptor), path: "--password-command")
        defer { src.close() }
        var buf = [UInt8](repeating: 0, count: maxInput + 1)
        let n = try buf.withUnsafeMutableBytes { try src.readFully(into: $0.baseAddress!, count: $0.count) }
        let data = buf[0..<n]
        if data.count > maxInput { p.terminate() }
        p.waitUntilExit()
        guard data.count <= maxInput else {
            throw CairnError(.invalidInput, "--password-command printed more than \(maxInput) bytes; it should print only the password")
        }
        guard p.terminationReason == .exit, p.terminationStatus == 0 else {
            throw CairnError(.invalidInput, "--password-command \(p.terminationReason == .exit ? "exited with status" : "was killed by signal") \(p.terminationStatus); no password was read, fix the command")
        }
        return trimmed(Array(data))
    }

    /// Reads one line from the controlling terminal with echo off.
    static func prompt(_ text: String) throws -> [UInt8] {
        let fd = Glibc.open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw CairnError.posix("cannot open the terminal to ask for a password:", path: "/dev/tty") }
        defer { Glibc.close(fd) }
        var saved = termios()
        let haveTerm = tcgetattr(fd, &saved) == 0
        if haveTerm {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ICANON)
            tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer {
            if haveTerm { tcsetattr(fd, TCSAFLUSH, &saved) }
            _ = Glibc.write(fd, "\n", 1)
        }
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        var line: [UInt8] = []
        var c: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &c, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || c == 0x0A { break }
            guard line.count <= maxLength else { throw CairnError(.invalidInput, "the password typed is longer than \(maxLength) bytes") }
            line.append(c)
        }
        if line.last == 0x0D { line.removeLast() }
        return line
    }
}
