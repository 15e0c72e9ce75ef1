// The SeaweedFS the tests use: Scripts/test.sh starts one and exports CAIRN_TEST_S3
// (http://127.0.0.1:PORT/BUCKET). Without it the S3 tests are skipped with a note, except under
// CI=true, where a missing server is a failure.

import CairnStorage
import Foundation
import Testing

enum S3Env {
    static var endpoint: String? { ProcessInfo.processInfo.environment["CAIRN_TEST_S3"].flatMap { $0.isEmpty ? nil : $0 } }

    /// The endpoint, or nil after recording a failure (CI) or printing a skip note (elsewhere).
    static func require(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let e = endpoint { return e }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("CAIRN_TEST_S3 is not set under CI=true: Scripts/test.sh must start SeaweedFS (Scripts/seaweedfs.sh)", sourceLocation: sourceLocation)
        } else {
            print("note: CAIRN_TEST_S3 not set; S3 test skipped (run Scripts/test.sh, or Scripts/seaweedfs.sh start DIR and export it)")
        }
        return nil
    }

    static let credentials = S3Credentials(accessKeyId: "cairn-test", secretAccessKey: "cairn-test-secret", source: "the test")

    static func options(retry: RetryPolicy = fastRetry) -> S3Options {
        var o = S3Options()
        o.partSize = 5 << 20
        o.getChunkSize = 4 << 20
        o.requestTimeout = 20
        o.retry = retry
        return o
    }

    static var fastRetry: RetryPolicy { RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(20), maxDelay: .milliseconds(200), deadline: .seconds(60)) }

    /// A backend on a fresh prefix of the test bucket (nil when skipped).
    static func fresh(endpoint: String? = nil, credentials: S3Credentials = credentials, options: S3Options = options()) throws -> S3Backend? {
        guard let e = endpoint ?? require() else { return nil }
        return S3Backend(try S3Location.parse("s3:\(e)/run-\(randomName())"), credentials: credentials, options: options)
    }
}
