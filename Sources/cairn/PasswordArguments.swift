// Password options shared by every command that needs one (`export --encrypt`, `import` of an
// encrypted archive; later the key commands). The sources and their order are in
// CairnCore/Encryption/Password.swift: --password-file, --password-command, CAIRN_PASSWORD, a
// no-echo prompt on the terminal.

import ArgumentParser
import CairnCore

struct PasswordArguments: ParsableArguments {
    @Option(name: .customLong("password-file"), help: "Read the password from FILE (one trailing newline is dropped).")
    var passwordFile: String?
    @Option(name: .customLong("password-command"), help: "Run CMD with /bin/sh and use what it prints as the password.")
    var passwordCommand: String?

    var options: PasswordOptions { PasswordOptions(file: passwordFile, command: passwordCommand) }

    /// The password from the first source given; `purpose` names it in the prompt and errors.
    func read(_ purpose: String, confirm: Bool = false) throws -> [UInt8] {
        try Password.read(options, purpose: purpose, confirm: confirm)
    }
}
