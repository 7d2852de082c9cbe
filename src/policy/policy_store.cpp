#include "policy/policy_store.hpp"

#include "upstream/circuit/breaker_config.hpp"
#include "config/value_rules.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace haven::policy {
namespace {

bool parse_net(const std::string& text, RateLimiter::Net& out) {
    const auto slash = text.find('/');
    const std::string addr = text.substr(0, slash);
    out.v4 = ::inet_pton(AF_INET, addr.c_str(), out.bytes) == 1;
    if (!out.v4 && ::inet_pton(AF_INET6, addr.c_str(), out.bytes) != 1) return false;
    out.prefix = slash == std::string::npos ? (out.v4 ? 32 : 128) : static_cast<unsigned>(std::stoul(text.substr(slash + 1)));
    return true;
}

RateLimiter make_limiter(const config::RateLimitPolicy& p, std::string id, bool shared) {
    RateLimiter rl;
    rl.id = std::move(id);
    rl.key = p.key;
    rl.trusted_proxies = p.trusted_proxies;
    for (const auto& t : p.trusted_proxies) {
        RateLimiter::Net n{};
        if (parse_net(t, n)) rl.trusted.push_back(n);
    }
    rl.specs = p.limits;
    std::vector<Limit> limits;
    for (const auto& s : p.limits) {
        limits.push_back(Limit{s.count, std::chrono::duration_cast<Duration>(s.period), p.burst});
    }
    rl.table = std::make_unique<LimitTable>(std::move(limits), p.key.kind == config::LimitKeyKind::Route ? 1 : p.max_keys,
                                            std::chrono::duration_cast<Duration>(p.delay), shared && p.shared);
    return rl;
}

std::uint32_t permyriad(double fraction) {
    return static_cast<std::uint32_t>(std::llround(std::clamp(fraction, 0.0, 1.0) * 10000));
}

void set_fault_state(FaultState& f, double abort, std::uint32_t status, double delay_fraction, Duration delay,
                     std::uint32_t max_active) {
    f.abort_status.store(status, std::memory_order_relaxed);
    f.delay_ms.store(static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()),
                     std::memory_order_relaxed);
    f.max_active.store(max_active, std::memory_order_relaxed);
    f.abort_permyriad.store(permyriad(abort), std::memory_order_relaxed);
    f.delay_permyriad.store(permyriad(delay_fraction), std::memory_order_relaxed);
}

std::string fault_text(const FaultSpec& f) {
    std::string out;
    if (f.abort_percent > 0) out += fmt::format("abort {:g}% with {}", f.abort_percent * 100, f.abort_status);
    if (f.delay_percent > 0) {
        out += fmt::format("{}delay {:g}% by {}", out.empty() ? "" : ", ", f.delay_percent * 100,
                           config::rules::duration_text(std::chrono::duration_cast<config::Duration>(f.delay)));
    }
    return out.empty() ? "nothing" : out;
}

const char* transition_event(upstream::BreakerTransition t) {
    switch (t) {
    case upstream::BreakerTransition::Opened:
    case upstream::BreakerTransition::Reopened: return "breaker_open";
    case upstream::BreakerTransition::HalfOpened: return "breaker_half_open";
    case upstream::BreakerTransition::Closed: return "breaker_closed";
    case upstream::BreakerTransition::None: break;
    }
    return "";
}

} // namespace

