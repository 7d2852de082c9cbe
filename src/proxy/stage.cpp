#include "proxy/stage.hpp"

namespace haven::proxy {

std::string_view flag_name(ResponseFlag f) {
    switch (f) {
    case ResponseFlag::None: return "-";
    case ResponseFlag::NoRoute: return "no route";
    case ResponseFlag::NoHealthyServer: return "no healthy server";
    case ResponseFlag::UpstreamConnectFailure: return "upstream connect failure";
    case ResponseFlag::UpstreamConnectTimeout: return "upstream connect timeout";
    case ResponseFlag::UpstreamTimeout: return "upstream timeout";
    case ResponseFlag::UpstreamReset: return "upstream reset";
    case ResponseFlag::UpstreamProtocolError: return "upstream protocol error";
    case ResponseFlag::UpstreamAborted: return "upstream aborted";
    case ResponseFlag::BadRequest: return "bad request";
    case ResponseFlag::RequestTimeout: return "request timeout";
    case ResponseFlag::ClientAborted: return "client aborted";
    case ResponseFlag::ClientTimeout: return "client timeout";
    case ResponseFlag::RateLimited: return "rate limited";
    case ResponseFlag::CircuitOpen: return "circuit open";
    case ResponseFlag::BulkheadFull: return "bulkhead full";
    case ResponseFlag::Overflow: return "overflow";
    case ResponseFlag::ServerQueue: return "server queue";
    case ResponseFlag::FaultInjected: return "fault injected";
    case ResponseFlag::JwtRejected: return "jwt rejected";
    case ResponseFlag::Draining: return "draining";
    case ResponseFlag::UpstreamTls: return "upstream tls failure";
    case ResponseFlag::TlsHandshake: return "tls handshake";
    case ResponseFlag::ServerShutdown: return "server shutdown";
    }
    return "?";
}

} // namespace haven::proxy
