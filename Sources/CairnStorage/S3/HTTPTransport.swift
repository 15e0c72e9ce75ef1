// HTTP for the S3 backend, behind a narrow protocol. The implementation is URLSession from
// FoundationNetworking (libcurl underneath; https verifies against the system CA store). Network
// failures come back classified: unreachable, timeout, dropped connection (all retryable), TLS
// (fatal). Docs/Backends.md records why this client was chosen over async-http-client.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Seconds without progress before the request times out.
    public var timeout: Double
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]
}

/// Sends HTTP requests. Throws only `StorageError`s.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// URLSession (FoundationNetworking) transport with one shared connection pool.
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession

    public init(maxConnectionsPerHost: Int = 8) {
        let c = URLSessionConfiguration.ephemeral
        c.urlCache = nil
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        c.httpCookieStorage = nil
        c.httpShouldSetCookies = false
        c.httpMaximumConnectionsPerHost = maxConnectionsPerHost
        c.timeoutIntervalForResource = 24 * 3600  // per-request limits come from each request
        session = URLSession(configuration: c)
    }

    deinit { session.finishTasksAndInvalidate() }

    public func send(_ r: HTTPRequest) async throws -> HTTPResponse {
        guard let url = URL(string: r.url), let host = url.host else {
            throw StorageError(.fatal, "cannot build a request URL from \(r.url.prefix(200)); check the repository URL")
        }
        let where_ = url.port.map { "\(host):\($0)" } ?? host
        var req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: max(r.timeout, 0.05))
        req.httpMethod = r.method
        for (n, v) in r.headers { req.setValue(v, forHTTPHeaderField: n) }
        do {
            let (data, resp): (Data, URLResponse)
            if let body = r.body {
                (data, resp) = try await session.upload(for: req, from: Data(body))
            } else {
                (data, resp) = try await session.data(for: req)
            }
            guard let h = resp as? HTTPURLResponse else {
                throw StorageError(.transient, "\(where_) answered \(r.method) with something that is not HTTP; run the command again", outcomeUnknown: true)
            }
            var headers: [String: String] = [:]
            for (k, v) in h.allHeaderFields {
                if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
            }
            return HTTPResponse(status: h.statusCode, headers: headers, body: [UInt8](data))
        } catch let e as StorageError {
            throw e
        } catch let e as URLError {
            throw Self.classify(e, where_, r.method)
        } catch is CancellationError {
            throw StorageError(.fatal, "\(r.method) to \(where_) was cancelled")
        } catch {
            throw StorageError(.transient, "\(r.method) to \(where_) failed: \(error); run the command again", outcomeUnknown: true)
        }
    }

    static func classify(_ e: URLError, _ hostPort: String, _ method: String) -> StorageError {
        switch e.code {
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
            return StorageError(.transient, "cannot reach the S3 endpoint \(hostPort) (\(e.code == .cannotConnectToHost ? "connection refused" : "host not found")); check that the server is running and the host and port in the repository URL", detail: .unreachable)
        case .timedOut:
            return StorageError(.transient, "\(method) to \(hostPort) timed out; check the network or raise the timeout", detail: .timeout, outcomeUnknown: true)
        case .networkConnectionLost, .badServerResponse, .cannotParseResponse, .zeroByteResource:
            return StorageError(.transient, "the connection to \(hostPort) dropped during \(method); run the command again", detail: .timeout, outcomeUnknown: true)
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
             .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            return StorageError(.fatal, "TLS with \(hostPort) failed (\(e.code.rawValue)); the certificate must verify against the system CA store (update ca-certificates, or use the server's real name)")
        case .cancelled:
            return StorageError(.fatal, "\(method) to \(hostPort) was cancelled")
        default:
            return StorageError(.transient, "\(method) to \(hostPort) failed (URL error \(e.code.rawValue)); run the command again", outcomeUnknown: true)
        }
    }
}
