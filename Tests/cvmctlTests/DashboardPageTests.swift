import Foundation
import Testing
@testable import OrchestratorAPI

@Suite struct DashboardPageTests {
    @Test("the embedded page is dashboard.html as committed (run scripts/embed-dashboard.py after editing it)")
    func embeddedCopyIsCurrent() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/OrchestratorAPI/Dashboard/dashboard.html").standardized
        let page = try String(contentsOf: source, encoding: .utf8)
        #expect(DashboardPage.html == page || DashboardPage.html + "\n" == page, "DashboardPage.swift is stale: run scripts/embed-dashboard.py")
    }

    @Test("the policy allows exactly the page's inline script, by hash, and nothing off this origin")
    func contentSecurityPolicy() {
        let policy = Dashboard.contentSecurityPolicy
        #expect(Dashboard.scriptHash.count == 44 && policy.contains("script-src 'sha256-\(Dashboard.scriptHash)'"))
        #expect(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'") && !policy.contains("unsafe-eval"))
        #expect(DashboardPage.html.components(separatedBy: "<script").count == 2, "one inline script, the one hashed")
        #expect(!DashboardPage.html.contains("http://") && !DashboardPage.html.contains("https://"), "no external resource")
    }
}
