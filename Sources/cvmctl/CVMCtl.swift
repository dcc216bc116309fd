import ArgumentParser

@main
struct CVMCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cvmctl",
        abstract: "Deploy, watch, migrate and retire component VMs (CVMs) beside the traffic manager.",
        discussion: """
        Settings come from flags, then environment variables (CVM_STATE, CVM_IMAGES, \
        CVM_CONNECT, CVM_VIRT_TYPE), then defaults.
        """,
        subcommands: [
            DeployCommand.self, DecommissionCommand.self, StatusCommand.self, ImageCommand.self,
            MigrateCommand.self, MonitorCommand.self, EventsCommand.self, HostCommand.self,
            PolicyCommand.self, ExplainCommand.self, ElasticCommand.self, TmsCommand.self,
        ])

    /// ArgumentParser's own entry, plus closing libvirt connections before exit.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            OpenOrchestrators.closeAll()
        } catch {
            OpenOrchestrators.closeAll()
            exit(withError: error)
        }
    }
}
