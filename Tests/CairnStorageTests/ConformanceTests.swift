// The conformance suite: every backend must pass each test (local, memory, fault pass-through,
// retry over transient faults, and S3 on a real SeaweedFS).

import CairnStorage
import Foundation
import Testing

@Suite("Backend conformance") struct ConformanceTests {
    @Test(arguments: Kind.allCases) func putGetAndRangedEdges(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        let src = PatternSource(length: 10_000, seed: 1)
        let h = handle(.pack, randomName())
        try await b.put(h, from: src)
        #expect(try await b.bytes(h) == src.bytes(0..<10_000))
        let cases: [(UInt64, UInt64, Range<UInt64>)] = [
            (0, 0, 0..<0), (0, 1, 0..<1), (4096, 4096, 4096..<8192), (9999, 1, 9999..<10_000),
            (9999, 10, 9999..<10_000), (10_000, 5, 0..<0), (20_000, 5, 0..<0), (5000, .max, 5000..<10_000), (.max - 5, 100, 0..<0), (.max, .max, 0..<0),
        ]
        for (off, len, want) in cases {
            let got = try await b.bytes(h, range: ByteRange(offset: off, length: len))
            #expect(got == src.bytes(want), "range \(off)+\(len) on \(kind)")
        }
        let empty = handle(.snapshot, randomName())
        try await b.put(empty, bytes: [])
        #expect(try await b.bytes(empty) == [])
        #expect(try await b.stat(empty).size == 0)
        #expect(try await b.stat(h).size == 10_000)
    }

    @Test(arguments: Kind.allCases) func writeOnceRefusesExistingName(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        let h = handle(.index, randomName())
        try await b.put(h, bytes: Array("first".utf8))
        let e = await storageError { try await b.put(h, bytes: Array("second".utf8)) }
        #expect(e?.kind == .alreadyExists)
        #expect(try await b.bytes(h) == Array("first".utf8))
        try await b.put(.config, bytes: Array("{}".utf8))
        #expect(await storageError { try await b.put(.config, bytes: [1]) }?.kind == .alreadyExists)
    }

    @Test(arguments: Kind.allCases) func concurrentPutIfAbsentHasOneWinner(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        for round in 0..<3 {
            let h = handle(.lock, randomName())
            let results = await withTaskGroup(of: (Int, StorageError.Kind?).self) { g in
                for i in 0..<8 {
                    g.addTask {
                        do { try await b.put(h, bytes: [UInt8](repeating: UInt8(i), count: 2000 + i)); return (i, nil) }
                        catch let e as StorageError { return (i, e.kind) }
                        catch { return (i, .fatal) }
                    }
                }
                var out: [(Int, StorageError.Kind?)] = []
                for await r in g { out.append(r) }
                return out
            }
            let winners = results.filter { $0.1 == nil }.map(\.0)
            #expect(winners.count == 1, "round \(round) on \(kind): \(results)")
            #expect(results.allSatisfy { $0.1 == nil || $0.1 == .alreadyExists })
            if let w = winners.first {
                #expect(try await b.bytes(h) == [UInt8](repeating: UInt8(w), count: 2000 + w))
            }
        }
    }

    @Test(arguments: Kind.allCases) func pagedListingIsCompleteSortedAndTyped(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        var names: [String] = []
        for i in 0..<150 {
            let n = randomName() + (i % 5 == 0 ? "" : "-\(i)")
            names.append(n)
            try await b.put(handle(.index, n), bytes: [UInt8](repeating: 7, count: i))
        }
        for _ in 0..<5 { try await b.put(handle(.snapshot, randomName()), bytes: [1]) }
        var seen: [ObjectInfo] = []
        var after: String? = nil
        var pages = 0
        repeat {
            let page = try await b.list(.index, after: after, limit: 17)
            #expect(page.objects.count <= 17)
            seen += page.objects
            after = page.next
            pages += 1
        } while after != nil && pages < 100
        #expect(seen.map(\.handle.name) == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(seen.allSatisfy { $0.handle.type == .index })
        let sizes = Dictionary(uniqueKeysWithValues: seen.map { ($0.handle.name, $0.size) })
        for (i, n) in names.enumerated() { #expect(sizes[n] == UInt64(i)) }
        #expect(pages >= 9)
        #expect(try await b.listAll(.snapshot).count == 5)
        #expect(try await b.listAll(.pack).isEmpty)
    }

    @Test(arguments: Kind.allCases) func deleteStatAndMissingObjects(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        let h = handle(.snapshot, randomName())
        try await b.delete(h)  // missing: fine
        #expect(await storageError { _ = try await b.stat(h) }?.kind == .notFound)
        #expect(await storageError { _ = try await b.bytes(h) }?.kind == .notFound)
        try await b.put(h, bytes: [1, 2, 3])
        #expect(try await b.stat(h) == ObjectInfo(handle: h, size: 3))
        try await b.delete(h)
        #expect(await storageError { _ = try await b.stat(h) }?.kind == .notFound)
        #expect(await storageError { _ = try await b.bytes(h, range: ByteRange(offset: 0, length: 1)) }?.kind == .notFound)
        #expect(try await b.listAll(.snapshot).isEmpty)
        try await b.put(h, bytes: [4])  // the name is free again
        #expect(try await b.bytes(h) == [4])
    }

    @Test(arguments: Kind.allCases) func largeObjectIsStreamedInBoundedChunks(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        let size: UInt64 = 12 << 20
        let src = PatternSource(length: size, seed: 9)
        let h = handle(.pack, randomName())
        try await b.put(h, from: src)
        var pos: UInt64 = 0, maxChunk = 0, mismatches = 0
        var probe = [UInt8](repeating: 0, count: 0)
        try await b.get(h, range: nil) { chunk in
            maxChunk = max(maxChunk, chunk.count)
            if probe.count < chunk.count { probe = [UInt8](repeating: 0, count: chunk.count) }
            let n = try probe.withUnsafeMutableBytes { try src.read(at: pos, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<chunk.count])) }
            if n != chunk.count || !probe.withUnsafeBytes({ memcmp($0.baseAddress!, chunk.baseAddress!, n) == 0 }) { mismatches += 1 }
            pos += UInt64(chunk.count)
        }
        #expect(pos == size)
        #expect(mismatches == 0)
        #expect(maxChunk <= 8 << 20, "a get handed \(maxChunk) bytes at once on \(kind)")
        #expect(try await b.stat(h).size == size)
        let tail = try await b.bytes(h, range: ByteRange(offset: size - 100, length: 1000))
        #expect(tail == src.bytes(size - 100..<size))
    }

    @Test(arguments: Kind.allCases) func errorsAreClassified(_ kind: Kind) async throws {
        guard let b = try makeBackend(kind) else { return }
        let missing = handle(.pack, randomName())
        let e = await storageError { _ = try await b.bytes(missing) }
        #expect(e?.kind == .notFound)
        #expect(e?.isRetryable == false)
        #expect(e.map { !$0.message.contains("\n") && $0.message.contains(missing.name) } == true, "\(String(describing: e))")
        #expect(ObjectHandle(.pack, "../etc") == nil)
        #expect(ObjectHandle(.pack, ".hidden") == nil)
        #expect(ObjectHandle(.pack, "") == nil)
        #expect(ObjectHandle(.pack, String(repeating: "a", count: 201)) == nil)
        #expect(ObjectHandle(.pack, "a/b") == nil)
    }
}
