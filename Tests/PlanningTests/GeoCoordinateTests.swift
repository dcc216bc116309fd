import Testing
@testable import Planning

@Suite("GeoCoordinate")
struct GeoCoordinateTests {
    static let paris = GeoCoordinate(latitude: 48.8566, longitude: 2.3522)
    static let london = GeoCoordinate(latitude: 51.5074, longitude: -0.1278)
    static let sydney = GeoCoordinate(latitude: -33.8688, longitude: 151.2093)

    @Test("haversine distances match published great-circle figures")
    func knownDistances() {
        #expect(abs(Self.paris.distanceKm(to: Self.london) - 343.5) < 1)
        #expect(abs(Self.paris.distanceKm(to: Self.sydney) - 16_960) < 20)
        #expect(Self.paris.distanceKm(to: Self.paris) == 0)
    }

    @Test("antipodes are half the circumference apart; distance is symmetric")
    func extremes() {
        let a = GeoCoordinate(latitude: 10, longitude: 20)
        let b = GeoCoordinate(latitude: -10, longitude: -160)
        // asin is ill-conditioned next to 1, as in every haversine: within a metre is the contract.
        #expect(abs(a.distanceKm(to: b) - .pi * GeoCoordinate.earthRadiusKm) < 1e-3)
        #expect(Self.london.distanceKm(to: Self.sydney) == Self.sydney.distanceKm(to: Self.london))
    }

    @Test("small distances stay accurate (no cosine cancellation)")
    func small() {
        let a = GeoCoordinate(latitude: 45, longitude: 7)
        let b = GeoCoordinate(latitude: 45, longitude: 7.0001)  // ~7.86 m
        #expect(abs(a.distanceKm(to: b) * 1000 - 7.863) < 0.01)
    }
}
