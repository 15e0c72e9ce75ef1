// A real TCP proxy on loopback in front of SeaweedFS that misbehaves on purpose: by request number
// it answers 503 (with Retry-After: 0), resets the connection before forwarding, or forwards and
// then resets instead of relaying the answer (the request took effect, the client never hears).

import Foundation
import Synchronization

final class FaultProxy: @unchecked Sendable {
    enum Action: String { case forward, unavailable, resetBefore, resetAfter }
    let upstreamPort: UInt16
    private(set) var port: UInt16 = 0
    private let listener: Int32
    private let plan: @Sendable (Int) -> Action
    let counts = Mutex<[Action: Int]>([:])
    private let requests = Mutex(0)
    private let stopped = Mutex(false)

    init(upstreamPort: UInt16, plan: @escaping @Sendable (Int) -> Action) throws {
        self.upstreamPort = upstreamPort
        self.plan = plan
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        var addr = Self.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafeMutablePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }) == 0,
              listen(listener, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func stop() {
        stopped.withLock { $0 = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    func count(_ a: Action) -> Int { counts.withLock { $0[a] ?? 0 } }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    private func acceptLoop() {
        while !stopped.withLock({ $0 }) {
            let c = accept(listener, nil, nil)
            if c < 0 { if errno == EINTR { continue } else { return } }
            Thread.detachNewThread { [self] in serve(c) }
        }
    }

    /// Serves one client connection: each request is read whole, then handled by the plan. The
    /// upstream connection is per request (`Connection: close`), and so is the client's.
    private func serve(_ client: Int32) {
        defer { close(client) }
        guard var (head, body) = readRequest(client) else { return }
        let n = requests.withLock { $0 += 1; return $0 }
        let action = plan(n)
        counts.withLock { $0[action, default: 0] += 1 }
        switch action {
        case .unavailable:
            let msg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>injected by the test proxy</Message></Error>"
            sendAll(client, Array("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Type: application/xml\r\nContent-Length: \(msg.utf8.count)\r\nConnection: close\r\n\r\n\(msg)".utf8))
        case .resetBefore:
            reset(client)
        case .forward, .resetAfter:
            let up = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(up) }
            var a = Self.loopback(upstreamPort)
            guard withUnsafeMutablePointer(to: &a, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(up, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 else {
                reset(client)
                return
            }
            head = head.filter { !$0.lowercased().hasPrefix("connection:") && !$0.lowercased().hasPrefix("expect:") } + ["Connection: close"]
            sendAll(up, Array((head.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body)
            var response: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let r = read(up, &buf, buf.count)
                if r <= 0 { break }
                response += buf[0..<r]
            }
            body = []
            if action == .resetAfter { reset(client) } else { sendAll(client, response) }
        }
    }

    private func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }

    /// The request's header lines and its body (Content-Length bytes). Answers `Expect: 100-continue`.
    private func readRequest(_ fd: Int32) -> ([String], [UInt8])? {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let sep: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int? = nil
        while headEnd == nil {
            let r = read(fd, &buf, buf.count)
            if r <= 0 { return nil }
            data += buf[0..<r]
            if data.count >= 4 { headEnd = (0...(data.count - 4)).first { Array(data[$0..<$0 + 4]) == sep } }
        }
        let lines = String(decoding: data[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let length = lines.compactMap { l -> Int? in
            let p = l.split(separator: ":", maxSplits: 1)
            return p.count == 2 && p[0].lowercased() == "content-length" ? Int(p[1].trimmingCharacters(in: .whitespaces)) : nil
        }.first ?? 0
        if lines.contains(where: { $0.lowercased().hasPrefix("expect:") }) { sendAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        var body = Array(data[(headEnd! + 4)...])
        while body.count < length {
            let r = read(fd, &buf, min(buf.count, length - body.count))
            if r <= 0 { return nil }
            body += buf[0..<r]
        }
        return (lines, body)
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }
}
