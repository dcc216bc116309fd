import Foundation
import Testing
import UsageModel

@Suite("ForecastMethod")
struct ForecastMethodTests {
    @Test("encoded with its name, and Holt's factors", arguments: [
        (ForecastMethod.linear, #"{"name":"linear"}"#),
        (ForecastMethod.holt(alpha: 0.5, beta: 0.25), #"{"alpha":0.5,"beta":0.25,"name":"holt"}"#),
    ])
    func coding(method: ForecastMethod, json: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(method), as: UTF8.self) == json)
        #expect(try JSONDecoder().decode(ForecastMethod.self, from: Data(json.utf8)) == method)
    }

    @Test("an unknown name, or Holt without its factors, does not decode")
    func rejects() {
        for json in [#"{"name":"arima"}"#, #"{"name":"holt","alpha":0.5}"#, #"{}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(ForecastMethod.self, from: Data(json.utf8)) }
        }
    }
}
