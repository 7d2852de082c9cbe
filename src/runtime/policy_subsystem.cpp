#include "runtime/policy_subsystem.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>

namespace haven::runtime {
namespace {

using admin::metrics::Exposition;
using admin::metrics::Labels;
using nlohmann::json;


// The route's JWT check (docs/jwt.md): one series per result, and its cache.
void jwt_metrics(Exposition& e, const policy::RoutePolicies& p) {
    namespace jwt = policy::jwt;
    const auto& stats = p.jwt->stats();
    const auto total = [&](auto field) {
        std::uint64_t n = 0;
        for (std::size_t w = 0; w < stats.size(); ++w) n += field(stats.at(w)).get();
        return static_cast<double>(n);
    };
    for (std::size_t r = 0; r < jwt::kResults; ++r) {
        e.counter("haven_jwt_results_total", "Requests the route's JWT check passed or refused, by result.",
                  {{"listener", p.listener_name}, {"route", p.route_name},
                   {"result", std::string(jwt::result_name(static_cast<jwt::Result>(r)))}},
                  total([r](const jwt::AuthStats& s) -> const Counter& { return s.results[r]; }));
    }
    for (const bool hit : {true, false}) {
        e.counter("haven_jwt_cache_lookups_total", "Tokens looked up in the route's verified-token cache.",
                  {{"listener", p.listener_name}, {"route", p.route_name}, {"result", hit ? "hit" : "miss"}},
                  total([hit](const jwt::AuthStats& s) -> const Counter& { return hit ? s.cache_hits : s.cache_misses; }));
    }
    e.gauge("haven_jwt_cached_tokens", "Verified tokens the route's cache holds now (all workers).",
            {{"listener", p.listener_name}, {"route", p.route_name}}, static_cast<double>(p.jwt->cached_tokens()));
}

void route_metrics(Exposition& e, const std::string& key, const policy::PolicyStore::Entry& entry) {
    const auto& p = *entry.policies;
    const Labels l{{"listener", p.listener_name}, {"route", p.route_name}};
    if (p.jwt) jwt_metrics(e, p);
    if (!p.limiters.empty()) {
        e.counter("haven_rate_limited_total", "Requests answered 429 by a rate limit.", l,
                  static_cast<double>(p.total(&policy::PolicyCounters::rate_limited)));
        e.counter("haven_rate_delayed_total", "Requests a rate limit held (delay) before serving them.", l,
                  static_cast<double>(p.total(&policy::PolicyCounters::rate_delayed)));
        std::size_t keys = 0;
        std::uint64_t evictions = 0;
        for (const auto& rl : p.limiters) {
            keys += rl.table->keys();
            evictions += rl.table->evictions();
        }
        e.gauge("haven_rate_limit_keys", "Keys (clients, header or cookie values) a route's rate limits track now.", l,
                static_cast<double>(keys));
        e.counter("haven_rate_limit_evictions_total", "Keys forgotten before their limits had reset (max_keys reached).", l,
                  static_cast<double>(evictions));
    }
    if (p.bulkhead) {
        e.gauge("haven_bulkhead_active", "Requests in flight under the route's bulkhead.", l,
                static_cast<double>(p.bulkhead->active()));
        e.gauge("haven_bulkhead_queued", "Requests waiting for a bulkhead slot.", l, static_cast<double>(p.bulkhead->queued()));
        e.counter("haven_bulkhead_queued_total", "Requests that waited for a bulkhead slot.", l,
                  static_cast<double>(p.total(&policy::PolicyCounters::bulkhead_queued)));
        e.counter("haven_bulkhead_rejected_total", "Requests the bulkhead answered 503 (queue full or queue timeout).", l,
                  static_cast<double>(p.total(&policy::PolicyCounters::bulkhead_rejected)));
    }
    if (entry.breaker) {
        const auto state = entry.breaker->state();
        for (const auto s : {upstream::BreakerState::Closed, upstream::BreakerState::Open, upstream::BreakerState::HalfOpen}) {
            e.gauge("haven_breaker_state", "A circuit breaker's state, one series per state (1 = current).",
                    {{"scope", "route"}, {"name", key}, {"state", upstream::breaker_state_name(s)}}, s == state ? 1 : 0);
        }
        e.counter("haven_breaker_trips_total", "Times a circuit breaker opened.", {{"scope", "route"}, {"name", key}},
                  static_cast<double>(entry.breaker->trips()));
        e.counter("haven_breaker_rejected_total", "Requests an open breaker answered 503 (or its fallback).",
                  {{"scope", "route"}, {"name", key}},
                  static_cast<double>(p.total(&policy::PolicyCounters::breaker_rejected)));
    }
    e.counter("haven_faults_injected_total", "Requests an injected fault aborted or delayed.",
              {{"listener", p.listener_name}, {"route", p.route_name}, {"kind", "abort"}},
              static_cast<double>(p.total(&policy::PolicyCounters::faults_aborted)));
    e.counter("haven_faults_injected_total", "Requests an injected fault aborted or delayed.",
              {{"listener", p.listener_name}, {"route", p.route_name}, {"kind", "delay"}},
              static_cast<double>(p.total(&policy::PolicyCounters::faults_delayed)));
    if (p.fallback) {
        e.counter("haven_degraded_responses_total", "Requests the route's fallback answered.", l,
                  static_cast<double>(p.total(&policy::PolicyCounters::degraded)));
    }
    if (!p.stale.empty()) {
        std::size_t bytes = 0;
        for (const auto& c : p.stale) bytes += c->bytes();
        e.counter("haven_stale_responses_total", "Requests answered with a stale copy (fallback.stale_if_error).", l,
                  static_cast<double>(p.total(&policy::PolicyCounters::stale_served)));
        e.gauge("haven_stale_cache_bytes", "Bytes the route's stale copies hold, all worker threads together.", l,
                static_cast<double>(bytes));
    }
}

json route_json(const std::string& key, const policy::PolicyStore::Entry& e, TimePoint now) {
    const auto& p = *e.policies;
    json limits = json::array();
    for (const auto& rl : p.limiters) {
        for (const auto& s : rl.specs) limits.push_back(s.text);
    }
    json j = {{"route", key},
              {"listener", p.listener_name},
              {"position", p.route_name},
              {"limits", limits},
              {"rate_limited", p.total(&policy::PolicyCounters::rate_limited)},
              {"bulkhead", p.bulkhead ? json{{"active", p.bulkhead->active()}, {"max", p.bulkhead->max_active()},
                                             {"queued", p.bulkhead->queued()}, {"max_queue", p.bulkhead->max_queue()},
                                             {"rejected", p.total(&policy::PolicyCounters::bulkhead_rejected)}}
                                      : json(nullptr)},
              {"fallback", static_cast<bool>(p.fallback)},
              {"degraded", p.total(&policy::PolicyCounters::degraded)},
              {"stale_served", p.total(&policy::PolicyCounters::stale_served)},
              {"fault",
               {{"abort_percent", p.fault.abort_permyriad.load(std::memory_order_relaxed) / 100.0},
                {"abort_status", p.fault.abort_status.load(std::memory_order_relaxed)},
                {"delay_percent", p.fault.delay_permyriad.load(std::memory_order_relaxed) / 100.0},
                {"delay_ms", p.fault.delay_ms.load(std::memory_order_relaxed)},
                {"header_faults", p.header_faults},
                {"expires_in_s", e.fault_until == TimePoint{} ? 0.0 : to_seconds(e.fault_until - now)}}}};
    if (e.breaker) {
        j["breaker"] = {{"state", upstream::breaker_state_name(e.breaker->state())},
                        {"trips", e.breaker->trips()},
                        {"open_for_s", e.breaker->state() == upstream::BreakerState::Open
                                           ? std::max(0.0, to_seconds(e.breaker->open_until() - now))
                                           : 0.0}};
    }
    return j;
}

// "10", "10%", "0.5%" -> a fraction; nullopt when not a number from 0 to 100.
std::optional<double> percent(const json& v) {
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 100) return std::nullopt;
    return v.get<double>() / 100;
}

} // namespace

