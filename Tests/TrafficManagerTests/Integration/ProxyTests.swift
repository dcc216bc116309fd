import Testing

/// Proxy tests with real sockets: a traffic manager on 127.0.0.1 in front of real backends started
/// by the tests (random ports). Serialized, so that timing checks do not compete for the CPU.
@Suite(.serialized) struct ProxyTests {}
