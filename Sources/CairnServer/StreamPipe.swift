// StreamPipe: carries bytes from a blocking library writer (export, cat) on its own
// thread to an async HTTP response body, with backpressure. At most `depth` chunks of
// `chunkSize` bytes are in flight, so a download's memory is bounded whatever its size.
// A client that goes away makes the next write fail, which stops the library call; one that
// stops reading is dropped after the idle timeout (Connections.swift), with the same effect.

import CairnCore
import Foundation
import Hummingbird

/// Thrown into the producer when the HTTP client is gone, or when a Range is complete.
struct PipeClosed: Error {}

/// A bounded byte channel from one producer thread to one async consumer.
final class StreamPipe: ByteSink, @unchecked Sendable {
    static let chunkSize = 256 << 10
    let lock = NSLock()
    let space: DispatchSemaphore
    var queue: [[UInt8]] = []
    var waiter: CheckedContinuation<[UInt8]?, Never>?
    var done = false
    var failure: (any Error)?
    var consumerGone = false
    var buffer: [UInt8] = []
    /// Byte range to pass on (archive offsets), for `Range` requests; the rest is skipped.
    let start: UInt64
    let end: UInt64?
    var position: UInt64 = 0

    init(depth: Int = 4, start: UInt64 = 0, end: UInt64? = nil) {
        space = DispatchSemaphore(value: depth)
        self.start = start
        self.end = end
        buffer.reserveCapacity(StreamPipe.chunkSize)
    }

    // MARK: Producer side (blocking thread)

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var b = bytes
        // Skip what lies before the range, stop after its end.
        if position < start {
            let skip = Int(min(UInt64(b.count), start - position))
            position += UInt64(skip)
            b = UnsafeRawBufferPointer(rebasing: b[skip...])
        }
        if let end {
            if position > end { throw PipeClosed() }
            let room = end - position + 1
            if UInt64(b.count) > room { b = UnsafeRawBufferPointer(rebasing: b[..<Int(room)]) }
        }
        position += UInt64(b.count)
        var off = 0
        while off < b.count {
            let n = min(b.count - off, StreamPipe.chunkSize - buffer.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[off..<(off + n)]))
            off += n
            if buffer.count == StreamPipe.chunkSize { try push() }
        }
        if let end, position > end { try push(); throw PipeClosed() }
    }

    func finish() throws { try push() }

    private func push() throws {
        guard !buffer.isEmpty else { return }
        space.wait()
        let chunk = buffer
        buffer.removeAll(keepingCapacity: true)
        lock.lock()
        if consumerGone { lock.unlock(); throw PipeClosed() }
        if let w = waiter {
            waiter = nil
            lock.unlock()
            w.resume(returning: chunk)
        } else {
            queue.append(chunk)
            lock.unlock()
        }
    }

    /// Ends the stream (after `finish()`); `error` makes the consumer abort the response.
    func close(error: (any Error)?) {
        lock.lock()
        done = true
        failure = error
        let w = waiter
        waiter = nil
        lock.unlock()
        w?.resume(returning: nil)
    }

    // MARK: Consumer side (async)

    func next() async -> [UInt8]? {
        await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
            lock.lock()
            if !queue.isEmpty {
                let chunk = queue.removeFirst()
                lock.unlock()
                c.resume(returning: chunk)
            } else if done {
                lock.unlock()
                c.resume(returning: nil)
            } else {
                waiter = c
                lock.unlock()
            }
        }
    }

    /// The consumer took a chunk: let the producer fill another slot.
    func took() { space.signal() }

    func cancel() {
        lock.lock()
        consumerGone = true
        lock.unlock()
        for _ in 0..<8 { space.signal() }
    }

    /// A response body fed by `produce`, which runs on its own thread writing into the pipe.
    static func response(status: HTTPResponse.Status = .ok, headers: HTTPFields, contentLength: Int?, start: UInt64 = 0, end: UInt64? = nil,
                         onFinish: @escaping @Sendable (Bool) -> Void = { _ in },
                         produce: @escaping @Sendable (StreamPipe) throws -> Void) -> Response {
        let stall = StallGuard()
        let body = ResponseBody(contentLength: contentLength) { writer in
            defer { stall.finish() }
            let pipe = StreamPipe(start: start, end: end)
            let t = Thread {
                var err: (any Error)?
                do { try produce(pipe); try pipe.finish() } catch is PipeClosed {} catch { err = error }
                pipe.close(error: err)
            }
            t.stackSize = 8 << 20
            t.start()
            do {
                while let chunk = await pipe.next() {
                    pipe.took()
                    try await stall.write { try await writer.write(ByteBuffer(bytes: chunk)) }
                }
                if let e = pipe.failure { throw e }
                try await writer.finish(nil)
                onFinish(true)
            } catch {
                pipe.cancel()
                onFinish(false)
                throw error
            }
        }
        return Response(status: status, headers: headers, body: body)
    }
}
