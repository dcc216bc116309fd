import ArgumentParser
import ConfigFile
import Foundation
import Testing
@testable import cvmctl
import Orchestrator

@Suite struct SettingsFileTests {
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cvmctl-settings-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("every key is read; paths stay as written")
    func readsEveryKey() throws {
        let settings = try SettingsFile.parse("""
            state: /srv/cvm/state
            images: /srv/cvm/images
            connect: qemu:///system
            virtType: qemu
            subnet: 10.9.0.0/24
            migrationAddress: 127.0.0.1
            logFormat: json
            apiListen: 127.0.0.1:9000
            tmsAdmin: 127.0.0.1:9001
            policyRepo: /srv/policies
            """, path: "c.yaml")
        #expect(settings.state == "/srv/cvm/state" && settings.images == "/srv/cvm/images" && settings.policyRepo == "/srv/policies")
        #expect(settings.virtType == .qemu && settings.logFormat == .json && settings.subnet?.description == "10.9.0.0/24")
        #expect(settings.apiListen == "127.0.0.1:9000" && settings.tmsAdmin == "127.0.0.1:9001" && settings.connect == "qemu:///system")
    }

    @Test("bad files: FILE:LINE:COLUMN: KEY: PROBLEM, the first problem found", arguments: [
        ("state: /a\nstat: /b\n", "c.yaml:2:1: stat: unknown key"),
        ("images: relative/dir\n", "c.yaml:1:9: images: 'relative/dir' must be an absolute path"),
        ("policyRepo: ./policies\n", "c.yaml:1:13: policyRepo: './policies' must be an absolute path"),
        ("virtType: xen\n", "c.yaml:1:11: virtType: expected one of: auto, kvm, qemu"),
        ("logFormat: yaml\n", "c.yaml:1:12: logFormat: expected one of: text, json"),
        ("subnet: 10.0.0.0/99\n", "c.yaml:1:9: subnet:"),
        ("apiListen: web.example:80\n", "c.yaml:1:12: apiListen: expected HOST:PORT"),
        ("tmsAdmin: 127.0.0.1:99999999999999999999\n", "c.yaml:1:11: tmsAdmin: expected HOST:PORT"),
        ("state: [/a]\n", "c.yaml:1:8: state: expected a non-empty string"),
        ("- state\n", "c.yaml:1:1: -: expected a mapping"),
    ])
    func badFiles(text: String, expected: String) throws {
        let error = #expect(throws: ConfigFileError.self) { try SettingsFile.parse(text, path: "c.yaml") }
        #expect(error?.description.hasPrefix(expected) == true, "\(error?.description ?? "-")")
    }

    @Test("precedence: flag > environment > file > default")
    func precedence() throws {
        let path = try Self.file("state: /from/file\nconnect: test:///default\nvirtType: kvm\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fileOnly = try GlobalOptions.parse(["--settings", path]).configuration(environment: [:])
        #expect(fileOnly.stateDirectory == "/from/file" && fileOnly.localURI == "test:///default" && fileOnly.virtType == .kvm)
        let env = try GlobalOptions.parse(["--settings", path]).configuration(environment: ["CVM_STATE": "/from/env", "CVM_VIRT_TYPE": "qemu"])
        #expect(env.stateDirectory == "/from/env" && env.virtType == .qemu && env.localURI == "test:///default")
        let flag = try GlobalOptions.parse(["--settings", path, "--state", "/from/flag"]).configuration(environment: ["CVM_STATE": "/from/env"])
        #expect(flag.stateDirectory == "/from/flag")
        #expect(fileOnly.imagesDirectory == OrchestratorConfiguration().imagesDirectory, "a key the file leaves out keeps its default")
    }

    @Test("--settings naming a missing file is an error; the default path may be absent")
    func missingFile() throws {
        let missing = "/nonexistent/cvmctl-\(UUID().uuidString).yaml"
        let error = #expect(throws: ConfigFileError.self) { try SettingsFile.active(flag: missing, environment: [:]) }
        #expect(error?.description.contains("no such settings file (named by --settings)") == true)
        #expect(throws: ConfigFileError.self) { try SettingsFile.active(flag: nil, environment: ["CVM_SETTINGS": missing]) }
    }
}
