import ConfigFile
import Yams
import Testing

@Suite("YAMLInteger")
struct YAMLIntegerTests {
    @Test("decimal: digits and a sign; beyond Int is out of range, not a trap", arguments: [
        ("42", YAMLInteger.value(42)), ("-7", .value(-7)), ("+3", .value(3)), ("007", .value(7)),
        ("9223372036854775807", .value(.max)), ("-9223372036854775808", .value(.min)),
        ("9223372036854775808", .outOfRange), ("-99999999999999999999", .outOfRange),
        ("", .notAnInteger), ("-", .notAnInteger), ("1.5", .notAnInteger), ("0x10", .notAnInteger),
        ("1_000", .notAnInteger), (" 1", .notAnInteger), ("١٢", .notAnInteger), ("1:30", .notAnInteger),
    ])
    func decimal(text: String, expected: YAMLInteger) {
        #expect(YAMLInteger(decimal: text) == expected)
    }

    @Test("YAML 1.1: the forms Yams reads, with overflow reported", arguments: [
        ("42", YAMLInteger.value(42)), ("-7", .value(-7)), ("1_000", .value(1_000)), ("0x1F", .value(31)),
        ("0b101", .value(5)), ("0o17", .value(15)), ("010", .value(8)), ("0", .value(0)), ("-0", .value(0)),
        ("1:30", .value(90)), ("-1:0:0", .value(-3_600)), ("190:20:30", .value(685_230)),
        ("0x7fffffffffffffff", .value(.max)), ("0x8000000000000000", .outOfRange),
        ("9223372036854775808", .outOfRange), ("1:0:0:0:0:0:0:0:0:0:0:0", .outOfRange),
        ("9223372036854775807:0", .outOfRange), ("99999999999999999999:0", .outOfRange),
        ("0x", .notAnInteger), ("0b2", .notAnInteger), ("1.5", .notAnInteger), ("a", .notAnInteger),
    ])
    func yaml11(text: String, expected: YAMLInteger) {
        #expect(YAMLInteger(yaml11: text) == expected)
    }

    @Test("agrees with Yams wherever Yams does not trap", arguments: [
        "42", "-7", "1_000", "0x1F", "0b101", "0o17", "010", "0", "1:30", "-1:0:0", "190:20:30", "+12",
    ])
    func matchesYams(text: String) {
        #expect(YAMLInteger(yaml11: text) == Int.construct(from: .init(text)).map(YAMLInteger.value))
    }
}
