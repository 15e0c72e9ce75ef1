// SnapshotOnLaunch: the smallest application that uses Cairn as a library. At start-up it
// snapshots its data folder through `CairnSession` (lock, hooks, stored policy, exactly as
// `cairn snapshot` does), tagged "startup" and carrying the app's version as metadata.
//
//   cairn-example REPO DATA_DIR
//
// The first run creates REPO and registers DATA_DIR as silo "data".

import CairnCore
import Foundation

let args = CommandLine.arguments
guard args.count == 3 else {
    FileHandle.standardError.write(Data("usage: cairn-example REPO DATA_DIR\n".utf8))
    exit(64)
}
do {
    let repo = URL(fileURLWithPath: args[1])
    if !FileManager.default.fileExists(atPath: repo.appendingPathComponent("config.json").path) {
        _ = try Repository.create(at: repo.path)
    }
    let cairn = try CairnSession(repository: repo, command: "cairn-example")
    if try cairn.repository.silos().isEmpty { try cairn.repository.addSilo(Silo(name: "data", path: args[2])) }
    let outcome = try cairn.snapshot(tags: ["startup"], meta: ["app": "snapshot-on-launch", "app_version": "1.0"])
    print("snapshot \(outcome.snapshot?.shortId ?? "none") taken at launch")
} catch let e as CairnError {
    FileHandle.standardError.write(Data("cairn-example: \(e.description)\n".utf8))
    exit(e.code.exitCode)
}
