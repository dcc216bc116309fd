// The traffic manager data plane (issue 4).
