import ConfigFile

/// An error in a traffic manager configuration file: file, line, column, the key (a dotted
/// path such as `vServers[0].spillover.limit`) and the problem, on one line
/// (`FILE:LINE:COLUMN: KEY: PROBLEM`). The same type as the orchestrator's policy errors.
public typealias ConfigError = ConfigFile.ConfigFileError
