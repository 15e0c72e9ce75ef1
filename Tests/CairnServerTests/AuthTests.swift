// Listening rules and bearer tokens: loopback without tokens, tokens required off loopback,
// missing / wrong / read-only tokens, and request logs that name tokens but never show them.

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct AuthTests {
    @Test func nonLoopbackAddressRequiresATokenFile() throws {
        let h = try ServerHarness("auth-listen")
        let r = try run(cairnBinary(), ["serve", "--repo", h.repo, "--listen", "0.0.0.0:0"])
        #expect(r.status == CairnError.Code.invalidInput.exitCode)
        #expect(r.stderr.contains("requires --token-file"), "\(r.stderr)")
        let bad = try run(cairnBinary(), ["serve", "--repo", h.repo, "--listen", "nonsense"])
        #expect(bad.status == CairnError.Code.invalidInput.exitCode)
    }

    @Test func tokensAreCheckedHashedAndLoggedByName() throws {
        let h = try ServerHarness("auth-tokens")
        let tf = h.dir.sub("tokens")
        let add = try run(cairnBinary(), ["serve", "--add-token", "backup-app", "--token-file", tf])
        #expect(add.status == 0, "\(add.stderr)")
        let token = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("cairn_") && token.utf8.count == 70)
        let ro = try run(cairnBinary(), ["serve", "--add-token", "viewer", "--read-only", "--token-file", tf]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try run(cairnBinary(), ["serve", "--add-token", "viewer", "--token-file", tf]).status == CairnError.Code.alreadyExists.exitCode)
        let stored = String(decoding: try FS.readAll(tf), as: UTF8.self)
        #expect(!stored.contains(token) && !stored.contains(ro), "the token file holds hashes only")
        #expect(stored.contains(BlockId.hash(Array(token.utf8)).hex))
        #expect(try FS.lstat(tf).mode & 0o077 == 0, "token file is private")

        h.extraArgs = ["--token-file", tf]
        try h.start()
        // The page and the API description need no token; the API does.
        #expect(try h.request("GET", "/", auth: false).status == 200)
        #expect(try h.request("GET", "/api/v1/openapi.json", auth: false).status == 200)
        let missing = try h.request("GET", "/api/v1/status", auth: false)
        #expect(missing.status == 401 && missing.code == "unauthorized")
        h.token = "cairn_" + String(repeating: "0", count: 64)
        #expect(try h.get("/api/v1/status").status == 401)
        #expect(try h.request("GET", "/api/v1/status", headers: ["Authorization: Basic eDp5"], auth: false).status == 401)
        h.token = ro
        #expect(try h.get("/api/v1/status").status == 200)
        let denied = try h.post("/api/v1/jobs", #"{"type":"snapshot"}"#)
        #expect(denied.status == 403 && denied.code == "read-only", "\(denied.text)")
        #expect(try h.request("PUT", "/api/v1/policy", json: #"{"keepLast":2}"#).status == 403)
        h.token = token
        let job = try h.runJob(#"{"type":"snapshot"}"#)
        #expect(job["state"] as? String == "succeeded")
        #expect(job["createdBy"] as? String == "backup-app")
        h.stop()
        let log = h.serverLog()
        #expect(log.contains("token=backup-app") && log.contains("token=viewer"))
        #expect(log.contains("401 token=-"))
        #expect(!log.contains(token) && !log.contains(ro), "the log never shows a token")
    }

    @Test func withoutTokensOnlyLoopbackHostNamesAreServed() throws {
        let h = try ServerHarness("auth-host")
        try h.start()
        #expect(try h.get("/api/v1/status").status == 200)
        // DNS rebinding: a page on another origin that resolves to 127.0.0.1 sends its own Host.
        let r = try h.request("GET", "/api/v1/status", headers: ["Host: evil.example:80"])
        #expect(r.status == 403 && r.code == "bad-host")
        // CSRF: another site's page posting to the loopback server (Origin differs) is refused,
        // and a JSON endpoint refuses bodies a plain form can send.
        let x = try h.request("POST", "/api/v1/jobs", json: #"{"type":"snapshot"}"#, headers: ["Origin: http://evil.example"])
        #expect(x.status == 403 && x.code == "cross-origin", "\(x.text)")
        let form = try h.request("POST", "/api/v1/jobs", extra: ["-H", "Content-Type: text/plain", "--data-binary", #"{"type":"snapshot"}"#])
        #expect(form.status == 400, "\(form.text)")
        let own = try h.request("POST", "/api/v1/jobs", json: #"{"type":"check"}"#, headers: ["Origin: \(h.base)"])
        #expect(own.status == 202, "the page's own origin is fine: \(own.text)")
    }
}
