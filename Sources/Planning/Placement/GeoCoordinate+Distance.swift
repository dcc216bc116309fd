#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension GeoCoordinate {
    /// Mean Earth radius used for distances, in kilometres.
    public static let earthRadiusKm = 6371.0088

    /// Great-circle distance in kilometres by the haversine formula.
    public func distanceKm(to other: GeoCoordinate) -> Double {
        GeoUnitVector(self).distanceKm(to: GeoUnitVector(other))
    }
}

/// A coordinate as a point on the unit sphere, so that distances to many points cost one
/// square root and one arcsine each.
///
/// The haversine `a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)` equals a quarter of the squared
/// chord between the two unit vectors, so `2R·asin(√a)` below is the haversine distance,
/// computed from precomputed vectors instead of per-pair trigonometry.
struct GeoUnitVector: Sendable, Hashable {
    var x: Double
    var y: Double
    var z: Double

    init(_ c: GeoCoordinate) {
        let lat = c.latitude * .pi / 180
        let lon = c.longitude * .pi / 180
        x = cos(lat) * cos(lon)
        y = cos(lat) * sin(lon)
        z = sin(lat)
    }

    func distanceKm(to o: GeoUnitVector) -> Double {
        let dx = x - o.x, dy = y - o.y, dz = z - o.z
        let a = min(1, (dx * dx + dy * dy + dz * dz) / 4)
        return 2 * GeoCoordinate.earthRadiusKm * asin(a.squareRoot())
    }
}
