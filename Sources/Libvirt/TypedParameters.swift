import CLibvirt
import Foundation

/// Builds a libvirt typed-parameter list (`virTypedParameterPtr`) and frees it afterwards.
final class TypedParameters {
    private(set) var raw: virTypedParameterPtr?
    private(set) var count: Int32 = 0
    private var capacity: Int32 = 0

    deinit { virTypedParamsFree(raw, count) }

    func add(_ name: String, string value: String) throws {
        var err = virError()
        guard cvm_virTypedParamsAddString(&raw, &count, &capacity, name, value, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virTypedParamsAddString(\(name))")
        }
    }

    func add(_ name: String, ulonglong value: UInt64) throws {
        var err = virError()
        guard cvm_virTypedParamsAddULLong(&raw, &count, &capacity, name, value, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virTypedParamsAddULLong(\(name))")
        }
    }

    /// Reads an unsigned 64-bit value from a parameter array libvirt gave us.
    static func ulonglong(_ params: virTypedParameterPtr?, _ count: Int32, _ name: String) -> UInt64? {
        var value: UInt64 = 0
        return virTypedParamsGetULLong(params, count, name, &value) == 1 ? value : nil
    }
}
