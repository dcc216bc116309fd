import CLibvirt

/// An error reported by libvirt, copied out of libvirt's thread-local error slot inside the
/// C call that failed (the `cvm_*` wrappers in CLibvirt's shim.h), never read from the slot
/// afterwards, where it may already belong to another call.
public struct LibvirtError: Error, Sendable, CustomStringConvertible {
    /// libvirt's error number (`virErrorNumber`), matchable through the static members.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let unknown = Code(rawValue: -1)
        public static let internalError = Code(rawValue: Int32(VIR_ERR_INTERNAL_ERROR.rawValue))
        public static let noConnect = Code(rawValue: Int32(VIR_ERR_NO_CONNECT.rawValue))
        public static let systemError = Code(rawValue: Int32(VIR_ERR_SYSTEM_ERROR.rawValue))
        public static let operationFailed = Code(rawValue: Int32(VIR_ERR_OPERATION_FAILED.rawValue))
        public static let operationInvalid = Code(rawValue: Int32(VIR_ERR_OPERATION_INVALID.rawValue))
        public static let noDomain = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN.rawValue))
        public static let noStoragePool = Code(rawValue: Int32(VIR_ERR_NO_STORAGE_POOL.rawValue))
        public static let noStorageVolume = Code(rawValue: Int32(VIR_ERR_NO_STORAGE_VOL.rawValue))
        public static let noNetwork = Code(rawValue: Int32(VIR_ERR_NO_NETWORK.rawValue))
        public static let domainExists = Code(rawValue: Int32(VIR_ERR_DOM_EXIST.rawValue))
        public static let invalidArgument = Code(rawValue: Int32(VIR_ERR_INVALID_ARG.rawValue))
        public static let noSupport = Code(rawValue: Int32(VIR_ERR_NO_SUPPORT.rawValue))
        public static let xmlDetail = Code(rawValue: Int32(VIR_ERR_XML_DETAIL.rawValue))
        public static let xmlError = Code(rawValue: Int32(VIR_ERR_XML_ERROR.rawValue))
        public static let authFailed = Code(rawValue: Int32(VIR_ERR_AUTH_FAILED.rawValue))
        public static let noDomainMetadata = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue))
        public static let operationAborted = Code(rawValue: Int32(VIR_ERR_OPERATION_ABORTED.rawValue))
        public static let migrateUnsafe = Code(rawValue: Int32(VIR_ERR_MIGRATE_UNSAFE.rawValue))
        public static let agentUnresponsive = Code(rawValue: Int32(VIR_ERR_AGENT_UNRESPONSIVE.rawValue))
    }

    public var code: Code
    /// libvirt's error domain (`virErrorDomain`): which subsystem raised it.
    public var domain: Int32
    /// libvirt's own message.
    public var message: String
    /// What we asked libvirt to do, e.g. `virDomainCreate(cvm-web1)`.
    public var operation: String

    public init(code: Code, domain: Int32 = 0, message: String, operation: String) {
        self.code = code
        self.domain = domain
        self.message = message
        self.operation = operation
    }

    public var description: String { "\(operation): \(message)" }

    /// Builds the error from what a `cvm_*` wrapper (CLibvirt's shim.h) copied into `raw`
    /// inside the failing C call, then frees that copy (`virResetError`), leaving `raw`
    /// empty and reusable. Nothing here reads libvirt's thread-local error slot, so building
    /// `operation` may call libvirt (a domain's name, which clears the slot) without losing
    /// the error.
    init(capturing raw: inout virError, operation: String) {
        defer { virResetError(&raw) }
        guard raw.code != 0 else {
            self.init(code: .unknown, message: "libvirt reported a failure without details", operation: operation)
            return
        }
        let message = raw.message.map { String(cString: $0) } ?? "no message"
        self.init(code: Code(rawValue: raw.code), domain: raw.domain, message: message, operation: operation)
    }
}
