@testable import SSHClient
import Testing

struct SSHErrorTests {
    @Test func descriptionIsOneLineWithOperationHostAndCode() {
        let error = SSHError(.hostKeyMismatch, operation: "host key", host: "10.1.2.3:22",
                             message: "first line\nsecond line")
        #expect(error.description == "ssh host key 10.1.2.3:22: hostKeyMismatch: first line second line")
    }
}
