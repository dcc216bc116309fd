package import Foundation

/// One operation as Server-Sent Events (`GET /v1/operations/{id}/stream`): its progress lines
/// as they come (`event: progress`), then its final state (`event: end`), and the end of the
/// stream. Read every 250 ms; a comment every 15 s while nothing happens. Ends early when the
/// task is cancelled (the client went away, the daemon stops) or the operation is gone.
struct OperationStream: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    let operations: OperationRegistry
    let id: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let stream: OperationStream
        /// Progress lines sent so far (of `progressCount`).
        var sent = 0
        var ended = false
        var lastWrite = ContinuousClock.now

        mutating func next() async throws -> ArraySlice<UInt8>? {
            while !ended, !Task.isCancelled {
                guard let operation = await stream.operations.operation(stream.id) else { return nil }
                // Lines dropped from the kept 50 before they were sent are skipped.
                let fresh = operation.progress.suffix(Swift.max(0, Swift.min(operation.progress.count, operation.progressCount - sent)))
                sent = operation.progressCount
                var text = fresh.map { "event: progress\ndata: \(Self.json(["line": $0]))\n\n" }.joined()
                if operation.state != .running {
                    ended = true
                    let final = (try? APIHandler.encoder.encode(APIHandler.operation(operation))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                    text += "event: end\ndata: \(final)\n\n"
                }
                if !text.isEmpty || ContinuousClock.now - lastWrite > .seconds(15) {
                    lastWrite = ContinuousClock.now
                    return ArraySlice((text.isEmpty ? ": idle\n\n" : text).utf8)
                }
                do { try await Task.sleep(for: .milliseconds(250)) } catch { return nil }
            }
            return nil
        }

        static func json(_ object: [String: String]) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
