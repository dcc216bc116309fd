import CVMProtocol
import Glibc

/// The steps before the main loop, each of which must succeed eventually or wait.
enum Boot {
    static let configPath = "/etc/cvm/config"

    /// Reads and parses the configuration, retrying every 5 s until it is valid: PID 1 has
    /// nothing better to do without it, and must not exit.
    static func loadConfig(path: String = configPath) -> AgentConfig {
        var lastProblem = ""
        while true {
            let problem: String
            if let text = FileIO.readText(path) {
                do {
                    return try AgentConfig.parse(text)
                } catch {
                    problem = "\(path): \(error)"  // AgentConfigError never contains the secret
                }
            } else {
                problem = "cannot read \(path): \(Console.errnoText())"
            }
            if problem != lastProblem {
                Console.log("\(problem); retrying every 5 s")
                lastProblem = problem
            }
            Clock.sleep(ms: 5000)
        }
    }

    /// Sleeps forever (the fate of PID 1 after a fatal error).
    static func idleForever() -> Never {
        while true { Clock.sleep(ms: 3_600_000) }
    }
}
