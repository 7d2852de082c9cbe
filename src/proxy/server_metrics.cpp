// GET /metrics: every metric haven exports, summed over the worker threads at scrape time.
// The names and their meaning are listed in docs/metrics.md.
#include "proxy/server_impl.hpp"

namespace haven::proxy {
namespace {

using admin::metrics::Exposition;
using admin::metrics::Labels;

const char* kClass[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
const char* kFailure[4] = {"connect", "timeout", "reset", "protocol"};
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
                      {{"listener", listener}, {"route", r->route}, {"pool", r->pool}, {"code_class", kClass[cls]}}, n);
        }
    }
    for (const auto& [name, l] : store.listeners()) {
        std::array<std::uint64_t, kLatencyBuckets> buckets{};
        std::uint64_t sum_us = 0, errors = 0, conns = 0;
        for (std::size_t w = 0; w < l->counters.size(); ++w) {
            const auto& c = l->counters.at(w);
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
    }
}

void server_metrics(Exposition& e, const upstream::PoolState& p) {
    const auto set = p.current();
    const auto status = p.status();
    for (std::size_t i = 0; i < status.size(); ++i) {
        const auto& s = status[i];
        const auto& h = set->hosts[i];
        const Labels l{{"pool", p.name()}, {"server", s.name}};
        std::array<std::uint64_t, 6> responses{};
        std::array<std::uint64_t, 4> failures{};
        std::uint64_t attempts = 0, active = 0, retried = 0, refused = 0;
        for (std::size_t w = 0; w < h.metrics->size(); ++w) {
            const auto& c = h.metrics->at(w);
            attempts += c.attempts.get();
            retried += c.retried.get();
            refused += c.refused_marks.get();
            active += c.active.get();
            for (std::size_t k = 0; k < 6; ++k) responses[k] += c.responses[k].get();
            for (std::size_t k = 0; k < 4; ++k) failures[k] += c.failures[k].get();
        }
        e.gauge("haven_server_up", "1 when the server passes its health checks (or has none), else 0.", l,
                s.health == upstream::HealthStatus::Up ? 1 : 0);
        e.gauge("haven_server_serving", "1 when the server takes new requests now.", l, s.serving ? 1 : 0);
        const std::string_view current = upstream::state_name(s);
        for (const char* state : {"up", "down", "refused", "ejected", "drain", "maint"}) {
            e.gauge("haven_server_state", "The server's state, one series per state (1 = current).",
                    {{"pool", p.name()}, {"server", s.name}, {"state", state}}, current == state ? 1 : 0);
        }
        e.gauge("haven_server_weight", "The server's effective weight (configured weight x 100 after slow start).", l,
                s.effective_weight);
        e.gauge("haven_upstream_active_requests", "Requests in flight to the server.", l, static_cast<double>(active));
        e.counter("haven_upstream_attempts_total", "Attempts sent to the server (first tries and retries).", l,
                  static_cast<double>(attempts));
        e.counter("haven_upstream_retries_total", "Attempts on the server that failed and were retried.", l,
                  static_cast<double>(retried));
        for (std::size_t k = 1; k < 6; ++k) {
            e.counter("haven_upstream_responses_total", "Responses received from the server, by status class.",
                      {{"pool", p.name()}, {"server", s.name}, {"code_class", kClass[k]}}, static_cast<double>(responses[k]));
        }
        for (std::size_t k = 0; k < 4; ++k) {
            e.counter("haven_upstream_failures_total", "Attempts that got no response, by reason.",
                      {{"pool", p.name()}, {"server", s.name}, {"reason", kFailure[k]}}, static_cast<double>(failures[k]));
        }
        if (s.checked) {
            e.counter("haven_health_checks_total", "Active health checks, by result.",
                      {{"pool", p.name()}, {"server", s.name}, {"result", "ok"}}, static_cast<double>(s.checks - s.check_failures));
            e.counter("haven_health_checks_total", "Active health checks, by result.",
                      {{"pool", p.name()}, {"server", s.name}, {"result", "failed"}}, static_cast<double>(s.check_failures));
            e.gauge("haven_health_check_duration_seconds", "Duration of the server's last active health check.", l,
                    s.last_check_ms / 1000);
        }
        e.counter("haven_outlier_ejections_total", "Times outlier detection ejected the server.", l,
                  static_cast<double>(s.ejections_total));
        e.counter("haven_upstream_refused_connects_total",
                  "Connects to the server refused on live traffic; each stops that worker picking it at once.", l,
                  static_cast<double>(refused));
        e.counter("haven_server_refusals_total",
                  "Times the server was taken out of rotation for refused connects (until a check passed).", l,
                  static_cast<double>(s.refusals_total));
    }
}

