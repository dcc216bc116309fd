import Foundation
import Libvirt

/// A CVM's serial console output, as virtlogd appends it to a log file on the host the CVM
/// runs on (the domain's `<serial><log file=…>`): `cvmctl console` reads it.
///
/// What a guest prints is hostile: `printable` turns control characters (terminal escape
/// sequences among them) into visible text before anything reaches a terminal.
public enum CVMConsole {
    /// Beside the CVM's disk, in the host's CVM pool (`…/NAME-ID-disk.img` →
    /// `…/NAME-ID-console.log`): it exists wherever the disk does, and goes with the CVM's
    /// volumes when it is decommissioned or migrated away.
    static func logPath(disk: String, of record: CVMRecord) -> String {
        (disk as NSString).deletingLastPathComponent + "/" + CVMVolumes.consoleLog(of: record)
    }

    /// The console log file a domain's definition names (its serial's `<log file=…>`).
    static func logPath(domainXML: String) -> String? {
        guard let definition = try? DomainDefinition(xml: domainXML) else { return nil }
        if let file = definition.devices.serials.lazy.compactMap(\.logFile).first { return file }
        return definition.devices.unmodeled.lazy.filter { $0.name == "serial" }.compactMap { $0.first("log")?[attribute: "file"] }.first
    }

    /// Bytes of the log from `start`, and the offset just past them.
    public struct Chunk: Sendable, Equatable {
        public var bytes: [UInt8]
        public var start: Int
        public var end: Int
        /// The file's size when read.
        public var size: Int
    }

    /// `bytes` for a terminal: printable ASCII and UTF-8, newlines and tabs kept; carriage
    /// returns dropped; every other control character shown as `^X` (escape: `^[`); invalid
    /// UTF-8 as U+FFFD.
    public static func printable(_ bytes: [UInt8]) -> String {
        var out = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar.value {
            case 0x0A, 0x09: out.unicodeScalars.append(scalar)
            case 0x0D: continue
            case 0x00..<0x20: out += "^" + String(UnicodeScalar(UInt8(scalar.value) + 0x40))
            case 0x7F: out += "^?"
            case 0x80..<0xA0: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension CVMOrchestrator {
    /// Reads a CVM's console log on its host: the last `maxBytes` when `after` is nil, else
    /// what follows offset `after` (at most `maxBytes`; from the start again when the file is
    /// shorter than `after`, i.e. virtlogd rotated it).
    public func consoleLog(cvm name: String, after: Int?, maxBytes: Int = 64 * 1024) async throws -> CVMConsole.Chunk {
        guard let record = try await store.cvm(named: name) else { throw OrchestratorError.unknownCVM(name) }
        guard let host = try await store.host(named: record.host) else { throw OrchestratorError.unknownHost(record.host) }
        let hypervisor = try await hypervisors.hypervisor(for: host)
        guard let domain = try await hypervisor.lookupDomain(named: record.domainName) else {
            throw OrchestratorError.invalidArgument("CVM '\(name)' has no domain on \(host.name) (it is \(record.state.rawValue)); see `cvmctl status`")
        }
        guard let path = CVMConsole.logPath(domainXML: try await domain.xml(migratable: false)) else {
            throw OrchestratorError.invalidArgument("CVM '\(name)' was deployed before consoles were logged; redeploy it to have one")
        }
        guard !path.contains("'") else { throw OrchestratorError.invalidArgument("CVM '\(name)': its console log path \(path) cannot be read safely") }
        let limit = max(1, min(maxBytes, 1 << 20))
        // The size, then the bytes as base64 (the output must survive as text, whatever the guest wrote).
        let script = """
            f='\(path)'
            [ -e "$f" ] || exit 3
            size=$(stat -c %s "$f") || exit 4
            start=\(after.map(String.init) ?? "-1")
            if [ "$start" -lt 0 ]; then start=$((size > \(limit) ? size - \(limit) : 0)); fi
            if [ "$start" -gt "$size" ]; then start=0; fi
            echo "$size $start"
            tail -c +$((start + 1)) "$f" | head -c \(limit) | base64 -w 0
            """
        let shell = HostShell(host: host, knownHosts: knownHostsPath(host.name))
        let result = try await LibvirtExecutor.run { try shell.run(script, timeout: .seconds(20)) }
        switch result.status {
        case 0: break
        case 3: throw OrchestratorError.invalidArgument("CVM '\(name)' has no console output on \(host.name) yet (\(path))")
        default: throw OrchestratorError.hostRefused(host: host.name, reason: "its console log \(path) could not be read: \(result.problem)")
        }
        let lines = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let header = lines.first.map { $0.split(separator: " ").compactMap { Int($0) } } ?? []
        guard header.count == 2, let data = Data(base64Encoded: lines.count > 1 ? String(lines[1]).trimmingCharacters(in: .whitespacesAndNewlines) : "") else {
            throw OrchestratorError.hostRefused(host: host.name, reason: "its console log \(path) could not be read: unexpected output")
        }
        return CVMConsole.Chunk(bytes: Array(data), start: header[1], end: header[1] + data.count, size: header[0])
    }
}
