/// What policies are validated against besides themselves: the image catalog and the host
/// registry. A `nil` member is not checked (the policy files alone are validated).
public struct PolicyContext: Sendable, Hashable {
    /// Images by name; task rules naming another image are errors.
    public var images: [String: ImageProfile]?
    /// Host names the registry knows; a tier whose allowed hosts include none of them is an error.
    public var knownHosts: Set<String>?

    public init(images: [ImageProfile]? = nil, knownHosts: Set<String>? = nil) {
        self.images = images.map { Dictionary($0.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }) }
        self.knownHosts = knownHosts
    }

    public static let none = PolicyContext()
}