std::shared_ptr<RoutePolicies> PolicyStore::build(const config::Listener& l, std::size_t position,
                                                  const config::Policies& own) {
    auto p = std::make_shared<RoutePolicies>(l.name, std::to_string(position), workers_);
    // The listener's default limits and the route's own are enforced together.
    // Their ids name them in Redis when shared: the same in every instance with the same config.
    const std::string id = l.name + ":" + std::to_string(position);
    if (l.policies.rate_limit) {
        p->limiters.push_back(make_limiter(*l.policies.rate_limit, id + ":listener", limits_shared_));
    }
    if (own.rate_limit) p->limiters.push_back(make_limiter(*own.rate_limit, id + ":route", limits_shared_));
    if (const auto* j = effective(own.jwt, l.policies.jwt)) {
        // The claims rate limits count by are extracted with the forwarded ones.
        std::vector<std::string> key_claims;
        for (const auto& rl : p->limiters) {
            if (rl.key.kind == config::LimitKeyKind::Claim) key_claims.push_back(rl.key.name);
        }
        p->jwt = jwt::make_authenticator(*j, key_claims, workers_);
        for (auto& rl : p->limiters) {
            if (rl.key.kind == config::LimitKeyKind::Claim) rl.claim = p->jwt->claim_index(rl.key.name).value_or(SIZE_MAX);
        }
    }
    if (const auto* b = effective(own.bulkhead, l.policies.bulkhead)) {
        p->bulkhead = std::make_unique<Bulkhead>(b->max_concurrent, b->max_queue);
        p->queue_timeout = std::chrono::duration_cast<Duration>(b->queue_timeout);
    }
    if (const auto* b = effective(own.circuit_breaker, l.policies.circuit_breaker)) {
        p->breaker = std::make_shared<upstream::BreakerGate>(workers_);
        p->breaker_probes = b->half_open_requests;
        p->breaker_failure_on = upstream::breaker_failure_bits(*b);
        p->breaker_slow_call = std::chrono::duration_cast<Duration>(b->slow_call);
    }
    if (const auto* f = effective(own.fallback, l.policies.fallback)) {
        p->fallback = std::make_shared<config::FallbackPolicy>(*f);
        if (const auto& s = f->stale_if_error) {
            for (std::size_t i = 0; i < workers_; ++i) p->stale.push_back(std::make_unique<StaleCache>(s->max_bytes / workers_));
        }
    }
    if (const auto* f = effective(own.fault, l.policies.fault)) p->header_faults = f->header_faults;
    return p;
}

void PolicyStore::apply_configured_fault(Entry& e) {
    auto& p = *e.policies;
    const auto* f = effective(e.own.fault, e.listener.fault);
    if (f) {
        set_fault_state(p.fault, f->abort_percent, f->abort_status, f->delay_percent,
                        std::chrono::duration_cast<Duration>(f->delay), f->max_active);
    } else {
        set_fault_state(p.fault, 0, 503, 0, Duration::zero(), 1000);
    }
    e.fault_until = TimePoint{};
    const bool any = p.jwt || !p.limiters.empty() || p.bulkhead || p.breaker || p.fallback || p.header_faults || p.fault.any();
    p.active.store(any, std::memory_order_relaxed);
}

std::shared_ptr<RoutePolicies> PolicyStore::route(const config::Listener& l, std::size_t position,
                                                  const config::Policies& own) {
    const std::string key = l.name + "/" + std::to_string(position);
    auto it = routes_.find(key);
    if (it != routes_.end() && it->second.listener == l.policies && it->second.own == own) {
        it->second.used = true;
        return it->second.policies;
    }
    Entry e;
    e.listener = l.policies;
    e.own = own;
    e.used = true;
    e.policies = build(l, position, own);
    if (const auto* b = effective(own.circuit_breaker, l.policies.circuit_breaker)) {
        e.breaker = std::make_unique<upstream::CircuitBreaker>(upstream::breaker_params(*b));
    }
    apply_configured_fault(e);
    auto& slot = routes_[key];
    slot = std::move(e);
    return slot.policies;
}

void PolicyStore::sweep() {
    std::erase_if(routes_, [](const auto& kv) { return !kv.second.used; });
    for (auto& [key, e] : routes_) e.used = false;
}

