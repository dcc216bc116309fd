extension DomainState {
    /// A state of the given kind, for hypervisors other than libvirt (an in-memory fake).
    package init(kind: Kind, reason: Int32 = 0) {
        self.kind = kind
        self.reason = reason
    }
}

extension JobProgress {
    package init(active: Bool, dataTotal: UInt64, dataRemaining: UInt64) {
        self.active = active
        self.dataTotal = dataTotal
        self.dataProcessed = dataTotal - min(dataTotal, dataRemaining)
        self.dataRemaining = dataRemaining
        self.elapsedMs = 0
    }
}

extension JobCompleted {
    package init(domainName: String, downtimeMs: UInt64?) {
        self.domainName = domainName
        self.downtimeMs = downtimeMs
        self.elapsedMs = nil
        self.dataTotal = nil
    }
}