PolicySubsystem::PolicySubsystem(Scheduler& scheduler, EventLog& events, policy::PolicyStore& store)
    : scheduler_(scheduler), events_(events), store_(store), random_(FastRandom::from_entropy()) {}

void PolicySubsystem::serve() {
    tick_ = scheduler_.make_timer();
    arm();
}

void PolicySubsystem::stop() {
    if (tick_) tick_->cancel();
}

void PolicySubsystem::arm() {
    tick_->arm(std::chrono::milliseconds(100), [this] {
        store_.tick(scheduler_.now(), random_, events_);
        arm();
    });
}

void PolicySubsystem::metrics(Exposition& out) {
    for (const auto& [key, e] : store_.routes()) route_metrics(out, key, e);
}

void PolicySubsystem::summary(nlohmann::json& out) {
    std::size_t limited = 0, breakers = 0, open = 0, faults = 0;
    for (const auto& [key, e] : store_.routes()) {
        limited += e.policies->limiters.empty() ? 0 : 1;
        breakers += e.breaker ? 1 : 0;
        open += e.breaker && e.breaker->state() != upstream::BreakerState::Closed ? 1 : 0;
        faults += e.policies->fault.any() ? 1 : 0;
    }
    out["routes_rate_limited"] = limited;
    out["breakers"] = breakers;
    out["breakers_not_closed"] = open;
    out["routes_with_faults"] = faults;
}

