import CVMProtocol
import Glibc

/// The steps before the main loop, each of which must succeed eventually or wait.
enum Boot {
    static let configPath = "/etc/cvm/config"
    /// The CVM's disk, whose first block holds the configuration (see `ConfigBlock`).
    static let configDisk = "/dev/vda"

    /// The configuration text: the file when it exists (an initrd overlay, or a path given
    /// by hand), else the first block of the CVM's disk.
    static func readConfigText(path: String) -> String? {
        if let text = FileIO.readText(path) { return text }
        guard path == configPath, let block = FileIO.read(configDisk, limit: ConfigBlock.size) else { return nil }
        return ConfigBlock.text(from: block.prefix(ConfigBlock.size))
    }

    /// Reads and parses the configuration, retrying until it is valid (every 100 ms for the
    /// first seconds while the disk driver settles, then every 5 s): PID 1 has nothing
    /// better to do without it, and must not exit.
    static func loadConfig(path: String = configPath) -> AgentConfig {
        var lastProblem = ""
        var attempts = 0
        while true {
            attempts += 1
            let problem: String
            if let text = readConfigText(path: path) {
                do {
                    return try AgentConfig.parse(text)
                } catch {
                    problem = "\(path): \(error)"  // AgentConfigError never contains the secret
                }
            } else {
                problem = "no configuration in \(path) or on \(configDisk)"
            }
            if attempts <= 50 {
                Clock.sleep(ms: 100)
                continue
            }
            if problem != lastProblem {
                Console.log("\(problem); retrying every 5 s")
                lastProblem = problem
            }
            Clock.sleep(ms: 5000)
        }
    }

    /// Writes the TLS credentials of the CVM's disk (see `ConfigBlock`) into
    /// `ConfigBlock.credentialsDirectory`, mode 0600. Returns how many files it wrote (0 for a
    /// CVM deployed without any).
    static func installCredentials() -> Int {
        guard let head = FileIO.read(configDisk, limit: ConfigBlock.credentialsOffset + ConfigBlock.credentialsSize),
              head.count > ConfigBlock.credentialsOffset else { return 0 }
        let files = ConfigBlock.credentials(from: head[ConfigBlock.credentialsOffset...])
        guard !files.isEmpty else { return 0 }
        var path = ""
        for part in ConfigBlock.credentialsDirectory.split(separator: "/") {
            path += "/" + part
            _ = mkdir(path, 0o700)
        }
        var written = 0
        for file in files where FileIO.writeAtomically(path + "/" + file.name, Array(file.text.utf8), mode: 0o600) {
            written += 1
        }
        return written
    }

    /// Sleeps forever (the fate of PID 1 after a fatal error).
    static func idleForever() -> Never {
        while true { Clock.sleep(ms: 3_600_000) }
    }
}
