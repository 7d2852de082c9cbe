// Per-listener and per-route request counters, one slot per worker thread (summed at scrape
// time). They live outside the snapshots, keyed by listener name and route, so a reload that keeps
// a route keeps its counters.
#pragma once

#include "core/counters.hpp"

#include <array>
#include <string>

namespace haven::proxy {

struct RouteCounters {
    std::array<Counter, 6> responses; // by status class; index 0: no status (client gone, TCP)
};

struct RouteMetrics {
    RouteMetrics(std::size_t workers, std::string route_label, std::string pool_label)
        : route(std::move(route_label)), pool(std::move(pool_label)), counters(workers) {}
    std::string route; // label value: the route's position and match, e.g. "0:api.example.com/v1"
    std::string pool;  // label value: the pool it sends to
    PerWorker<RouteCounters> counters;
};

struct ListenerCounters {
    std::array<Counter, 6> responses; // by status class (0: none)
    Counter errors;                   // counted against the SLO: 5xx and answers never sent
    LatencyHistogram latency;         // head received -> response done
    Counter connections;              // accepted
    std::array<Counter, 9> handshakes; // TLS listeners: by net::tls::Handshake outcome
};

struct ListenerMetrics {
    ListenerMetrics(std::size_t workers, std::string listener) : name(std::move(listener)), counters(workers) {}
    std::string name;
    PerWorker<ListenerCounters> counters;
};

} // namespace haven::proxy
