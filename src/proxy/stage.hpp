// src/proxy: what happens to one request, in order (pipeline.cpp), from the first byte read on a
// client connection (http_session.cpp) to the access-log line (stages/log.cpp).
//
// A stage looks at the RequestContext and answers with a StageResult:
//   Continue — go on with the next stage;
//   Respond  — haven answers the client itself with `reply` (404 no route, 503 no server, ...);
//   Fail     — something broke; `error` says what, where, and whether another attempt may help.
// Stages that only decide (route, pick, classify, log) are plain functions; stages that wait on
// sockets (connect, forward, respond) are coroutines. A coroutine frame per decision stage would
// cost an allocation and a resumption per request for nothing (see docs/architecture.md).
#pragma once

#include <cstdint>
#include <string_view>

namespace haven::proxy {

// Why haven answered (or cut) a response itself. Shown in the access log as "flag".
enum class ResponseFlag : std::uint8_t {
    None,                // the upstream's response was relayed
    NoRoute,             // 404: no route matched
    NoHealthyServer,     // 503: the pool has no server that may take the request
    UpstreamConnectFailure, // 502: connecting to the server failed
    UpstreamConnectTimeout, // 502: connecting to the server timed out
    UpstreamTimeout,     // 504: the server did not answer within timeouts.server
    UpstreamReset,       // 502: the server closed or reset the connection before a complete response
    UpstreamProtocolError, // 502: the server's response was malformed
    UpstreamAborted,     // response cut: the server stopped mid-body (client connection closed)
    BadRequest,          // 400/414/431/501/505: the request was malformed
    RequestTimeout,      // 408: the request head did not arrive within timeouts.request_headers
    ClientAborted,       // the client went away before the response was complete
    ClientTimeout,       // the client stopped sending the request body (timeouts.client_idle)
    RateLimited,         // 429: a rate limit refused the request
    CircuitOpen,         // 503: the route's or the pool's circuit breaker is open
    BulkheadFull,        // 503: the route's bulkhead had no slot (queue full or queue timeout)
    Overflow,            // 503: the pool's resource_limits (requests or connections) are all in use
    ServerQueue,         // 503: every server the request may use was at max_connections and the
                         // pool's queue was full, or the wait reached queue.timeout
    FaultInjected,       // an injected fault's status (docs/policies.md)
    JwtRejected,         // 401: the route's JWT check refused the request (no token, or an invalid one)
    Draining,            // 503: haven is shutting down (a request still waiting for a retry when
                         // the drain timeout ended; otherwise not used for in-flight requests)
    UpstreamTls,         // 502: the TLS handshake with the server failed (its certificate was not
                         // verified, no version or cipher in common, or it closed): nothing sent
    TlsHandshake,        // the client's TLS handshake failed (tcp listeners; http ones log nothing,
                         // as no request came: see haven_tls_handshakes_total)
    ServerShutdown,      // tcp: the relay was cut because its server went down or lost its role
                         // (on_marked_down: shutdown_sessions, docs/database-ha.md)
};

std::string_view flag_name(ResponseFlag f);

enum class ErrorSource : std::uint8_t { Upstream, Downstream, Internal };

struct Error {
    ResponseFlag flag = ResponseFlag::None;
    ErrorSource source = ErrorSource::Internal;
    // Whether a new attempt (another connection or server) may succeed and is safe: false once
    // any byte of the response reached the client, or when the request might have been processed.
    bool retryable = false;
};

struct LocalReply {
    int status = 0;
    ResponseFlag flag = ResponseFlag::None;
};

struct StageResult {
    enum class Kind : std::uint8_t { Continue, Respond, Fail };
    Kind kind = Kind::Continue;
    LocalReply reply;
    Error error;

    static StageResult next() { return {}; }
    static StageResult respond(int status, ResponseFlag flag) { return {Kind::Respond, {status, flag}, {}}; }
    static StageResult fail(ResponseFlag flag, ErrorSource source, bool retryable) {
        return {Kind::Fail, {}, {flag, source, retryable}};
    }
    bool ok() const { return kind == Kind::Continue; }
};

} // namespace haven::proxy
