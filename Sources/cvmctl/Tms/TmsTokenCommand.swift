import ArgumentParser
import Foundation
import TrafficManager

/// `cvmctl tms token create|list|revoke`: the traffic manager's scoped admin tokens.
struct TmsTokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Make, list and revoke scoped tokens for the traffic manager's admin endpoint.",
        discussion: """
            The scheme of the API's tokens: `read` may GET /usage, /metrics and /status; `admin` \
            may also POST /reload. The tokens file (default STATE/\(AdminConfig.defaultTokensFileName), \
            or the configuration's admin.tokensFile) keeps each token's SHA-256 only, mode 0600; a \
            running traffic manager re-reads it when it changes, so a revoked token is refused at \
            its next request. The admin token file keeps working beside it.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct FileOption: ParsableArguments {
        @Option(help: ArgumentHelp("The tokens file (default: STATE/\(AdminConfig.defaultTokensFileName)).", valueName: "file"))
        var tokensFile: String?

        func path(_ global: GlobalOptions) -> String {
            tokensFile ?? TmsCommand.defaultTokensFile(global)
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token and print it (once).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var file: FileOption
        @Option(help: "What the token is for (shown by `tms token list`).") var name: String
        @Option(help: "read or admin.") var scope: String = "read"

        func validate() throws {
            guard AdminTokens.Scope(rawValue: scope) != nil else { throw ValidationError("--scope must be read or admin") }
            guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ !$0.isNewline && $0.asciiValue.map { $0 >= 0x20 } ?? true }) else {
                throw ValidationError("--name must have 1 to 64 printable characters")
            }
        }

        func run() throws {
            try reportingTokenFailures {
                let made = try AdminTokens.create(path: file.path(global), name: name, scope: AdminTokens.Scope(rawValue: scope)!)
                if global.json {
                    let object = ["id": made.entry.id, "name": made.entry.name, "scope": made.entry.scope.rawValue, "token": made.token]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    print(made.token)
                    writeAll("token \(made.entry.id) (\(made.entry.scope.rawValue)) made; it is shown only now\n", to: 2)
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never their secrets).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var file: FileOption

        func run() throws {
            try reportingTokenFailures {
                let entries = try AdminTokens.load(path: file.path(global))
                if global.json {
                    let rows = entries.map { ["id": $0.id, "name": $0.name, "scope": $0.scope.rawValue] }
                    print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    for entry in entries { print("\(entry.id)  \(entry.scope.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0))  \(entry.name)") }
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: the traffic manager refuses it from its next request.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var file: FileOption
        @Argument(help: "The token's id (from `tms token list`).") var id: String

        func run() throws {
            try reportingTokenFailures {
                guard try AdminTokens.revoke(path: file.path(global), id: id) else {
                    writeAll("cvmctl: error: no token \(id) in \(file.path(global)); see `cvmctl tms token list`\n", to: 2)
                    throw ExitCode.failure
                }
                print("token \(id) revoked")
            }
        }
    }
}

/// Runs `body`; a tokens-file failure is one line and exit 1.
private func reportingTokenFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let failure as AdminTokens.Failure {
        writeAll("cvmctl: error: \(failure)\n", to: 2)
        throw ExitCode.failure
    }
}
