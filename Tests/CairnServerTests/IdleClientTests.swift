// Idle clients on a real socket (Connections.swift): one that sends nothing, one whose upload
// stops, and one that stops reading a download are dropped after --idle-timeout; a slow
// download that keeps making progress is not, and the dropped download gives its repository
// instance back.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP client on loopback with a small receive buffer (so that a client that stops
/// reading makes the server's writes wait soon).
final class RawClient {
    let fd: Int32

    init(port: UInt16, receiveBuffer: Int32 = 4096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CairnError.posix("socket", path: "") }
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw CairnError.posix("connect", path: "127.0.0.1:\(port)") }
    }

    deinit { close(fd) }

    func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Reads until the server closes the connection (or `timeout` passes): (bytes read, closed by the server).
    func drain(timeout: Double) -> (Int, Bool) {
        var total = 0
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return (total, true) }
            total += n
        }
        return (total, false)
    }
}

@Suite struct IdleClientTests {
    @Test func idleClientsAreDroppedAndSlowDownloadsAreNot() throws {
        let h = try ServerHarness("idle", args: ["--idle-timeout", "4", "--connections", "2", "--wait", "3"])
        var rng = SeededBytes(seed: 21)
        try writeFile(h.dir.sub("app/big.bin"), rng.bytes(12 << 20))
        try h.start()
        #expect(try h.runJob(#"{"type":"snapshot"}"#)["state"] as? String == "succeeded")
        let port = try #require(UInt16(h.base.split(separator: ":").last ?? ""))

        // A client that connects and sends nothing.
        let silent = try RawClient(port: port)
        let t0 = Date()
        let (_, silentClosed) = silent.drain(timeout: 15)
        #expect(silentClosed, "the silent client was dropped")
        #expect(Date().timeIntervalSince(t0) >= 1.5, "not before the idle timeout")

        // A request whose headers stop half-way, and an upload whose body stops.
        let half = try RawClient(port: port)
        half.send("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        #expect(half.drain(timeout: 15).1, "a half-sent request was dropped")
        let upload = try RawClient(port: port)
        upload.send("POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/zip\r\nContent-Length: 100000\r\n\r\nPK")
        #expect(upload.drain(timeout: 15).1, "a stalled upload was dropped")
        #expect(eventually(10) { h.spoolFiles.isEmpty }, "its spool file is removed")

        // Two downloads that stop reading, one per repository instance: both are dropped and give their instance back.
        let path = "/api/v1/snapshots/latest/export.zip?silo=app"
        let readers = try (0..<2).map { _ in try RawClient(port: port) }
        for r in readers { r.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") }
        sleep(9) // read nothing for longer than the idle timeout
        for r in readers {
            let (got, closed) = r.drain(timeout: 15)
            #expect(closed && got < 12 << 20, "a download that stopped reading was dropped after \(got) bytes")
        }
        #expect(try h.get("/api/v1/status").status == 200, "the instances are back (else 503 after --wait)")

        // A slow download (far longer than the idle timeout, always making progress) completes.
        let out = h.dir.sub("slow.zip")
        let slow = try run("curl", ["-s", "-S", "--limit-rate", "2M", "-o", out, "-w", "%{http_code}", h.base + path])
        #expect(slow.stdout == "200", "\(slow.stderr)")
        #expect(try run("unzip", ["-tq", out]).status == 0, "the slow download is a whole archive")
    }
}
