extension AgentConfig {
    /// Parses the text of `/etc/cvm/config`.
    ///
    /// - Throws: `AgentConfigError` naming the line and key of the first problem: a line
    ///   without `=`, an unknown or repeated key, a value that breaks the field's rule, or a
    ///   required key that is missing.
    public static func parse(_ text: String) throws -> AgentConfig {
        var values: [String: (value: String, line: Int)] = [:]
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = trim(rawLine)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw AgentConfigError(.syntax, line: lineNumber, key: nil, "expected key=value")
            }
            let key = String(trim(line[..<equals]))
            let value = String(trim(line[line.index(after: equals)...]))
            guard knownKeys.contains(key) else {
                throw AgentConfigError(.unknownKey, line: lineNumber, key: key.isEmpty ? nil : key,
                                       "unknown key (known: \(knownKeys.joined(separator: ", ")))")
            }
            guard values[key] == nil else {
                throw AgentConfigError(.duplicateKey, line: lineNumber, key: key,
                                       "repeated (first on line \(values[key]!.line))")
            }
            values[key] = (value, lineNumber)
        }

        func required(_ key: String) throws -> (value: String, line: Int) {
            guard let entry = values[key] else {
                throw AgentConfigError(.missingKey, line: nil, key: key, "required key is missing")
            }
            return entry
        }

        let id = try required("id")
        try check(uuid: id.value, line: id.line)
        let name = try required("name")
        try check(name: name.value, key: "name", line: name.line)
        let task = try required("task")
        try check(name: task.value, key: "task", line: task.line)

        let roleEntry = try required("role")
        guard let role = Role(rawValue: roleEntry.value) else {
            throw AgentConfigError(.invalidValue, line: roleEntry.line, key: "role",
                                   "expected single, master or servant")
        }

        let peersEntry = try required("peers")
        let peers = peersEntry.value.isEmpty
            ? []
            : peersEntry.value.split(separator: ",", omittingEmptySubsequences: false).map { String(trim($0)) }
        for peer in peers { try check(name: peer, key: "peers", line: peersEntry.line) }

        let secretEntry = try required("secret")
        guard secretEntry.value.utf8.count == 64, let secret = Hex.decode(secretEntry.value) else {
            throw AgentConfigError(.invalidValue, line: secretEntry.line, key: "secret",
                                   "expected 64 hex digits")
        }

        var intervalMs = defaultIntervalMs
        if let entry = values["intervalMs"] {
            guard let value = Int(entry.value), intervalRange.contains(value) else {
                throw AgentConfigError(.invalidValue, line: entry.line, key: "intervalMs",
                                       "expected an integer within \(intervalRange)")
            }
            intervalMs = value
        }

        var channel = defaultChannel
        if let entry = values["channel"] {
            try check(channel: entry.value, line: entry.line)
            channel = entry.value
        }

        var network: Network?
        switch (values["address"], values["mac"]) {
        case (nil, nil):
            break
        case let (address?, mac?):
            guard let (value, length) = Network.parseAddress(address.value) else {
                throw AgentConfigError(.invalidValue, line: address.line, key: "address", "expected an IPv4 address and prefix like 10.77.0.2/24")
            }
            do {
                network = try Network(address: value, prefixLength: length, mac: mac.value)
            } catch let error as AgentConfigError {
                throw AgentConfigError(error.code, line: error.key == "mac" ? mac.line : address.line, key: error.key, error.message)
            }
        case (let address?, nil):
            throw AgentConfigError(.missingKey, line: address.line, key: "mac", "required with address")
        case (nil, let mac?):
            throw AgentConfigError(.missingKey, line: mac.line, key: "address", "required with mac")
        }

        return try AgentConfig(id: id.value, name: name.value, task: task.value, role: role,
                               peers: peers, secret: secret, intervalMs: intervalMs, channel: channel, network: network)
    }

    /// The keys the file may contain.
    public static let knownKeys = ["id", "name", "task", "role", "peers", "secret", "intervalMs", "channel", "address", "mac"]

    private static func trim(_ text: Substring) -> Substring {
        var text = text
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }
}
