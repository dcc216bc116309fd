import CVMProtocol
internal import Foundation
import HTTPTypes
import Hummingbird

/// `GET /ui`: the dashboard, one self-contained page embedded in the binary (no CDN, works
/// offline), served with a Content-Security-Policy that lets it run its own inline script
/// (by hash) and talk to this origin only.
enum Dashboard {
    /// The page's inline script, hashed for the policy (computed once).
    static let scriptHash: String = {
        let html = DashboardPage.html
        guard let open = html.range(of: "<script>"), let close = html.range(of: "</script>", range: open.upperBound..<html.endIndex) else {
            return ""
        }
        return Data(SHA256.hash(Array(html[open.upperBound..<close.lowerBound].utf8))).base64EncodedString()
    }()

    static let contentSecurityPolicy =
        "default-src 'none'; connect-src 'self'; script-src 'sha256-\(scriptHash)'; style-src 'unsafe-inline'; "
        + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] = contentSecurityPolicy
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
    }
}
