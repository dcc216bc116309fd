import ConfigFile
import CVMProtocol
import Foundation
import Orchestrator
import Synchronization
import TrafficManager

/// The settings file (`/etc/cvmctl/config.yaml`, or `--settings` / `CVM_SETTINGS`): defaults for
/// the settings every command shares, below flags and environment variables. Unknown keys,
/// relative paths and bad values are errors naming the file, line and column.
///
/// ```yaml
/// state: /var/lib/cvmctl          # the store and local volumes (absolute)
/// images: /var/lib/cvmctl/images  # the image catalog (absolute)
/// connect: qemu:///system
/// virtType: auto                  # auto, kvm or qemu
/// subnet: 10.77.0.0/16            # CVM addresses
/// migrationAddress: 127.0.0.1     # the address remote hosts reach this one at
/// logFormat: json                 # text or json
/// apiListen: 127.0.0.1:9911       # cvmctl serve
/// apiTLSCertificate: /etc/cvmctl/api.crt  # HTTPS for cvmctl serve (with apiTLSKey; required off loopback)
/// apiTLSKey: /etc/cvmctl/api.key          # mode 0600
/// tmsAdmin: 127.0.0.1:9901        # the traffic manager's admin endpoint
/// policyRepo: /srv/cvm-policies   # git repository holding policies/ (absolute)
/// ```
struct SettingsFile: Sendable, Equatable {
    static let defaultPath = "/etc/cvmctl/config.yaml"
    static let keys: Set<String> = [
        "state", "images", "connect", "virtType", "subnet", "migrationAddress", "logFormat", "apiListen", "apiTLSCertificate", "apiTLSKey",
        "tmsAdmin", "policyRepo",
    ]

    /// The file read, nil when none was (the default path does not exist).
    var path: String?
    var state: String?
    var images: String?
    var connect: String?
    var virtType: VirtTypeRequest?
    var subnet: IPv4Subnet?
    var migrationAddress: String?
    var logFormat: GlobalOptions.LogFormat?
    var apiListen: String?
    var apiTLSCertificate: String?
    var apiTLSKey: String?
    var tmsAdmin: String?
    var policyRepo: String?

    init() {}

    /// Reads the file at `path` (bounded and parsed by `YAMLReader`). Blocking file I/O.
    static func load(path: String) throws(ConfigFileError) -> SettingsFile {
        try parse(YAMLReader.load(file: path, limits: YAMLLimits(maximumBytes: 64 * 1024, maximumDepth: 8)), path: path)
    }

    static func parse(_ text: String, path: String) throws(ConfigFileError) -> SettingsFile {
        try parse(YAMLReader.parse(text, file: path), path: path)
    }

    private static func parse(_ reader: YAMLReader, path: String) throws(ConfigFileError) -> SettingsFile {
        try reader.expectOnly(keys)
        var settings = SettingsFile()
        settings.path = path
        func absolute(_ key: String) throws(ConfigFileError) -> String? {
            guard let value = try reader.optionalString(key) else { return nil }
            guard value.hasPrefix("/") else {
                throw reader.error(key, "'\(value)' must be an absolute path (a service's working directory is /)", at: reader.value(key))
            }
            return value
        }
        settings.state = try absolute("state")
        settings.images = try absolute("images")
        settings.policyRepo = try absolute("policyRepo")
        settings.apiTLSCertificate = try absolute("apiTLSCertificate")
        settings.apiTLSKey = try absolute("apiTLSKey")
        settings.connect = try reader.optionalString("connect")
        settings.virtType = reader.has("virtType") ? try reader.choice("virtType", VirtTypeRequest.self) : nil
        settings.logFormat = reader.has("logFormat") ? try reader.choice("logFormat", GlobalOptions.LogFormat.self) : nil
        if let text = try reader.optionalString("subnet") {
            switch IPv4Subnet.parse(text) {
            case .success(let subnet): settings.subnet = subnet
            case .failure(let problem): throw reader.error("subnet", "\(problem)", at: reader.value("subnet"))
            }
        }
        settings.migrationAddress = try reader.optionalString("migrationAddress")
        for key in ["apiListen", "tmsAdmin"] {
            guard let text = try reader.optionalString(key) else { continue }
            guard HostPort(parsing: text) != nil else {
                throw reader.error(key, "expected HOST:PORT (an IP address and a port), found '\(text)'", at: reader.value(key))
            }
            if key == "apiListen" { settings.apiListen = text } else { settings.tmsAdmin = text }
        }
        return settings
    }

    /// The settings in force for this process: `--settings`, else `CVM_SETTINGS`, else the default
    /// path when it exists. Loaded once (by `GlobalOptions.validate`, so a bad file is the
    /// command's one-line error before it does anything).
    static func active(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigFileError) -> SettingsFile {
        let explicit = flag ?? environment["CVM_SETTINGS"]
        let path = explicit ?? defaultPath
        if let cached = cache.withLock({ $0[path] }) { return cached }
        var settings = SettingsFile()
        if explicit != nil && !FileManager.default.fileExists(atPath: path) {
            throw ConfigFileError(file: path, line: 0, column: 0, key: "-",
                                  problem: "no such settings file (named by \(flag != nil ? "--settings" : "CVM_SETTINGS"))")
        }
        if explicit != nil || FileManager.default.fileExists(atPath: path) {
            settings = try load(path: path)
        }
        cache.withLock { $0[path] = settings }
        current.withLock { $0 = settings }
        return settings
    }

    /// The settings `active` loaded last (empty before).
    static var loaded: SettingsFile { current.withLock { $0 } }

    private static let cache = Mutex<[String: SettingsFile]>([:])
    private static let current = Mutex(SettingsFile())
}
