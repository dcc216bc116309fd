import CLibvirt
import Dispatch
import Foundation
@testable import Libvirt
import Testing

/// Errors are copied by the `cvm_*` wrappers inside the failing C call (test driver, no daemon).
@Suite struct LibvirtErrorTests {
    @Test func lookupsOfMissingObjectsAreNil() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        #expect(try c.lookupDomain(name: "no-such-domain") == nil)
        #expect(try c.lookupDomain(uuid: "3c1d5a0e-0000-4000-8000-000000000000") == nil)
        #expect(try c.lookupStoragePool(name: "no-such-pool") == nil)
    }

    @Test func brokenXMLCarriesLibvirtsCodeMessageAndOperation() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        let error = try #require(throws: LibvirtError.self) {
            _ = try c.defineDomain(xml: "<domain type='test'><name>broken</name>")
        }
        #expect(error.code == .xmlError || error.code == .xmlDetail)
        #expect(error.operation == "virDomainDefineXML")
        // libvirt names the document it parsed: the message is libvirt's own.
        #expect(error.message.contains("domain_definition"))
        #expect(error.description == "virDomainDefineXML: \(error.message)")
    }

    @Test func theWrapperCopiesTheErrorInTheFailingCall() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        var err = virError()
        #expect(cvm_virDomainLookupByName(c.raw, "no-such-domain", &err) == nil)
        // A later libvirt call on this thread clears libvirt's slot; the copy is unaffected.
        _ = try c.hostname
        #expect(virGetLastError() == nil)
        #expect(err.code == Int32(VIR_ERR_NO_DOMAIN.rawValue))
        let error = LibvirtError(capturing: &err, operation: "lookup")
        #expect(error.code == .noDomain)
        #expect(error.message.contains("not found"))
        // Building the error freed the copy and left the struct reusable.
        #expect(err.code == 0)
        #expect(err.message == nil)
    }

    @Test func aSuccessfulCallCopiesNothing() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        var err = virError()
        let hostname = try #require(cvm_virConnectGetHostname(c.raw, &err))
        free(hostname)
        #expect(err.code == 0)
        #expect(err.message == nil)
    }

    @Test func concurrentFailuresEachGetTheirOwnError() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        let threads = 8, rounds = 25
        let messages = Locked<[Int: [String]]>([:])
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var seen: [String] = []
            for round in 0..<rounds {
                let token = "bogus\(thread)x\(round)"
                do {
                    _ = try c.defineDomain(xml: "<domain type='\(token)'><name>\(token)</name></domain>")
                    seen.append("accepted \(token)")
                } catch let error as LibvirtError {
                    seen.append(error.code == .unknown ? "no details" : error.message)
                } catch {
                    seen.append("\(error)")
                }
            }
            messages.withLock { $0[thread] = seen }
        }
        let all = messages.withLock { $0 }
        #expect(all.count == threads)
        for thread in 0..<threads {
            let seen = all[thread] ?? []
            #expect(seen.count == rounds)
            for (round, message) in seen.enumerated() {
                #expect(message.contains("bogus\(thread)x\(round)"), "thread \(thread) round \(round): \(message)")
            }
        }
    }

    @Test func failuresWhoseOperationNamesTheDomainKeepTheirError() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        let name = "err-\(UUID().uuidString.prefix(6))"
        let d = try c.defineDomain(xml: LibvirtConnectionTests.testDomain(name).xml)
        defer { try? d.undefine() }
        try d.start()
        defer { try? d.destroy() }
        // Building "virDomainCreate(<name>)" calls virDomainGetName after the failure, which
        // clears libvirt's thread-local error.
        let error = try #require(throws: LibvirtError.self) { try d.start() }
        #expect(error.code != .unknown)
        #expect(error.message.contains("already"))
        #expect(error.operation == "virDomainCreate(\(name))")
    }
}
