package import Foundation
import Orchestrator

/// The journal as Server-Sent Events, read from the store at the pace the client takes them
/// (each `next()` reads on only when the last batch was written): events after `after` that
/// match the filters (kind prefix, CVM, time), then new ones, polled every 300 ms; a comment every 15 s while idle.
/// Ends when the task is cancelled (the client went away, the daemon stops).
struct EventStream: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    let store: Store
    let after: Int64
    let filter: EventFilter

    struct AsyncIterator: AsyncIteratorProtocol {
        let stream: EventStream
        var cursor: Int64
        var lastWrite = ContinuousClock.now

        mutating func next() async throws -> ArraySlice<UInt8>? {
            while !Task.isCancelled {
                let page: [EventRecord]
                do { page = try await stream.store.events(after: cursor, limit: 200) } catch is CancellationError { return nil }
                var text = ""
                for event in page {
                    cursor = Swift.max(cursor, event.id ?? cursor)
                    guard stream.filter.matches(event) else { continue }
                    text += Self.frame(event)
                }
                if !text.isEmpty || ContinuousClock.now - lastWrite > .seconds(15) {
                    lastWrite = ContinuousClock.now
                    return ArraySlice((text.isEmpty ? ": idle\n\n" : text).utf8)
                }
                if page.count == 200 { continue }
                do { try await Task.sleep(for: .milliseconds(300)) } catch { return nil }
            }
            return nil
        }

        /// One event: `id`, `event` (its kind) and `data` (its JSON, one line).
        static func frame(_ event: EventRecord) -> String {
            var object: [String: Any] = ["id": event.id ?? 0, "at": ISO8601DateFormatter().string(from: event.at),
                                         "kind": event.kind, "message": event.message]
            if let cvm = event.cvm { object["cvm"] = cvm }
            if let host = event.host { object["host"] = host }
            if let commit = event.policyCommit { object["policyCommit"] = commit }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            let kind = event.kind.filter { $0 != "\n" && $0 != "\r" }
            return "id: \(event.id ?? 0)\nevent: \(kind)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self, cursor: after) }
}
