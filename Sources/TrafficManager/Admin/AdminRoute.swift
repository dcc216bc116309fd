/// The admin endpoint's routes (pure: method and path in, route out).
public enum AdminRoute: Sendable, Hashable {
    /// `GET /usage`: the latest `UsageReport` as JSON.
    case usage
    /// `GET /metrics`: Prometheus text.
    case metrics
    /// `GET /status`: the `StatusReport` as JSON.
    case status
    /// `POST /reload`: reload the configuration file.
    case reload
    case notFound
    case methodNotAllowed(allowed: String)

    public init(method: String, uri: String) {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let (route, allowed): (AdminRoute, String) = switch path {
        case "/usage": (.usage, "GET")
        case "/metrics": (.metrics, "GET")
        case "/status": (.status, "GET")
        case "/reload": (.reload, "POST")
        default: (.notFound, "")
        }
        if route == .notFound {
            self = .notFound
        } else if method == allowed || (allowed == "GET" && method == "HEAD") {
            self = route
        } else {
            self = .methodNotAllowed(allowed: allowed)
        }
    }
}

/// An admin response: status code, content type and body.
struct AdminResponse: Sendable {
    var status: Int
    var contentType: String
    var body: String

    static func json(_ status: Int, _ body: String) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: body)
    }

    static func error(_ status: Int, _ message: String) -> AdminResponse {
        .json(status, "{\"error\":\(JSONText.quoted(message))}\n")
    }

    /// The one answer to a request without the admin token (one line, names no path).
    static let unauthorized = AdminResponse.error(
        401, "missing or wrong admin token: send Authorization: Bearer <the token in the traffic manager's admin token file>")

}

/// JSON text for one string: quotes, backslashes and control characters escaped (`\uXXXX`),
/// everything else as it is. For the few hand-made JSON answers and log lines.
package enum JSONText {
    package static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
