import ArgumentParser
import Foundation
import Orchestrator
import TrafficManager

/// `cvmctl config`: the settings in force and where each came from (flag, environment,
/// settings file, default), like `git config --show-origin`.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the settings in force and where each came from.",
        discussion: """
            Precedence: flag > environment variable > settings file (--settings, CVM_SETTINGS, else \
            /etc/cvmctl/config.yaml when it exists) > default. The file's keys: \
            \(SettingsFile.keys.sorted().joined(separator: ", ")). Paths in it must be absolute; an \
            unknown key or a bad value is an error naming its file, line and column.
            """)

    @OptionGroup var global: GlobalOptions

    struct Setting: Encodable {
        var key: String
        var value: String
        var origin: String
    }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let file = global.settings
        let defaults = OrchestratorConfiguration()
        let fileOrigin = "file " + (file.path ?? "-")
        func pick(_ key: String, flag: String?, _ variable: String?, _ fromFile: String?, _ fallback: String?) -> Setting {
            if let flag { return Setting(key: key, value: flag, origin: "flag") }
            if let variable, let value = env[variable] { return Setting(key: key, value: value, origin: "env " + variable) }
            if let fromFile { return Setting(key: key, value: fromFile, origin: fileOrigin) }
            return Setting(key: key, value: fallback ?? "", origin: "default")
        }
        let settings = [
            Setting(key: "config", value: file.path ?? SettingsFile.defaultPath,
                    origin: global.settingsFile != nil ? "flag" : env["CVM_SETTINGS"] != nil ? "env CVM_SETTINGS" : file.path == nil ? "default (absent)" : "default"),
            pick("state", flag: global.state, "CVM_STATE", file.state, defaults.stateDirectory),
            pick("images", flag: global.images, "CVM_IMAGES", file.images, defaults.imagesDirectory),
            pick("connect", flag: global.connect, "CVM_CONNECT", file.connect, defaults.localURI),
            pick("virtType", flag: global.virtType?.rawValue, "CVM_VIRT_TYPE", file.virtType?.rawValue, defaults.virtType.rawValue),
            pick("subnet", flag: nil, "CVM_SUBNET", file.subnet?.description, defaults.cvmSubnet.description),
            pick("migrationAddress", flag: nil, "CVM_MIGRATION_ADDRESS", file.migrationAddress, nil),
            pick("logFormat", flag: global.logFormat?.rawValue, "CVM_LOG_FORMAT", file.logFormat?.rawValue, "text"),
            pick("apiListen", flag: nil, "CVM_API_LISTEN", file.apiListen, "127.0.0.1:9911"),
            pick("apiTLSCertificate", flag: nil, nil, file.apiTLSCertificate, "(none: plain HTTP, loopback only)"),
            pick("apiTLSKey", flag: nil, nil, file.apiTLSKey, "(none)"),
            pick("tmsAdmin", flag: nil, "CVM_TMS_ADMIN", file.tmsAdmin, AdminConfig.defaultAddress.description),
            pick("policyRepo", flag: nil, nil, file.policyRepo, "(the current directory)"),
        ]
        if global.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(settings), as: UTF8.self))
        } else {
            let width = settings.map(\.key.count).max() ?? 0
            let valueWidth = settings.map(\.value.count).max() ?? 0
            for setting in settings {
                let key = setting.key.padding(toLength: width, withPad: " ", startingAt: 0)
                let value = setting.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0)
                print("\(key)  \(value)  \(setting.origin)")
            }
        }
    }
}
