// The usage types of the `/usage` report (patterns, forecasts, samples) come from UsageModel,
// which the planner shares; clients of TrafficManager get them with it, as NIO's modules
// re-export the types of their API.
@_exported import enum UsageModel.ForecastMethod
@_exported import struct UsageModel.UsageForecast
@_exported import struct UsageModel.UsagePattern
@_exported import enum UsageModel.UsageResource
@_exported import struct UsageModel.UsageSample
@_exported import struct UsageModel.UsageSeries