void PolicySubsystem::health(std::vector<admin::HealthCheckResult>& out) {
    for (const auto& [key, e] : store_.routes()) {
        if (!e.breaker) continue;
        const auto s = e.breaker->state();
        out.push_back({"breaker:route " + key, s == upstream::BreakerState::Closed,
                       fmt::format("{} ({} trips)", upstream::breaker_state_name(s), e.breaker->trips())});
    }
}

// GET /api/policies: every route's policies. POST /api/policies/faults: switch a fault on for a
// while ({"listener", "route" (optional), "abort_percent", "abort_status", "delay_percent",
// "delay_ms", "duration_s"}). POST /api/policies/faults/clear: back to the configured fault.
bool PolicySubsystem::handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) {
    if (path.empty() && r.method == "GET") {
        json routes = json::array();
        const auto now = scheduler_.now();
        for (const auto& [key, e] : store_.routes()) routes.push_back(route_json(key, e, now));
        out = admin::Response::json(200, json{{"routes", routes}}.dump(2) + "\n");
        return true;
    }
    if (path.size() == 1 && path[0] == "faults") {
        out = r.method == "POST" ? set_fault(r) : admin::Response::error(405, "use POST /api/policies/faults");
        return true;
    }
    if (path.size() == 2 && path[0] == "faults" && path[1] == "clear") {
        if (r.method != "POST") {
            out = admin::Response::error(405, "use POST /api/policies/faults/clear");
            return true;
        }
        const auto j = json::parse(r.body, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("listener") || !j["listener"].is_string()) {
            out = admin::Response::error(400, "expected a JSON object with \"listener\" (and optionally \"route\")");
            return true;
        }
        std::string error;
        const std::string route = j.contains("route") && j["route"].is_string() ? j["route"].get<std::string>() : "";
        out = store_.clear_fault(j["listener"].get<std::string>(), route, events_, error)
                  ? admin::Response::json(200, json{{"cleared", true}}.dump() + "\n")
                  : admin::Response::error(404, error);
        return true;
    }
    return false;
}

admin::Response PolicySubsystem::set_fault(const admin::Request& r) {
    // Rules: a JSON object; listener required; route optional (every route of the listener);
    // percentages from 0 to 100; a status from 200 to 599; a delay with a delay share; a duration
    // from 1 s to 24 h (a fault always ends by itself), 5 minutes by default.
    const auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("listener") || !j["listener"].is_string()) {
        return admin::Response::error(400, "expected a JSON object with \"listener\"");
    }
    policy::FaultSpec f;
    if (j.contains("abort_percent")) {
        const auto p = percent(j["abort_percent"]);
        if (!p) return admin::Response::error(400, "abort_percent must be a number from 0 to 100");
        f.abort_percent = *p;
    }
    if (j.contains("abort_status")) {
        if (!j["abort_status"].is_number_unsigned() || j["abort_status"].get<std::uint32_t>() < 200 ||
            j["abort_status"].get<std::uint32_t>() > 599) {
            return admin::Response::error(400, "abort_status must be a status from 200 to 599");
        }
        f.abort_status = j["abort_status"].get<std::uint32_t>();
    }
    if (j.contains("delay_percent")) {
        const auto p = percent(j["delay_percent"]);
        if (!p) return admin::Response::error(400, "delay_percent must be a number from 0 to 100");
        f.delay_percent = *p;
    }
    if (j.contains("delay_ms")) {
        if (!j["delay_ms"].is_number_unsigned() || j["delay_ms"].get<std::uint64_t>() > 60'000) {
            return admin::Response::error(400, "delay_ms must be from 0 to 60000");
        }
        f.delay = std::chrono::milliseconds(j["delay_ms"].get<std::uint64_t>());
    }
    if (f.delay_percent > 0 && f.delay == Duration::zero()) return admin::Response::error(400, "delay_percent needs delay_ms");
    if (f.abort_percent == 0 && f.delay_percent == 0) return admin::Response::error(400, "nothing to inject: set abort_percent or delay_percent");
    std::uint64_t seconds = 300;
    if (j.contains("duration_s")) {
        if (!j["duration_s"].is_number_unsigned() || j["duration_s"].get<std::uint64_t>() < 1 ||
            j["duration_s"].get<std::uint64_t>() > 86'400) {
            return admin::Response::error(400, "duration_s must be from 1 to 86400 (a fault always ends by itself)");
        }
        seconds = j["duration_s"].get<std::uint64_t>();
    }
    const std::string route = j.contains("route") && j["route"].is_string() ? j["route"].get<std::string>() : "";
    std::string error;
    if (!store_.set_fault(j["listener"].get<std::string>(), route, f, std::chrono::seconds(seconds), scheduler_.now(),
                          events_, error)) {
        return admin::Response::error(404, error);
    }
    return admin::Response::json(200, json{{"injected", true}, {"expires_in_s", seconds}}.dump() + "\n");
}

} // namespace haven::runtime
