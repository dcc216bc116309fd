import CVMProtocol
import Glibc

// The CVM guest agent: /init (PID 1) of the component VM.
// Usage: cvm-agent [CONFIG_PATH]   (default /etc/cvm/config)
// As PID 1 it mounts the kernel file systems and loads the virtio modules first; run by
// hand (not PID 1) it skips those steps and exits instead of powering off.

let isInit = getpid() == 1
var bootDegraded = false
if isInit {
    bootDegraded = SystemSetup.mountKernelFileSystems() > 0
    bootDegraded = ModuleLoader.loadAll() > 0 || bootDegraded
}
let arguments = CommandLine.arguments
let config = Boot.loadConfig(path: arguments.count > 1 ? arguments[1] : Boot.configPath)
let credentials = Boot.installCredentials()
if credentials > 0 { Console.log("\(credentials) TLS credential files in \(ConfigBlock.credentialsDirectory)") }
Console.log("\(config.name): task \(config.task), role \(config.role.rawValue), interval \(config.intervalMs) ms")
var interface: String?
if isInit, let network = config.network {
    switch NetworkSetup.configure(network) {
    case .success(let name):
        interface = name
        Console.log("\(name): \(network.addressText) (\(network.mac)) up")
    case .failure(let failure):
        Console.log("network: \(failure.reason)")
        bootDegraded = true
    }
}
Agent(config: config, isInit: isInit, bootDegraded: bootDegraded, interface: interface).run()
