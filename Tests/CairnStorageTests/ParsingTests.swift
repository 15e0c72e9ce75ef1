// Pure parsers of the S3 backend: repository URLs, the shared credentials file, error
// classification of system calls.

import CairnStorage
import Foundation
import Testing

@Suite struct ParsingTests {
    @Test func s3URLs() throws {
        let a = try S3Location.parse("s3:http://127.0.0.1:8333/bucket/some/prefix/")
        #expect(a.secure == false && a.host == "127.0.0.1" && a.port == 8333 && a.bucket == "bucket" && a.prefix == "some/prefix")
        #expect(a.description == "s3:http://127.0.0.1:8333/bucket/some/prefix")
        let b = try S3Location.parse("s3:s3.eu-west-1.amazonaws.com/my-bucket")
        #expect(b.secure && b.port == nil && b.prefix == "" && b.authority == "s3.eu-west-1.amazonaws.com")
        let c = try S3Location.parse("s3:https://minio.local:443/b12/x", addressing: .virtualHost)
        #expect(c.authority == "minio.local" && c.addressing == .virtualHost)
        #expect(c.url(forPath: "packs/ab/ab cd.pack") == "https://b12.minio.local/x/packs/ab/ab%20cd.pack")
        #expect(a.url(forPath: "config.json") == "http://127.0.0.1:8333/bucket/some/prefix/config.json")
        for bad in ["http://h/b", "s3:ftp://h/b", "s3:http://h", "s3:http://h/", "s3:http://h:0/bucket", "s3:http://h:70000/bucket",
                    "s3:http://h:x/bucket", "s3:http://h/ab", "s3:http://h/bucket/../x", "s3:http://h/bucket/a//b",
                    "s3:http://key:secret@h/bucket", "s3:http://h o/bucket", "s3:http://h/bucket/é",
                    "s3:http://h/" + String(repeating: "b", count: 64), "s3:" + String(repeating: "a", count: 3000)] {
            #expect(throws: StorageError.self, "\(bad)") { _ = try S3Location.parse(bad) }
        }
    }

    @Test func credentialsFromEnvironmentAndSharedFile() throws {
        let env = try S3Credentials.resolve(env: ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T", "AWS_DEFAULT_REGION": "eu-west-1"])
        #expect(env.accessKeyId == "AK" && env.sessionToken == "T" && env.region == "eu-west-1" && env.source == "environment")
        #expect(!env.description.contains("SK"))
        let dir = try TempDir.make()
        let file = dir + "/credentials"
        try "# comment\n[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[work]\n aws_access_key_id=WORK \naws_secret_access_key= worksecret\naws_session_token = tok\nregion = ap-south-1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let d = try S3Credentials.resolve(env: ["AWS_SHARED_CREDENTIALS_FILE": file])
        #expect(d.accessKeyId == "DEF" && d.secretAccessKey == "defsecret" && d.region == "us-east-1")
        let w = try S3Credentials.resolve(env: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "work", "AWS_REGION": "us-west-2"])
        #expect(w.accessKeyId == "WORK" && w.secretAccessKey == "worksecret" && w.sessionToken == "tok" && w.region == "us-west-2")
        #expect(w.source.contains("profile work"))
        let home = try S3Credentials.resolve(env: ["HOME": dir + "/nohome", "AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "work"])
        #expect(home.region == "ap-south-1")
        #expect(throws: StorageError.self) { _ = try S3Credentials.resolve(env: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "none"]) }
        #expect(throws: StorageError.self) { _ = try S3Credentials.resolve(env: ["AWS_ACCESS_KEY_ID": "AK"]) }
        #expect(throws: StorageError.self) { _ = try S3Credentials.resolve(env: ["HOME": dir + "/nohome"]) }
    }

    @Test func posixErrorsAreClassified() {
        #expect(StorageError.posix("write", "/r/x", ENOSPC).kind == .noSpace)
        #expect(StorageError.posix("write", "/r/x", EDQUOT).kind == .noSpace)
        #expect(StorageError.posix("open", "/r/x", EACCES).kind == .permission)
        #expect(StorageError.posix("open", "/r/x", EROFS).kind == .permission)
        #expect(StorageError.posix("open", "/r/x", ENOENT).kind == .notFound)
        #expect(StorageError.posix("link", "/r/x", EEXIST).kind == .alreadyExists)
        #expect(StorageError.posix("read", "/r/x", EIO).kind == .fatal)
        #expect(StorageError.posix("read", "/r/x", EINTR).isRetryable)
        for k in StorageError.Kind.allCases where k != .transient { #expect(!StorageError(k, "x").isRetryable) }
    }

    @Test func localLayoutKeepsFormatOnePaths() {
        #expect(handle(.pack, "abcdef").description == "packs/ab/abcdef.pack")
        #expect(handle(.snapshot, "0123").description == "snapshots/0123.json")
        #expect(handle(.index, "f").description == "index/f_/f")
        #expect(ObjectHandle.config.description == "config.json")
        #expect(handle(.lock, "host-1").description == "locks/host-1.lock")
    }
}

@Suite struct S3XMLTests {
    @Test func listingWithEntitiesAndHostileFragments() throws {
        let ok = """
        <?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b</Key><Size>12</Size></Contents>\
        <Contents><Key>p/&#x41;&#66;</Key><Size>0</Size></Contents><NextContinuationToken>tok&lt;1&gt;</NextContinuationToken></ListBucketResult>
        """
        let r = try #require(S3Backend.parseListing(ok))
        #expect(r.keys.map(\.key) == ["p/a&b", "p/AB"] && r.keys.map(\.size) == [12, 0])
        #expect(r.truncated && r.continuation == "tok<1>")
        #expect(S3Backend.parseListing("<ListBucketResult><Contents><Key>x</Key><Size>-1</Size></Contents></ListBucketResult>") == nil)
        #expect(S3Backend.parseListing("<ListBucketResult><Contents><Key>x</Key>") != nil)  // unterminated: no entry, not a crash
        #expect(S3Backend.parseListing("<Error><Code>X</Code></Error>") == nil)
        #expect(S3Backend.parseListing("&#xFFFFFFFFFF;&#99999999999;&;&") == nil)
    }

    @Test func contentRange() {
        #expect(S3Backend.parseContentRange("bytes 0-9/100")! == (0, 9, 100))
        for bad in ["bytes 9-0/100", "bytes 0-100/100", "bytes -1-2/3", "items 0-1/2", "bytes 0-1/*", "bytes 0-1"] {
            #expect(S3Backend.parseContentRange(bad) == nil, "\(bad)")
        }
    }
}
