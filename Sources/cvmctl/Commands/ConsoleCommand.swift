import ArgumentParser
import Foundation
import Orchestrator

/// `cvmctl console NAME`: what the CVM printed on its serial console (kernel, init, agent).
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Show a CVM's serial console output (kernel, init and agent messages).",
        discussion: """
            virtlogd appends the console to /var/log/libvirt/qemu/DOMAIN.console.log on the host \
            the CVM runs on (read over SSH for a cloud host). Prints the last --bytes of it; \
            --follow keeps printing what comes until Ctrl-C. What a guest prints is not trusted: \
            control characters and escape sequences are shown as ^X, never sent to the terminal \
            (--raw writes the bytes as they are, for a file).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The CVM's name.")
    var name: String

    @Option(help: ArgumentHelp("How much of the end of the log to print (1-1048576 bytes).", valueName: "n"))
    var bytes = 16 * 1024

    @Flag(name: .shortAndLong, help: "Keep printing new output until interrupted.")
    var follow = false

    @Flag(help: "Write the guest's bytes unfiltered (control characters included).")
    var raw = false

    func validate() throws {
        guard (1...1 << 20).contains(bytes) else { throw ValidationError("--bytes must be between 1 and 1048576") }
    }

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            let first = try await orchestrator.consoleLog(cvm: name, after: nil, maxBytes: bytes)
            Self.write(first.bytes, raw: raw)
            guard follow else { return }
            // Ctrl-C ends a follow: the normal way out, exit 0.
            do {
                try await cancellableOnSignal { [name, raw] in
                    var chunk = first
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(500))
                        let next = try await orchestrator.consoleLog(cvm: name, after: chunk.end)
                        if next.start < chunk.end { writeAll("\n-- the console log was rotated --\n", to: 2) }
                        ConsoleCommand.write(next.bytes, raw: raw)
                        chunk = next
                    }
                }
            } catch is CancellationError {
                return
            }
        }
    }

    static func write(_ bytes: [UInt8], raw: Bool) {
        guard !bytes.isEmpty else { return }
        if raw {
            bytes.withUnsafeBytes { buffer in _ = Glibc.write(1, buffer.baseAddress, buffer.count) }
        } else {
            writeAll(CVMConsole.printable(bytes), to: 1)
        }
    }
}
