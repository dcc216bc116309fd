import UsageMath

/// Types the orchestrator shares with the traffic manager (target UsageMath), under the names
/// the orchestrator's API has always used.
public typealias UsageSample = UsageMath.UsageSample
public typealias ConfigFileError = UsageMath.ConfigFileError
