import Testing
@testable import TrafficManager

@Suite struct AdminRouteTests {
    @Test func routes() {
        #expect(AdminRoute(method: "GET", uri: "/usage") == .usage)
        #expect(AdminRoute(method: "GET", uri: "/metrics?x=1") == .metrics)
        #expect(AdminRoute(method: "HEAD", uri: "/status") == .status)
        #expect(AdminRoute(method: "POST", uri: "/reload") == .reload)
        #expect(AdminRoute(method: "GET", uri: "/reload") == .methodNotAllowed(allowed: "POST"))
        #expect(AdminRoute(method: "POST", uri: "/usage") == .methodNotAllowed(allowed: "GET"))
        #expect(AdminRoute(method: "GET", uri: "/") == .notFound)
    }

    @Test func jsonStrings() {
        #expect(JSONText.quoted("a\"b\\c\nd\u{1}\u{7F}") == "\"a\\\"b\\\\c\\nd\\u0001\\u007f\"")
    }
}
