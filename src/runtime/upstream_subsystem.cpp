// The control plane's section: pool and server metrics (docs/metrics.md), pool health for
// /health?deep=1, readiness once every server had its first check.
#include "runtime/upstream_subsystem.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace haven::runtime {
namespace {

using admin::metrics::Exposition;
using admin::metrics::Labels;

using admin::metrics::kCodeClass;
const char* kFailure[4] = {"connect", "timeout", "reset", "protocol"};

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
                      {{"pool", p.name()}, {"server", s.name}, {"code_class", kCodeClass[k]}}, static_cast<double>(responses[k]));
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

void breaker_metrics(Exposition& e, const upstream::PoolState& p) {
    const auto* b = p.breaker();
    if (!b) return;
    for (const auto s : {upstream::BreakerState::Closed, upstream::BreakerState::Open, upstream::BreakerState::HalfOpen}) {
        e.gauge("haven_breaker_state", "A circuit breaker's state, one series per state (1 = current).",
                {{"scope", "pool"}, {"name", p.name()}, {"state", upstream::breaker_state_name(s)}}, s == b->state() ? 1 : 0);
    }
    e.counter("haven_breaker_trips_total", "Times a circuit breaker opened.", {{"scope", "pool"}, {"name", p.name()}},
              static_cast<double>(b->trips()));
}

void caps_metrics(Exposition& e, const upstream::PoolState& p) {
    const auto* c = p.caps();
    if (!c) return;
    const std::pair<const char*, std::pair<std::uint32_t, std::uint64_t>> rows[] = {
        {"requests", {c->requests(), c->overflow_requests()}},
        {"connections", {c->connections(), c->overflow_connections()}},
        {"retries", {c->retries(), c->overflow_retries()}}};
    for (const auto& [resource, v] : rows) {
        e.gauge("haven_pool_resource_in_use", "What a pool with resource_limits uses now.",
                {{"pool", p.name()}, {"resource", resource}}, static_cast<double>(v.first));
        e.counter("haven_pool_overflow_total", "Requests refused (or retries not made) because a resource_limits cap was reached.",
                  {{"pool", p.name()}, {"resource", resource}}, static_cast<double>(v.second));
    }
}

void queue_metrics(Exposition& e, const upstream::PoolState& p) {
    const auto* q = p.slots();
    if (!q) return;
    const Labels l{{"pool", p.name()}};
    e.gauge("haven_pool_queue_length", "Requests waiting for a server with max_connections to have room.", l,
            static_cast<double>(q->queued()));
    const std::pair<const char*, std::uint64_t> results[] = {
        {"queued", q->queued_total()}, {"full", q->full_total()}, {"timeout", q->timeout_total()}};
    for (const auto& [result, n] : results) {
        e.counter("haven_pool_queue_total",
                  "Requests that waited in the pool's queue (queued), found it full (full, 503) or waited queue.timeout (timeout, 503).",
                  {{"pool", p.name()}, {"result", result}}, static_cast<double>(n));
    }
    const auto status = p.status();
    for (std::size_t i = 0; i < status.size(); ++i) {
        const auto h = static_cast<upstream::HostIndex>(i);
        if (!q->capped(h)) continue;
        e.gauge("haven_server_max_connections", "The server's max_connections (requests in flight at once).",
                {{"pool", p.name()}, {"server", status[i].name}}, q->cap(h));
    }
}

void sticky_metrics(Exposition& e, const upstream::PoolState& p) {
    const auto* st = p.sticky();
    if (!st) return;
    const auto t = st->total();
    const std::pair<const char*, std::uint64_t> results[] = {{"cookie_hit", t.cookie_hits},
                                                             {"table_hit", t.table_hits},
                                                             {"redispatched", t.redispatched},
                                                             {"refused", t.refused},
                                                             {"assigned", t.assigned}};
    for (const auto& [result, n] : results) {
        e.counter("haven_sticky_total",
                  "Sticky requests: sent to the server their cookie (cookie_hit) or stick table entry (table_hit) "
                  "names, sent elsewhere because it was out (redispatched), refused for that with redispatch off "
                  "(refused); responses that stuck a client to a server (assigned).",
                  {{"pool", p.name()}, {"result", result}}, static_cast<double>(n));
    }
    if (const auto* table = st->table()) {
        e.gauge("haven_stick_table_entries", "Entries in the pool's stick table.", {{"pool", p.name()}},
                static_cast<double>(table->size()));
        e.counter("haven_stick_table_evictions_total", "Live stick table entries dropped to make room (size reached).",
                  {{"pool", p.name()}}, static_cast<double>(table->evictions()));
    }
}

