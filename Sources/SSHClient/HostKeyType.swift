import CLibssh2

/// An SSH host key algorithm family, as libssh2 1.10 knows them, in the order a client
/// should prefer them (`allCases`).
enum HostKeyType: CaseIterable, Sendable {
    case ed25519, ecdsa256, ecdsa384, ecdsa521, rsa, dss

    /// From `libssh2_session_hostkey`'s type (`LIBSSH2_HOSTKEY_TYPE_*`).
    init?(sessionType: Int32) {
        switch sessionType {
        case LIBSSH2_HOSTKEY_TYPE_RSA: self = .rsa
        case LIBSSH2_HOSTKEY_TYPE_DSS: self = .dss
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: self = .ecdsa256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: self = .ecdsa384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: self = .ecdsa521
        case LIBSSH2_HOSTKEY_TYPE_ED25519: self = .ed25519
        default: return nil
        }
    }

    /// The name in known_hosts lines and in the key blob, e.g. `ssh-ed25519`.
    var name: String {
        switch self {
        case .rsa: "ssh-rsa"
        case .dss: "ssh-dss"
        case .ecdsa256: "ecdsa-sha2-nistp256"
        case .ecdsa384: "ecdsa-sha2-nistp384"
        case .ecdsa521: "ecdsa-sha2-nistp521"
        case .ed25519: "ssh-ed25519"
        }
    }

    var knownHostKeyBits: Int32 {
        switch self {
        case .rsa: LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case .dss: LIBSSH2_KNOWNHOST_KEY_SSHDSS
        case .ecdsa256: LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case .ecdsa384: LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case .ecdsa521: LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case .ed25519: LIBSSH2_KNOWNHOST_KEY_ED25519
        }
    }

    /// The signature algorithms that prove possession of this key type, for
    /// `libssh2_session_method_pref(LIBSSH2_METHOD_HOSTKEY)`. libssh2 drops the names it
    /// does not implement (1.10 has no rsa-sha2-*).
    var hostKeyAlgorithms: [String] {
        switch self {
        case .rsa: ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        default: [name]
        }
    }
}
