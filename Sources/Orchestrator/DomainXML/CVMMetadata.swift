import Libvirt

/// The orchestrator's own `<metadata>` element, present in every domain it defines, so a
/// domain can be matched to its CVM record (reconciliation) without trusting names.
public struct CVMMetadata: Sendable, Equatable {
    /// XML namespace of the element; libvirt keys custom metadata by it.
    public static let namespace = "urn:cvm-orchestrator:cvm:1"
    public static let prefix = "cvm"

    public var id: String
    public var name: String
    public var image: String
    public var task: String
    public var role: String
    /// The id of the state store that owns the CVM, so several orchestrators (or test
    /// runs) can share one libvirtd without claiming each other's domains.
    public var owner: String

    public init(id: String, name: String, image: String, task: String, role: String, owner: String) {
        self.id = id
        self.name = name
        self.image = image
        self.task = task
        self.role = role
        self.owner = owner
    }

    /// The element as libvirt stores it (`<cvm:instance xmlns:cvm=…>`).
    var tree: XMLTree {
        XMLTree("\(Self.prefix):instance", [("xmlns:\(Self.prefix)", Self.namespace)], children: [
            .element(XMLTree("\(Self.prefix):id", text: id)),
            .element(XMLTree("\(Self.prefix):name", text: name)),
            .element(XMLTree("\(Self.prefix):image", text: image)),
            .element(XMLTree("\(Self.prefix):task", text: task)),
            .element(XMLTree("\(Self.prefix):role", text: role)),
            .element(XMLTree("\(Self.prefix):owner", text: owner)),
        ])
    }

    /// Reads the element back, whatever prefix libvirt gave it. Nil when it is not ours.
    /// `namespaceKnown`: the caller asked libvirt for our namespace, and libvirt returns the
    /// element without any namespace declaration then.
    init?(tree: XMLTree, namespaceKnown: Bool = false) {
        let declared = tree.attributes.filter { $0.0.hasPrefix("xmlns") }.map(\.1)
        if namespaceKnown {
            guard declared.isEmpty || declared.contains(Self.namespace) else { return nil }
        } else {
            guard declared.contains(Self.namespace) else { return nil }
        }
        guard tree.name == "instance" || tree.name.hasSuffix(":instance") else { return nil }
        func field(_ local: String) -> String? {
            tree.elements.first { $0.name == local || $0.name.hasSuffix(":" + local) }?.text
        }
        guard let id = field("id"), !id.isEmpty else { return nil }
        self.init(id: id, name: field("name") ?? "", image: field("image") ?? "",
                  task: field("task") ?? "", role: field("role") ?? "", owner: field("owner") ?? "")
    }

    /// Parses the string `virDomainGetMetadata` returns for our namespace (libvirt strips
    /// the namespace from it).
    public init?(metadataXML: String) {
        guard let tree = try? XMLTree.parse(metadataXML) else { return nil }
        self.init(tree: tree, namespaceKnown: true)
    }
}

extension DomainDefinition.Metadata {
    /// Metadata holding the orchestrator's element first, then `others`.
    public init(cvm: CVMMetadata?, others: [XMLTree] = []) {
        self.init(elements: (cvm.map { [$0.tree] } ?? []) + others)
    }

    /// The orchestrator's element, if the domain carries one. Setting it replaces ours (or
    /// puts it first) and leaves every other application's element as it was.
    public var cvm: CVMMetadata? {
        get { elements.lazy.compactMap { CVMMetadata(tree: $0) }.first }
        set {
            if let index = elements.firstIndex(where: { CVMMetadata(tree: $0) != nil }) {
                if let newValue { elements[index] = newValue.tree } else { elements.remove(at: index) }
            } else if let newValue {
                elements.insert(newValue.tree, at: 0)
            }
        }
    }

    /// Every other application's elements.
    public var others: [XMLTree] { elements.filter { CVMMetadata(tree: $0) == nil } }
}
