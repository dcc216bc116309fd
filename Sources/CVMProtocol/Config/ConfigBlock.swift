/// The per-CVM configuration as it travels on the CVM's own disk: the rendered
/// ``AgentConfig`` text at offset 0 of `vda`, NUL-padded to one 4 KiB block. Keeping it on
/// the CVM's disk (instead of a per-CVM initrd) lets every CVM of an image share one
/// content-addressed kernel and initrd, and the configuration moves with the disk when the
/// CVM migrates. The data area the CVM may use starts at ``dataOffset``.
public enum ConfigBlock {
    public static let size = 4096
    public static let dataOffset = 1 << 20

    /// The block for `config`. Throws when the rendered text does not fit.
    public static func encode(_ config: AgentConfig) throws -> [UInt8] {
        let text = Array(config.render().utf8)
        guard text.count < size else {
            throw AgentConfigError(.invalidValue, line: nil, key: "peers", "configuration is \(text.count) bytes; at most \(size - 1) fit")
        }
        return text + [UInt8](repeating: 0, count: size - text.count)
    }

    /// The configuration text in a block read from the disk: up to the first NUL. Nil when
    /// the block does not start like a rendered configuration (a blank or foreign disk).
    public static func text<C: Collection>(from block: C) -> String? where C.Element == UInt8 {
        let bytes = Array(block.prefix { $0 != 0 })
        let text = String(decoding: bytes, as: UTF8.self)
        return text.hasPrefix(AgentConfig.renderedHeader) ? text : nil
    }
}
