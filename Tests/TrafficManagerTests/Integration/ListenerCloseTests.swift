import Testing
@testable import TrafficManager

extension ProxyTests {
    /// Regression: a shutdown closed every listener and then closed them all again. A raw
    /// listening descriptor closed twice closes whatever socket took its number in between (in
    /// one process with other traffic managers, a NIO channel's: NIO then crashed on EBADF).
    @Suite struct ListenerClose {
        @Test("a raw listener closes its sockets once; a second close touches no descriptor", arguments: [true, false])
        func closesOnce(polled: Bool) async throws {
            let dataPlane = DataPlane(cores: 2)
            try await dataPlane.start()
            let listener = try await VServerListener.bind(name: "x", address: HostPort(host: "127.0.0.1", port: 0),
                                                          polled: polled, dataPlane: dataPlane)
            #expect(listener.isPolled == polled)
            #expect(await listener.close())
            #expect(await listener.close() == false)
            await dataPlane.stop()
        }
    }
}
