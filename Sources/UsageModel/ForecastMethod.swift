/// How anticipated usage is computed from a window of samples.
///
/// Encoded as `{"name": "linear"}` or `{"name": "holt", "alpha": A, "beta": B}`.
public enum ForecastMethod: Sendable, Hashable, Codable {
    /// The least-squares line through the window (moving average plus trend), evaluated
    /// `horizon` seconds after the last sample.
    case linear
    /// Holt's linear exponential smoothing (level + trend), adapted to irregular sample
    /// intervals: `alpha` smooths the level, `beta` the trend; both in (0, 1].
    case holt(alpha: Double, beta: Double)

    /// The name used in policy files (`forecast.method`).
    public var name: String {
        switch self {
        case .linear: "linear"
        case .holt: "holt"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case name, alpha, beta
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .name)
        switch name {
        case "linear":
            self = .linear
        case "holt":
            self = .holt(alpha: try container.decode(Double.self, forKey: .alpha),
                         beta: try container.decode(Double.self, forKey: .beta))
        default:
            throw DecodingError.dataCorruptedError(forKey: .name, in: container,
                                                   debugDescription: "'\(name)' is not one of linear, holt")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        if case let .holt(alpha, beta) = self {
            try container.encode(alpha, forKey: .alpha)
            try container.encode(beta, forKey: .beta)
        }
    }
}
