#include "runtime/slo_subsystem.hpp"

#include "net/address.hpp"

#include <nlohmann/json.hpp>

namespace haven::runtime {
namespace {

using admin::metrics::Exposition;
using admin::metrics::Labels;
using nlohmann::json;

slo::SloTarget target_of(const config::Slo& s) {
    slo::SloTarget t;
    t.availability = s.availability;
    t.latency_p99 = std::chrono::duration_cast<Duration>(s.latency_p99);
    t.error_rate = s.error_rate;
    t.window = std::chrono::duration_cast<Duration>(s.window);
    return t;
}

bool same_target(const slo::SloTarget& a, const slo::SloTarget& b) {
    return a.availability == b.availability && a.latency_p99 == b.latency_p99 && a.error_rate == b.error_rate &&
           a.window == b.window;
}

slo::TrafficTotals totals_of(const proxy::ListenerMetrics& m) {
    slo::TrafficTotals t;
    for (std::size_t w = 0; w < m.counters.size(); ++w) {
        const auto& c = m.counters.at(w);
        for (const auto& r : c.responses) t.requests += r.get();
        t.errors += c.errors.get();
        for (std::size_t b = 0; b < kLatencyBuckets; ++b) t.latency[b] += c.latency.buckets[b].get();
    }
    return t;
}

json window_json(const slo::WindowStats& w) {
    return {{"availability", w.availability * 100}, {"error_rate", w.error_rate * 100}, {"p50_ms", w.p50_seconds * 1000},
            {"p99_ms", w.p99_seconds * 1000},       {"requests", w.requests},           {"errors", w.errors},
            {"covered_seconds", to_seconds(w.covered)}};
}

json slo_report_json(const slo::SloReport& r) {
    return {{"target",
             {{"availability", r.target.availability * 100},
              {"latency_p99_ms", to_ms(r.target.latency_p99)},
              {"error_rate", r.target.error_rate * 100},
              {"window_days", to_seconds(r.target.window) / 86400}}},
            {"windows", {{"5m", window_json(r.last_5m)}, {"1h", window_json(r.last_1h)}, {"slo", window_json(r.slo_window)}}},
            {"allowed_downtime_seconds", r.allowed_downtime_seconds},
            {"error_budget_remaining", r.error_budget_remaining},
            {"burn_rate_5m", r.burn_rate_5m},
            {"burn_rate_1h", r.burn_rate_1h},
            {"met", {{"availability", r.availability_met}, {"latency", r.latency_met}, {"error_rate", r.error_rate_met}}}};
}

} // namespace

SloSubsystem::SloSubsystem(asio::io_context& control, Scheduler& clock, const proxy::DataPlane& data)
    : clock_(clock), data_(data), sampler_(control) {
    update_targets(data_.config());
}

// A listener whose SLO target changed starts a new history; unchanged ones keep theirs.
void SloSubsystem::update_targets(const config::Config& c) {
    std::map<std::string, ListenerSlo> next;
    for (const auto& l : c.listeners) {
        const auto target = target_of(l.slo ? *l.slo : c.slo);
        auto it = slos_.find(l.name);
        if (it != slos_.end() && same_target(it->second.tracker->target(), target)) {
            next.emplace(l.name, std::move(it->second));
        } else {
            ListenerSlo s;
            s.tracker = std::make_unique<slo::SloTracker>(target);
            next.emplace(l.name, std::move(s));
        }
    }
    slos_ = std::move(next);
}

// Every second: each listener's totals go to its SLO tracker, and requests/s and the error rate
// since the previous sample are kept for the dashboard.
void SloSubsystem::sample() {
    const auto now = clock_.now();
    for (auto& [name, s] : slos_) {
        const auto it = data_.metrics().listeners().find(name);
        if (it == data_.metrics().listeners().end()) continue;
        const auto totals = totals_of(*it->second);
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
    sampler_.expires_after(std::chrono::seconds(1));
    sampler_.async_wait([this](const asio::error_code& ec) {
        if (!ec) sample();
    });
}

std::vector<SloSubsystem::ListenerStatus> SloSubsystem::listeners() {
    std::vector<ListenerStatus> out;
    const auto now = clock_.now();
    for (const auto& [name, endpoint] : data_.listening()) {
        ListenerStatus st;
        st.name = name;
        st.address = net::endpoint_text(endpoint);
        for (const auto& l : data_.config().listeners) {
            if (l.name == name) st.mode = config::name_of(l.mode);
        }
        const auto it = slos_.find(name);
        if (it != slos_.end()) {
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

void SloSubsystem::metrics(Exposition& e) {
    for (const auto& l : listeners()) {
        const auto& r = l.slo;
        const Labels lab{{"listener", l.name}};
        e.gauge("haven_slo_target_availability", "The availability target (fraction).", lab, r.target.availability);
        e.gauge("haven_slo_allowed_downtime_seconds", "Downtime the availability target allows over the SLO window.", lab,
                r.allowed_downtime_seconds);
        e.gauge("haven_slo_error_budget_remaining", "Fraction of the SLO window's error budget left (negative: overspent).",
                lab, r.error_budget_remaining);
        const std::pair<const char*, const slo::WindowStats*> windows[] = {
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

void SloSubsystem::summary(nlohmann::json& out) {
    std::size_t met = 0;
    const auto ls = listeners();
    for (const auto& l : ls) met += l.slo.availability_met && l.slo.latency_met && l.slo.error_rate_met ? 1 : 0;
    out["listeners"] = ls.size();
    out["meeting_slo"] = met;
}

void SloSubsystem::status(nlohmann::json& out) {
    json ls = json::array();
    for (const auto& l : listeners()) {
        ls.push_back({{"name", l.name},
                      {"address", l.address},
                      {"mode", l.mode},
                      {"rps", l.rps},
                      {"error_rate", l.error_rate},
                      {"p50_ms", l.p50_ms},
                      {"p99_ms", l.p99_ms},
                      {"slo", slo_report_json(l.slo)}});
    }
    out["listeners"] = std::move(ls);
}

bool SloSubsystem::handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) {
    if (r.method != "GET" || !path.empty()) return false;
    json ls = json::array();
    for (const auto& l : listeners()) ls.push_back({{"listener", l.name}, {"slo", slo_report_json(l.slo)}});
    out = admin::Response::json(200, json{{"listeners", ls}}.dump(2) + "\n");
    return true;
}

} // namespace haven::runtime
