// The data plane's section: request and connection metrics summed over the workers at scrape
// time (docs/metrics.md), and one deep-health check per worker's event loop.
#include "runtime/proxy_subsystem.hpp"

#include "net/tls/channel.hpp"
#include "net/tls/server_context.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace haven::runtime {
namespace {

using admin::metrics::Exposition;
using admin::metrics::Labels;
using proxy::MetricsStore;
using proxy::RouteCounters;

using admin::metrics::kCodeClass;
const char* kDecision[5] = {"retried", "not_retryable", "budget_exhausted", "limit_reached", "no_server"};

double sum_of(const PerWorker<RouteCounters>& c, std::size_t cls) {
    std::uint64_t n = 0;
    for (std::size_t w = 0; w < c.size(); ++w) n += c.at(w).responses[cls].get();
    return static_cast<double>(n);
}

void request_metrics(Exposition& e, const MetricsStore& store) {
    for (const auto& [key, r] : store.routes()) {
        const std::string listener = key.substr(0, key.find('\n'));
        for (std::size_t cls = 0; cls < 6; ++cls) {
            const double n = sum_of(r->counters, cls);
            if (n == 0 && cls != 2) continue; // keep the output small: zero series only for 2xx
            e.counter("haven_requests_total", "Requests answered, by listener, route, pool and status class.",
                      {{"listener", listener}, {"route", r->route}, {"pool", r->pool}, {"code_class", kCodeClass[cls]}}, n);
        }
    }
    for (const auto& [name, l] : store.listeners()) {
        std::array<std::uint64_t, kLatencyBuckets> buckets{};
        std::uint64_t sum_us = 0, errors = 0, conns = 0;
        std::array<std::uint64_t, net::tls::kHandshakeOutcomes> handshakes{};
        for (std::size_t w = 0; w < l->counters.size(); ++w) {
            const auto& c = l->counters.at(w);
            for (std::size_t k = 0; k < handshakes.size(); ++k) handshakes[k] += c.handshakes[k].get();
            for (std::size_t b = 0; b < kLatencyBuckets; ++b) buckets[b] += c.latency.buckets[b].get();
            sum_us += c.latency.sum_us.get();
            errors += c.errors.get();
            conns += c.connections.get();
        }
        const Labels labels{{"listener", name}};
        e.histogram("haven_request_duration_seconds", "Time from a complete request head to the end of the response.",
                    labels, kLatencyBounds, buckets, static_cast<double>(sum_us) / 1e6);
        e.counter("haven_request_errors_total", "Requests counted against the SLO: 5xx answers and requests left without one.",
                  labels, static_cast<double>(errors));
        e.counter("haven_connections_accepted_total", "Client connections accepted, by listener.", labels,
                  static_cast<double>(conns));
        for (std::size_t k = 0; k < handshakes.size(); ++k) {
            if (handshakes[k] == 0) continue; // TLS listeners only, outcomes seen
            e.counter("haven_tls_handshakes_total", "TLS handshakes with clients, by listener and outcome.",
                      {{"listener", name}, {"outcome", net::tls::handshake_name(static_cast<net::tls::Handshake>(k))}},
                      static_cast<double>(handshakes[k]));
        }
    }
}

void worker_metrics(Exposition& e, const std::vector<const proxy::WorkerContext*>& workers) {
    std::array<std::uint64_t, std::size(kDecision)> decisions{};
    std::array<std::uint64_t, net::tls::kHandshakeOutcomes> upstream_tls{};
    std::uint64_t stale = 0, active = 0, evicted = 0, rejected = 0, dropped = 0;
    for (const auto* w : workers) {
        const auto& s = w->stats;
        for (std::size_t k = 0; k < upstream_tls.size(); ++k) upstream_tls[k] += s.upstream_tls[k].get();
        for (std::size_t k = 0; k < std::size(kDecision); ++k) decisions[k] += s.retry_decisions[k].get();
        stale += s.upstream_stale_retries.get();
        active += s.connections_active.get();
        evicted += s.connections_evicted.get();
        rejected += s.connections_rejected.get();
        dropped += s.access_log_dropped.get();
    }
    for (std::size_t k = 0; k < std::size(kDecision); ++k) {
        e.counter("haven_retry_decisions_total", "Decisions after a failed attempt: retried, or why not.",
                  {{"decision", kDecision[k]}}, static_cast<double>(decisions[k]));
    }
    e.counter("haven_upstream_stale_retries_total", "Requests re-sent on a new connection after a pooled one had been closed by the server.",
              {}, static_cast<double>(stale));
    e.gauge("haven_connections_active", "Client connections open now.", {}, static_cast<double>(active));
    e.counter("haven_connections_evicted_total", "Idle client connections closed to admit new ones at max_connections.", {},
              static_cast<double>(evicted));
    e.counter("haven_connections_rejected_total", "Client connections refused at max_connections (none idle).", {},
              static_cast<double>(rejected));
    for (std::size_t k = 0; k < upstream_tls.size(); ++k) {
        if (upstream_tls[k] == 0) continue; // pools with tls: only, outcomes seen
        e.counter("haven_upstream_tls_handshakes_total", "TLS handshakes with servers (pools with tls:), by outcome.",
                  {{"outcome", net::tls::handshake_name(static_cast<net::tls::Handshake>(k))}},
                  static_cast<double>(upstream_tls[k]));
    }
    e.counter("haven_access_log_dropped_total", "Access-log lines dropped because the writer fell behind.", {},
              static_cast<double>(dropped));
}

} // namespace

ProxySubsystem::ProxySubsystem(std::shared_ptr<const config::Config> config, upstream::ControlPlane& plane,
                               policy::PolicyStore& policies)
    : plane_(plane), data_(std::move(config), plane.snapshots(), policies) {}

void ProxySubsystem::commit(const std::shared_ptr<const config::Config>& next) {
    // The control plane committed first (runtime.cpp): its snapshots are of next's pools.
    data_.commit(next, plane_.snapshots());
}

void ProxySubsystem::metrics(Exposition& out) {
    request_metrics(out, data_.metrics());
    worker_metrics(out, data_.workers());
    for (const auto& l : data_.config().listeners) {
        if (!l.tls || !l.tls->context) continue;
        out.gauge("haven_tls_certificate_expiry_timestamp_seconds",
                  "When the first of the listener's certificates expires (Unix time): alert well before it.",
                  {{"listener", l.name}}, static_cast<double>(l.tls->context->earliest_expiry()));
    }
}

void ProxySubsystem::summary(nlohmann::json& out) {
    out["workers"] = data_.workers().size();
    out["listeners"] = data_.listening().size();
    out["connections"] = data_.open_connections();
}

void ProxySubsystem::health(std::vector<admin::HealthCheckResult>& out) {
    // Every worker's tick updates its heartbeat at least every 100 ms; a stuck loop stops it.
    const std::int64_t now_us = wall_time_us();
    for (const auto* w : data_.workers()) {
        const auto age_ms = (now_us - w->heartbeat_us.load(std::memory_order_relaxed)) / 1000;
        out.push_back({fmt::format("worker:{}", w->index), age_ms < 2000,
                       fmt::format("event loop last ticked {} ms ago", age_ms)});
    }
}

} // namespace haven::runtime
