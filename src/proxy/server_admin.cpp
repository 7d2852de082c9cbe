// What the admin listener shows and does: listener traffic and SLOs (sampled every second),
// readiness, deep health, and starting the admin listener itself.
#include "proxy/server_impl.hpp"

#include "net/address.hpp"

#include <asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

namespace haven::proxy {
namespace {

admin::SloTarget target_of(const config::Slo& s) {
    admin::SloTarget t;
    t.availability = s.availability;
    t.latency_p99 = std::chrono::duration_cast<Duration>(s.latency_p99);
    t.error_rate = s.error_rate;
    t.window = std::chrono::duration_cast<Duration>(s.window);
    return t;
}

bool same_target(const admin::SloTarget& a, const admin::SloTarget& b) {
    return a.availability == b.availability && a.latency_p99 == b.latency_p99 && a.error_rate == b.error_rate &&
           a.window == b.window;
}

} // namespace

void Server::Impl::start_admin() {
    if (!cfg->admin) return;
    api = std::make_unique<admin::Api>(*this, cfg->admin->token);
    admin_http = std::make_unique<admin::HttpServer>(control, [this](const admin::Request& r) { return api->handle(r); });
    std::string error;
    const auto ep = net::resolve(cfg->admin->listen, error);
    if (!ep) throw std::runtime_error("admin: " + error);
    admin_endpoint = admin_http->listen(*ep);
}

// A listener whose SLO target changed starts a new history; unchanged ones keep theirs.
void Server::Impl::update_slo_targets() {
    std::map<std::string, ListenerSlo> next;
    for (const auto& l : cfg->listeners) {
        const auto target = target_of(l.slo ? *l.slo : cfg->slo);
        auto it = slos.find(l.name);
        if (it != slos.end() && same_target(it->second.tracker->target(), target)) {
            next.emplace(l.name, std::move(it->second));
        } else {
            ListenerSlo s;
            s.tracker = std::make_unique<admin::SloTracker>(target);
            next.emplace(l.name, std::move(s));
        }
    }
    slos = std::move(next);
}

admin::TrafficTotals Server::Impl::listener_totals(const ListenerMetrics& m) const {
    admin::TrafficTotals t;
    for (std::size_t w = 0; w < m.counters.size(); ++w) {
        const auto& c = m.counters.at(w);
        for (const auto& r : c.responses) t.requests += r.get();
        t.errors += c.errors.get();
        for (std::size_t b = 0; b < kLatencyBuckets; ++b) t.latency[b] += c.latency.buckets[b].get();
    }
    return t;
}

// Every second: each listener's totals go to its SLO tracker, and requests/s and the error rate
// since the previous sample are kept for the dashboard.
void Server::Impl::sample_traffic() {
    const auto now = plane.scheduler().now();
    for (auto& [name, s] : slos) {
        const auto it = metrics.listeners().find(name);
        if (it == metrics.listeners().end()) continue;
        const auto totals = listener_totals(*it->second);
        if (s.last_at != TimePoint{}) {
            const double dt = to_seconds(now - s.last_at);
            const auto reqs = totals.requests - s.last.requests;
            s.rps = dt > 0 ? static_cast<double>(reqs) / dt : 0;
            s.error_rate = reqs ? static_cast<double>(totals.errors - s.last.errors) / static_cast<double>(reqs) : 0;
        }
        s.last = totals;
        s.last_at = now;
        s.tracker->record(totals, now);
    }
    sampler->expires_after(std::chrono::seconds(1));
    sampler->async_wait([this](const asio::error_code& ec) {
        if (!ec) sample_traffic();
    });
}

std::vector<admin::ListenerStatus> Server::Impl::listeners() {
    std::vector<admin::ListenerStatus> out;
    const auto now = plane.scheduler().now();
    for (const auto& l : cfg->listeners) {
        admin::ListenerStatus st;
        st.name = l.name;
        st.address = net::endpoint_text(bound.at(l.name).endpoint);
        st.mode = config::name_of(l.mode);
        const auto it = slos.find(l.name);
        if (it != slos.end()) {
            st.rps = it->second.rps;
            st.error_rate = it->second.error_rate;
            st.slo = it->second.tracker->report(now);
            st.p50_ms = st.slo.last_5m.p50_seconds * 1000;
            st.p99_ms = st.slo.last_5m.p99_seconds * 1000;
        }
        out.push_back(std::move(st));
    }
    return out;
}

bool Server::Impl::ready() { return started && plane.first_round_done(); }

std::vector<admin::HealthCheckResult> Server::Impl::deep_health() {
    std::vector<admin::HealthCheckResult> out;
    for (const auto& p : plane.pools()) {
        const auto set = p->current();
        const bool ok = !set->eligible.empty();
        out.push_back({"pool:" + p->name(), ok,
                       fmt::format("{} of {} servers serving{}", set->eligible.size(), set->hosts.size(),
                                   set->mode == upstream::ServingMode::Panic ? " (panic mode)" : "")});
    }
    const auto failed = event_log.count("reload_failed");
    const auto ok_reloads = event_log.count("reload");
    out.push_back({"config", true,
                   fmt::format("{} loaded; {} reload(s) applied, {} refused", cfg->source, ok_reloads, failed)});
    // Every worker's tick updates its heartbeat at least every 100 ms; a stuck loop stops it.
    const std::int64_t now_us = wall_time_us();
    for (const auto& w : workers) {
        const auto age_ms = (now_us - w->ctx->heartbeat_us.load(std::memory_order_relaxed)) / 1000;
        out.push_back({fmt::format("worker:{}", w->ctx->index), age_ms < 2000,
                       fmt::format("event loop last ticked {} ms ago", age_ms)});
    }
    return out;
}

double Server::Impl::uptime_seconds() { return to_seconds(plane.scheduler().now() - started_at); }

} // namespace haven::proxy
