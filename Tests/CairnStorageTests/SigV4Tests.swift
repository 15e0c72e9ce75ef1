// SigV4 against the example signatures of the AWS S3 documentation
// ("Signature Calculations for the Authorization Header", keys AKIAIOSFODNN7EXAMPLE).

import CairnStorage
import Testing

@Suite struct SigV4Tests {
    let signer = SigV4(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    let host = ("host", "examplebucket.s3.amazonaws.com")
    let date = "20130524T000000Z"

    func signature(_ auth: String) -> String { String(auth.split(separator: "=").last ?? "") }

    @Test func getObjectWithRange() {
        let auth = signer.authorization(method: "GET", path: "/test.txt", query: [], headers: [
            host, ("range", "bytes=0-9"), ("x-amz-content-sha256", SigV4.emptyPayloadHash), ("x-amz-date", date),
        ], payloadHash: SigV4.emptyPayloadHash, amzDate: date)
        #expect(signature(auth) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(auth.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"))
    }

    @Test func putObjectWithPayload() {
        let hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"  // "Welcome to Amazon S3."
        let auth = signer.authorization(method: "PUT", path: "/" + SigV4.uriEncode("test$file.text", keepSlash: true), query: [], headers: [
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"), host, ("x-amz-content-sha256", hash), ("x-amz-date", date),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ], payloadHash: hash, amzDate: date)
        #expect(signature(auth) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func subresourceAndListQueries() {
        let h = [host, ("x-amz-content-sha256", SigV4.emptyPayloadHash), ("x-amz-date", date)]
        let lifecycle = signer.authorization(method: "GET", path: "/", query: [("lifecycle", "")], headers: h,
                                             payloadHash: SigV4.emptyPayloadHash, amzDate: date)
        #expect(signature(lifecycle) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        let list = signer.authorization(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: h,
                                        payloadHash: SigV4.emptyPayloadHash, amzDate: date)
        #expect(signature(list) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func uriEncodingIsRFC3986() {
        #expect(SigV4.uriEncode("a b/c+d=é~", keepSlash: true) == "a%20b/c%2Bd%3D%C3%A9~")
        #expect(SigV4.uriEncode("a/b", keepSlash: false) == "a%2Fb")
    }
}
