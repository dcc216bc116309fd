import Foundation
import Synchronization

/// Runs a program on this machine and collects what it printed: stdout on the calling thread
/// while another drains stderr, so neither pipe can fill up and block the program. Stdin is
/// empty. Blocks: call it off the cooperative pool.
enum LocalProcess {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: Data
    }

    /// Throws only when the program cannot be started.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errorData = Mutex<Data>(Data())
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errorData.withLock { $0 = data }
            drained.signal()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: data, stderr: errorData.withLock { $0 })
    }
}