// Pools with `role:` (docs/database-ha.md): alert when haven_pool_primaries != 1.
void role_metrics(Exposition& e, const upstream::PoolState& p) {
    const auto& cfg = p.config();
    if (cfg.role == config::PoolRole::Any) return;
    const Labels l{{"pool", p.name()}};
    if (cfg.role == config::PoolRole::Primary) {
        e.gauge("haven_pool_primaries",
                "Servers up and claiming primary in a role: primary pool (1 is right; 0 or 2+ routes no connection).", l,
                static_cast<double>(p.primaries()));
        e.counter("haven_pool_split_brains_total", "Times two or more servers of a role: primary pool claimed primary at once.",
                  l, static_cast<double>(p.split_brains()));
    }
    for (const auto& s : p.status()) {
        if (s.role != "replica") continue;
        e.gauge("haven_server_replication_lag_seconds", "A replica's replay lag at its last postgres check.",
                {{"pool", p.name()}, {"server", s.name}}, s.lag_seconds);
    }
}

void pool_metrics(Exposition& e, const upstream::ControlPlane& plane) {
    for (const auto& p : plane.pools()) {
        breaker_metrics(e, *p);
        caps_metrics(e, *p);
        queue_metrics(e, *p);
        sticky_metrics(e, *p);
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
        role_metrics(e, *p);
        server_metrics(e, *p);
    }
}

} // namespace

UpstreamSubsystem::UpstreamSubsystem(asio::io_context& control, EventLog& events, upstream::ControlPlane::Publish publish,
                                     std::shared_ptr<const config::Config> config, std::size_t workers)
    : cfg_(std::move(config)), plane_(control, events, std::move(publish), workers) {
    plane_.configure(*cfg_);
}

void UpstreamSubsystem::prepare(const config::Config& next, std::vector<std::string>& errors) {
    plane_.check(next, errors);
}

void UpstreamSubsystem::commit(const std::shared_ptr<const config::Config>& next) {
    // check() resolved every server a moment ago; configure resolves again and, should a name
    // have stopped resolving in between, keeps the pools as they were.
    try {
        plane_.configure(*next);
        cfg_ = next;
    } catch (const std::exception& e) {
        plane_.events().add("reload_failed", "", "", std::string("pools kept: ") + e.what());
    }
}

Duration UpstreamSubsystem::warm_up_limit() const {
    return plane_.longest_check_timeout() + std::chrono::milliseconds(500);
}

void UpstreamSubsystem::warmed_up(Duration took, bool done) {
    if (done) {
        spdlog::info("health: first round of checks done in {:.0f} ms", to_ms(took));
    } else {
        spdlog::warn("health: some first checks had no result after {:.0f} ms; starting with what is known", to_ms(took));
    }
}

void UpstreamSubsystem::metrics(Exposition& out) { pool_metrics(out, plane_); }

void UpstreamSubsystem::summary(nlohmann::json& out) {
    std::size_t servers = 0, serving = 0;
    for (const auto& p : plane_.pools()) {
        const auto set = p->current();
        servers += set->hosts.size();
        serving += set->eligible.size();
    }
    out["pools"] = plane_.pools().size();
    out["servers"] = servers;
    out["serving"] = serving;
    out["first_checks_done"] = plane_.first_round_done();
}

void UpstreamSubsystem::health(std::vector<admin::HealthCheckResult>& out) {
    for (const auto& p : plane_.pools()) {
        if (const auto* b = p->breaker()) {
            out.push_back({"breaker:pool " + p->name(), b->state() == upstream::BreakerState::Closed,
                           fmt::format("{} ({} trips)", upstream::breaker_state_name(b->state()), b->trips())});
        }
        const auto set = p->current();
        const bool ok = !set->eligible.empty();
        out.push_back({"pool:" + p->name(), ok,
                       fmt::format("{} of {} servers serving{}", set->eligible.size(), set->hosts.size(),
                                   set->mode == upstream::ServingMode::Panic ? " (panic mode)" : "")});
    }
}

} // namespace haven::runtime