void pool_metrics(Exposition& e, const upstream::ControlPlane& plane) {
    for (const auto& p : plane.pools()) {
        const auto set = p->current();
        const Labels l{{"pool", p->name()}};
        std::size_t healthy = 0;
        for (const auto& s : p->status()) healthy += s.health == upstream::HealthStatus::Up && !s.ejected && !s.refused ? 1 : 0;
        e.gauge("haven_pool_servers", "Servers configured in the pool.", l, static_cast<double>(set->hosts.size()));
        e.gauge("haven_pool_healthy_servers", "Servers up, not ejected and not refusing connections.", l, static_cast<double>(healthy));
        e.gauge("haven_pool_serving_servers", "Servers taking new requests now.", l, static_cast<double>(set->eligible.size()));
        e.gauge("haven_pool_serving_tier", "Priority tier in service (-1: none, or panic mode).", l, static_cast<double>(set->tier));
        e.gauge("haven_pool_panic", "1 when no server is up and on_all_down: try_all balances over all of them.", l,
                set->mode == upstream::ServingMode::Panic ? 1 : 0);
        e.counter("haven_failovers_total", "Changes of the pool's serving tier.", l, static_cast<double>(p->failovers()));
        server_metrics(e, *p);
    }
}

} // namespace

void Server::Impl::collect(Exposition& e) {
    request_metrics(e, metrics);
    pool_metrics(e, plane);
    std::array<std::uint64_t, std::size(kDecision)> decisions{};
    std::uint64_t stale = 0, active = 0, evicted = 0, rejected = 0, dropped = 0;
    for (const auto& w : workers) {
        const auto& s = w->ctx->stats;
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
    e.counter("haven_access_log_dropped_total", "Access-log lines dropped because the writer fell behind.", {},
              static_cast<double>(dropped));
    e.counter("haven_config_reloads_total", "Configuration reloads, by result.", {{"result", "success"}},
              static_cast<double>(event_log.count("reload")));
    e.counter("haven_config_reloads_total", "Configuration reloads, by result.", {{"result", "failure"}},
              static_cast<double>(event_log.count("reload_failed")));
    for (const auto& [kind, n] : event_log.counts()) {
        e.counter("haven_events_total", "High-availability decisions, by kind (see the event history).", {{"kind", kind}},
                  static_cast<double>(n));
    }
    slo_metrics(e);
    admin::metrics::add_process_metrics(e, admin::metrics::read_process_stats());
}

void Server::Impl::slo_metrics(Exposition& e) {
    for (const auto& l : listeners()) {
        const auto& r = l.slo;
        const Labels lab{{"listener", l.name}};
        e.gauge("haven_slo_target_availability", "The availability target (fraction).", lab, r.target.availability);
        e.gauge("haven_slo_allowed_downtime_seconds", "Downtime the availability target allows over the SLO window.", lab,
                r.allowed_downtime_seconds);
        e.gauge("haven_slo_error_budget_remaining", "Fraction of the SLO window's error budget left (negative: overspent).",
                lab, r.error_budget_remaining);
        const std::pair<const char*, const admin::WindowStats*> windows[] = {
            {"5m", &r.last_5m}, {"1h", &r.last_1h}, {"slo", &r.slo_window}};
        for (const auto& [name, w] : windows) {
            const Labels wl{{"listener", l.name}, {"window", name}};
            e.gauge("haven_slo_availability", "Measured availability over the window (fraction).", wl, w->availability);
            e.gauge("haven_slo_latency_p99_seconds", "Measured p99 request duration over the window.", wl, w->p99_seconds);
        }
        e.gauge("haven_slo_burn_rate", "Error rate over the window divided by the error rate the target allows.",
                {{"listener", l.name}, {"window", "5m"}}, r.burn_rate_5m);
        e.gauge("haven_slo_burn_rate", "Error rate over the window divided by the error rate the target allows.",
                {{"listener", l.name}, {"window", "1h"}}, r.burn_rate_1h);
    }
}

} // namespace haven::proxy
