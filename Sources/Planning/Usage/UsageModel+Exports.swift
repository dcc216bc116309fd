// The usage types Planning's API is written in (task thresholds, outlooks, forecasts) come
// from UsageModel, which the traffic manager shares; clients of Planning get them with it,
// as NIO's modules re-export the types of their API.
@_exported import enum UsageModel.ForecastMethod
@_exported import struct UsageModel.UsageForecast
@_exported import struct UsageModel.UsagePattern
@_exported import enum UsageModel.UsageResource
@_exported import struct UsageModel.UsageSample
@_exported import struct UsageModel.UsageSeries