void PolicyStore::tick(TimePoint now, Random& random, EventLog& events) {
    for (auto& [key, e] : routes_) {
        if (e.breaker) {
            auto& gate = *e.policies->breaker;
            const auto counts = gate.take_counts();
            const auto t = e.breaker->observe(counts, now, random);
            if (t != upstream::BreakerTransition::None) {
                gate.publish(e.breaker->state(), e.breaker->open_until());
                std::string detail = upstream::breaker_state_name(e.breaker->state());
                if (e.breaker->state() == upstream::BreakerState::Open) {
                    detail = fmt::format("open for {:.0f}s ({} consecutive failures; trip {})",
                                         to_seconds(e.breaker->open_until() - now), counts.consecutive_failures,
                                         e.breaker->trips());
                }
                events.add(transition_event(t), "route " + key, "", detail);
            }
        }
        if (e.fault_until != TimePoint{} && now >= e.fault_until) {
            apply_configured_fault(e);
            events.add("fault_off", "route " + key, "", "expired");
        }
        episodes(key, e, now, events);
    }
}

namespace {

// Ten seconds without a refusal (or a shed request, or a degraded answer) end an episode.
constexpr Duration kQuiet = std::chrono::seconds(10);

void episode(Episode& ep, std::uint64_t count, TimePoint now, EventLog& events, const std::string& route,
             const char* kind, const char* started, const char* counted) {
    switch (ep.observe(count, now, kQuiet)) {
    case Episode::Change::Started: events.add(kind, "route " + route, "", started); break;
    case Episode::Change::Ended:
        events.add(std::string(kind) + "_end", "route " + route, "",
                   fmt::format("{} {} over {:.1f}s", ep.counted(), counted, to_seconds(ep.last_move() - ep.started())));
        break;
    case Episode::Change::None: break;
    }
}

} // namespace

void PolicyStore::episodes(const std::string& key, Entry& e, TimePoint now, EventLog& events) {
    const auto& p = *e.policies;
    if (!p.limiters.empty()) {
        episode(e.limiting, p.total(&PolicyCounters::rate_limited), now, events, key, "rate_limiting",
                "a rate limit started answering 429", "requests refused");
    }
    if (p.bulkhead) {
        episode(e.shedding, p.total(&PolicyCounters::bulkhead_rejected), now, events, key, "shedding",
                "the bulkhead started refusing requests", "requests shed");
    }
    if (p.fallback) {
        episode(e.degraded, p.total(&PolicyCounters::degraded), now, events, key, "degraded",
                "the fallback started answering for the route", "degraded answers");
    }
}

std::vector<PolicyStore::Entry*> PolicyStore::matching(const std::string& listener, const std::string& route) {
    std::vector<Entry*> out;
    for (auto& [key, e] : routes_) {
        if (e.policies->listener_name == listener && (route.empty() || e.policies->route_name == route)) out.push_back(&e);
    }
    return out;
}

bool PolicyStore::set_fault(const std::string& listener, const std::string& route, const FaultSpec& f, Duration duration,
                            TimePoint now, EventLog& events, std::string& error) {
    const auto targets = matching(listener, route);
    if (targets.empty()) {
        error = route.empty() ? "no listener named \"" + listener + "\"" : "listener \"" + listener + "\" has no route " + route;
        return false;
    }
    for (auto* e : targets) {
        auto& p = *e->policies;
        set_fault_state(p.fault, f.abort_percent, f.abort_status, f.delay_percent, f.delay,
                        p.fault.max_active.load(std::memory_order_relaxed));
        e->runtime_fault = f;
        e->fault_until = now + duration;
        p.active.store(true, std::memory_order_relaxed);
        events.add("fault_on", "route " + listener + "/" + p.route_name, "",
                   fmt::format("{} for {:.0f}s (admin)", fault_text(f), to_seconds(duration)));
    }
    return true;
}

bool PolicyStore::clear_fault(const std::string& listener, const std::string& route, EventLog& events, std::string& error) {
    const auto targets = matching(listener, route);
    if (targets.empty()) {
        error = route.empty() ? "no listener named \"" + listener + "\"" : "listener \"" + listener + "\" has no route " + route;
        return false;
    }
    for (auto* e : targets) {
        if (e->fault_until == TimePoint{}) continue;
        apply_configured_fault(*e);
        events.add("fault_off", "route " + listener + "/" + e->policies->route_name, "", "cleared (admin)");
    }
    return true;
}

} // namespace haven::policy
