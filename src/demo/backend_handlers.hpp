// What the demo backend answers (I/O-free, so tests can call it directly).
#pragma once

#include "core/random.hpp"
#include "demo/backend.hpp"
#include "http/parser.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace haven::demo {

// A request, copied out of the receive buffer.
struct Request {
    std::string method;
    std::string path;
    std::string query;
    std::vector<std::pair<std::string, std::string>> headers;
    bool keep_alive = true;
    bool head = false;
    std::uint64_t body_length = 0;

    static Request from(const http::RequestHead& h);
};

struct BackendState {
    explicit BackendState(BackendSettings s) : settings(std::move(s)), random(FastRandom::from_entropy()) {}
    BackendSettings settings;
    FastRandom random;
    std::uint64_t requests = 0;
    std::uint64_t connections = 0; // accepted so far (tests check keep-alive reuse with it)
    std::uint32_t in_flight = 0;     // requests being answered now (a delayed one included)
    std::uint32_t max_in_flight = 0; // the most at once so far (tests check max_connections with it)
};

struct Action {
    std::string response;         // bytes to write (a whole response, or a head when streaming)
    std::uint64_t stream_bytes = 0; // body bytes to generate after `response`
    bool chunked = false;         // generate them with chunked framing
    int delay_ms = 0;             // wait before answering
    bool abort = false;           // close the connection without answering
    bool close_after = false;
};

Action handle(const Request& r, BackendState& state);

// The value of `key` in a query string "a=1&b=2", or empty.
std::string query_param(const std::string& query, const std::string& key);

} // namespace haven::demo
