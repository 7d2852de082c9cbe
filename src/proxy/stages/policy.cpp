// Stage: policy. The route's policies, between route and pick: the JWT check, injected faults,
// rate limits and circuit breakers (the route's and its pool's). A request they stop is answered here (429, 503,
// the fault's status, or the route's fallback); one they hold (a rate limit's delay, a delay
// fault) waits in `policy_wait` before it goes on. A route with no policy costs one load.
#include "config/retry_on.hpp"
#include "core/clock.hpp"
#include "http/fields.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <arpa/inet.h>
#include <asio/steady_timer.hpp>

#include <charconv>
#include <cstring>

namespace haven::proxy::stages {
namespace {

using policy::LimitDecision;
using upstream::BreakerGate;

bool in_net(const unsigned char* addr, bool v4, const policy::RateLimiter::Net& n) {
    if (v4 != n.v4) return false;
    const unsigned full = n.prefix / 8, rest = n.prefix % 8;
    if (std::memcmp(addr, n.bytes, full) != 0) return false;
    if (rest == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (addr[full] & mask) == (n.bytes[full] & mask);
}

bool trusted(std::string_view ip, const policy::RateLimiter& rl) {
    char text[64];
    if (ip.size() >= sizeof text) return false;
    std::memcpy(text, ip.data(), ip.size());
    text[ip.size()] = '\0';
    unsigned char addr[16];
    const bool v4 = ::inet_pton(AF_INET, text, addr) == 1;
    if (!v4 && ::inet_pton(AF_INET6, text, addr) != 1) return false;
    for (const auto& n : rl.trusted) {
        if (in_net(addr, v4, n)) return true;
    }
    return false;
}

// The client address a limit counts: the peer's, or — when the peer is a trusted proxy — the
// right-most X-Forwarded-For entry that is not itself a trusted proxy.
std::string_view client_of(const RequestContext& ctx, const policy::RateLimiter& rl) {
    std::string_view ip = ctx.session->client_ip();
    if (rl.trusted.empty() || !trusted(ip, rl)) return ip;
    for (const auto& h : ctx.req.headers) {
        if (h.id != http::HeaderId::XForwardedFor) continue;
        std::string_view list = h.value;
        while (!list.empty()) {
            const auto comma = list.rfind(',');
            std::string_view item = http::trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
            list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
            if (item.empty()) continue;
            ip = item;
            if (!trusted(item, rl)) return item;
        }
    }
    return ip;
}

// The key of the request for a limiter; nullopt when the request has none (not limited by it).
// `token`: the request's verified JWT, if the route checked one.
std::optional<std::uint64_t> key_of(const RequestContext& ctx, const policy::RateLimiter& rl,
                                    const policy::jwt::CachedToken* token) {
    switch (rl.key.kind) {
    case config::LimitKeyKind::Route: return 0;
    case config::LimitKeyKind::Client: return upstream::hash_key(client_of(ctx, rl));
    case config::LimitKeyKind::Header: {
        const auto v = http::find_field(ctx.req, rl.key.name);
        return v.empty() ? std::nullopt : std::optional<std::uint64_t>(upstream::hash_key(v));
    }
    case config::LimitKeyKind::Cookie: {
        const auto v = http::find_cookie(ctx.req, rl.key.name);
        return v.empty() ? std::nullopt : std::optional<std::uint64_t>(upstream::hash_key(v));
    }
    case config::LimitKeyKind::Claim: {
        const auto v = policy::jwt::Authenticator::claim(token, rl.claim);
        return v.empty() ? std::nullopt : std::optional<std::uint64_t>(upstream::hash_key(v));
    }
    }
    return std::nullopt;
}

std::int64_t ceil_seconds(Duration d) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(d + std::chrono::nanoseconds(999'999'999));
    return std::max<std::int64_t>(1, s.count());
}

// Appends text and decimal numbers into a fixed buffer; `ok` turns false (and stays) when one does
// not fit. std::to_chars, not snprintf: this runs on every request of a rate-limited route, and a
// format string with six arguments cost about 3,000 instructions there.
struct FieldWriter {
    char* p;
    char* end;
    bool ok = true;
    FieldWriter& str(std::string_view s) {
        if (ok && static_cast<std::size_t>(end - p) >= s.size()) {
            std::memcpy(p, s.data(), s.size());
            p += s.size();
        } else {
            ok = false;
        }
        return *this;
    }
    FieldWriter& num(unsigned long long v) {
        const auto r = ok ? std::to_chars(p, end, v) : std::to_chars_result{p, std::errc::value_too_large};
        if (r.ec == std::errc()) {
            p = r.ptr;
        } else {
            ok = false;
        }
        return *this;
    }
};

// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) of the limit `d` names:
// quota, window, what is left now and seconds until the quota is whole again. Into out; the length.
template <std::size_t N>
std::size_t format_rate_limit(std::array<char, N>& out, std::size_t at, const policy::RateLimiter& rl,
                              const LimitDecision& d) {
    const auto& spec = rl.specs[d.limit];
    const auto window = std::chrono::duration_cast<std::chrono::seconds>(spec.period).count();
    // t: whole seconds, rounded up, except 0 for a quota already whole.
    const long long reset = d.reset > Duration::zero() ? static_cast<long long>(ceil_seconds(d.reset)) : 0;
    FieldWriter w{out.data() + at, out.data() + out.size()};
    w.str("RateLimit-Policy: \"l").num(d.limit).str("\";q=").num(spec.count).str(";w=")
        .num(static_cast<unsigned long long>(std::max<long long>(window, 0))).str("\r\nRateLimit: \"l").num(d.limit)
        .str("\";r=").num(d.remaining).str(";t=").num(static_cast<unsigned long long>(reset)).str("\r\n");
    // A line cut short would be a malformed field: none rather than half.
    return w.ok ? static_cast<std::size_t>(w.p - out.data()) : 0;
}

// Retry-After and the RateLimit fields of a 429.
void rate_limit_fields(RequestContext& ctx, const policy::RateLimiter& rl, const LimitDecision& d) {
    const int n = std::snprintf(ctx.reply_fields.data(), ctx.reply_fields.size(), "Retry-After: %lld\r\n",
                                static_cast<long long>(ceil_seconds(d.wait)));
    ctx.reply_fields_len = n > 0 ? format_rate_limit(ctx.reply_fields, static_cast<std::size_t>(n), rl, d) : 0;
}

void retry_after(RequestContext& ctx, std::int64_t until_ns) {
    const auto left = Duration(std::max<std::int64_t>(0, until_ns - ctx.start.time_since_epoch().count()));
    const int n = std::snprintf(ctx.reply_fields.data(), ctx.reply_fields.size(), "Retry-After: %lld\r\n",
                                static_cast<long long>(ceil_seconds(left)));
    ctx.reply_fields_len = n > 0 ? static_cast<std::size_t>(n) : 0;
}

// x-haven-fault-abort: STATUS and x-haven-fault-delay: MILLISECONDS, on routes that allow them.
void header_faults(RequestContext& ctx, std::uint32_t& abort_status, std::uint32_t& delay_ms) {
    const auto number = [](std::string_view v, std::uint32_t max) -> std::optional<std::uint32_t> {
        std::uint32_t n = 0;
        const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n > max) return std::nullopt;
        return n;
    };
    if (const auto a = number(http::find_field(ctx.req, "x-haven-fault-abort"), 599); a && *a >= 200) abort_status = *a;
    if (const auto d = number(http::find_field(ctx.req, "x-haven-fault-delay"), 60'000)) delay_ms = *d;
}

// An injected abort: a route's configured or runtime share, or a request's own header.
StageResult check_fault_abort(RequestContext& ctx, policy::RoutePolicies& p, std::uint32_t header_abort) {
    auto& w = *ctx.worker;
    std::uint32_t status = header_abort;
    if (!status && w.random.below(10000) < p.fault.abort_permyriad.load(std::memory_order_relaxed)) {
        status = p.fault.abort_status.load(std::memory_order_relaxed);
    }
    if (!status) return StageResult::next();
    p.counters.at(w.index).faults_aborted.inc();
    return StageResult::respond(static_cast<int>(status), ResponseFlag::FaultInjected);
}

// An injected delay, last, so that nothing after it can refuse a request holding a slot.
void check_fault_delay(RequestContext& ctx, policy::RoutePolicies& p, std::uint32_t header_delay_ms) {
    auto& w = *ctx.worker;
    auto& f = p.fault;
    std::uint32_t delay_ms = header_delay_ms;
    if (!delay_ms && w.random.below(10000) < f.delay_permyriad.load(std::memory_order_relaxed)) {
        delay_ms = f.delay_ms.load(std::memory_order_relaxed);
    }
    if (!delay_ms) return;
    // A bound on requests held at once, so a delay fault cannot pile up unbounded work.
    if (f.active.fetch_add(1, std::memory_order_relaxed) >= f.max_active.load(std::memory_order_relaxed)) {
        f.active.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    p.counters.at(w.index).faults_delayed.inc();
    ctx.fault_delay = &f;
    ctx.policy_wait = std::max(ctx.policy_wait, Duration(std::chrono::milliseconds(delay_ms)));
}

// The route's JWT check (docs/jwt.md). A refusal is a 401 with WWW-Authenticate (RFC 6750 §3);
// a pass may have rewritten the forwarded fields, and hands the token's claims to the rate limits.
StageResult check_jwt(RequestContext& ctx, policy::RoutePolicies& p, const policy::jwt::CachedToken*& token) {
    const auto d = p.jwt->check(ctx.req, ctx.jwt, wall_time_us() / 1'000'000, ctx.worker->index);
    if (d.pass) {
        token = d.token;
        return StageResult::next();
    }
    ctx.reply_fields_len = p.jwt->challenge(d.result, ctx.reply_fields.data(), ctx.reply_fields.size());
    return StageResult::respond(401, ResponseFlag::JwtRejected);
}

// A request the limits let through carries the RateLimit fields of the limit closest to refusing
// it (fewest requests left) on the response the server gives it.
StageResult check_limits(RequestContext& ctx, policy::RoutePolicies& p, const policy::jwt::CachedToken* token) {
    const policy::RateLimiter* closest = nullptr;
    LimitDecision shown;
    for (const auto& rl : p.limiters) {
        const auto key = key_of(ctx, rl, token);
        if (!key) continue;
        const LimitDecision d = rl.table->acquire(*key, ctx.start);
        if (d.kind == LimitDecision::Kind::Rejected) {
            p.counters.at(ctx.worker->index).rate_limited.inc();
            rate_limit_fields(ctx, rl, d);
            return StageResult::respond(429, ResponseFlag::RateLimited);
        }
        if (d.kind == LimitDecision::Kind::Delayed) {
            p.counters.at(ctx.worker->index).rate_delayed.inc();
            ctx.policy_wait = std::max(ctx.policy_wait, d.wait);
        }
        if (!closest || d.remaining < shown.remaining) closest = &rl, shown = d;
    }
    if (closest) ctx.added_fields_len = format_rate_limit(ctx.added_fields, 0, *closest, shown);
    return StageResult::next();
}

} // namespace

// Rules, in order: the JWT check answers 401 to a request without a valid token (first, so a
// refused request counts against nothing, and so a claim can key a rate limit); an injected
// abort answers at once; a rate limit over its quota answers 429
// (or holds the request, with `delay`); an open breaker — the route's, then its pool's — answers
// 503 with Retry-After; a delay fault holds the request. A stopped request gets the route's
// fallback instead when it has one (respond.cpp).
StageResult policy(RequestContext& ctx) {
    const auto& set = ctx.pool->hosts();
    const auto& pool_gate = set.breaker;
    auto* p = ctx.policies;
    if ((!p || !p->active.load(std::memory_order_relaxed)) && !pool_gate && !set.caps) return StageResult::next();
    const bool route_active = p && p->active.load(std::memory_order_relaxed);
    std::uint32_t header_abort = 0, header_delay = 0;
    if (route_active) {
        const policy::jwt::CachedToken* token = nullptr; // valid during this call only
        if (p->jwt) {
            if (auto r = check_jwt(ctx, *p, token); !r.ok()) return r;
        }
        if (p->header_faults) header_faults(ctx, header_abort, header_delay);
        if (auto r = check_fault_abort(ctx, *p, header_abort); !r.ok()) return r;
        if (auto r = check_limits(ctx, *p, token); !r.ok()) return r;
        if (p->breaker) {
            ctx.route_admission = p->breaker->admit(p->breaker_probes);
            if (ctx.route_admission == BreakerGate::Admission::Reject) {
                p->counters.at(ctx.worker->index).breaker_rejected.inc();
                retry_after(ctx, p->breaker->open_until_ns());
                return StageResult::respond(503, ResponseFlag::CircuitOpen);
            }
        }
    }
    if (route_active && p->bulkhead) {
        if (p->bulkhead->try_enter()) {
            ctx.bulkhead = p->bulkhead.get();
        } else {
            ctx.bulkhead_pending = true; // policy_wait queues it
        }
    }
    if (pool_gate) {
        ctx.pool_admission = pool_gate->admit(ctx.pool->hosts().breaker_probes);
        if (ctx.pool_admission == BreakerGate::Admission::Reject) {
            retry_after(ctx, pool_gate->open_until_ns());
            return StageResult::respond(503, ResponseFlag::CircuitOpen);
        }
    }
    if (auto* caps = ctx.pool->hosts().caps.get(); caps && caps->caps().max_requests) {
        if (!caps->acquire_request()) return StageResult::respond(503, ResponseFlag::Overflow);
        ctx.caps = caps;
    }
    if (route_active) check_fault_delay(ctx, *p, header_delay);
    return StageResult::next();
}

namespace {

// Waits for a bulkhead slot: in arrival order across workers, at most the route's queue_timeout.
// The worker that frees a slot wakes this one through its mailbox (it cancels the timer).
net::awaitable<StageResult> bulkhead_wait(RequestContext& ctx) {
    auto& w = *ctx.worker;
    auto& p = *ctx.policies;
    auto& b = *p.bulkhead;
    auto& c = p.counters.at(w.index);
    ctx.bulkhead_pending = false;
    auto waiter = std::make_shared<policy::Bulkhead::Waiter>();
    auto timer = std::make_shared<asio::steady_timer>(w.io, p.queue_timeout);
    WorkerContext* home = &w;
    waiter->wake = [home, timer] { home->run_soon([timer] { timer->cancel(); }); };
    switch (b.enter(waiter)) {
    case policy::Bulkhead::Entry::Admitted: ctx.bulkhead = &b; co_return StageResult::next();
    case policy::Bulkhead::Entry::Rejected: c.bulkhead_rejected.inc(); co_return StageResult::respond(503, ResponseFlag::BulkheadFull);
    case policy::Bulkhead::Entry::Queued: break;
    }
    c.bulkhead_queued.inc();
    co_await timer->async_wait(net::use_nothrow);
    if (waiter->state.load() == policy::Bulkhead::Waiter::Granted || b.abandon(waiter)) {
        ctx.bulkhead = &b;
        co_return StageResult::next();
    }
    c.bulkhead_rejected.inc();
    co_return StageResult::respond(503, ResponseFlag::BulkheadFull);
}

} // namespace

net::awaitable<StageResult> policy_wait(RequestContext& ctx) {
    auto& w = *ctx.worker;
    if (ctx.bulkhead_pending) {
        auto r = co_await bulkhead_wait(ctx);
        if (!r.ok()) co_return r;
        if (ctx.policy_wait == Duration::zero()) co_return r;
    }
    asio::steady_timer timer(w.io, ctx.policy_wait);
    co_await timer.async_wait(net::use_nothrow);
    ctx.policy_wait = Duration::zero();
    if (ctx.fault_delay) {
        ctx.fault_delay->active.fetch_sub(1, std::memory_order_relaxed);
        ctx.fault_delay = nullptr;
    }
    if (ctx.session->aborted()) co_return StageResult::respond(503, ResponseFlag::Draining);
    co_return StageResult::next();
}

namespace {

// Whether a request's outcome is a failure for a breaker that counts `bits` (config::RetryOn).
bool breaker_failure(std::uint32_t bits, Duration slow_call, const RequestContext& ctx, ResponseFlag flag) {
    if (slow_call > Duration::zero() && ctx.worker->scheduler.now() - ctx.start > slow_call) return true;
    switch (flag) {
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamTls:
    case ResponseFlag::UpstreamConnectTimeout: return (bits & config::RetryOnConnectFailure) != 0;
    case ResponseFlag::UpstreamReset:
    case ResponseFlag::UpstreamAborted:
    case ResponseFlag::UpstreamProtocolError: return (bits & config::RetryOnReset) != 0;
    case ResponseFlag::UpstreamTimeout: return (bits & config::RetryOnTimeout) != 0;
    default: break;
    }
    const int status = ctx.status;
    if (status < 500 || status > 599) return false;
    if ((bits & config::RetryOn5xx) != 0) return true;
    switch (status) {
    case 500: return (bits & config::RetryOn500) != 0;
    case 502: return (bits & config::RetryOn502) != 0;
    case 503: return (bits & config::RetryOn503) != 0;
    case 504: return (bits & config::RetryOn504) != 0;
    default: return false;
    }
}

// Whether the outcome says anything about the servers: not when no attempt reached them (a
// local answer) or when the client went away or misbehaved.
bool says_something(const RequestContext& ctx) {
    if (ctx.attempts == 0) return false;
    switch (ctx.flag) {
    case ResponseFlag::ClientAborted:
    case ResponseFlag::ClientTimeout:
    case ResponseFlag::BadRequest:
    case ResponseFlag::Draining: return false;
    default: return true;
    }
}

void report(BreakerGate* gate, BreakerGate::Admission& a, bool counted, bool failure, std::size_t worker) {
    if (!gate || a == BreakerGate::Admission::NotAsked) return;
    if (counted) {
        gate->on_result(a, failure, worker);
    } else {
        gate->release(a);
    }
    a = BreakerGate::Admission::NotAsked;
}

// The outcome, to the route's breaker and the pool's (a request that never reached a server
// says nothing about it and only gives back its admission).
void report_breakers(RequestContext& ctx) {
    const bool counted = says_something(ctx);
    const std::size_t w = ctx.worker->index;
    if (auto* p = ctx.policies; p && p->breaker) {
        report(p->breaker.get(), ctx.route_admission, counted,
               counted && breaker_failure(p->breaker_failure_on, p->breaker_slow_call, ctx, ctx.flag), w);
    }
    if (ctx.pool) {
        const auto& set = ctx.pool->hosts();
        report(set.breaker.get(), ctx.pool_admission, counted,
               counted && breaker_failure(set.breaker_failure_on, set.breaker_slow_call, ctx, ctx.flag), w);
    }
}

void release_caps(RequestContext& ctx) {
    if (ctx.caps) {
        ctx.caps->release_request();
        ctx.caps = nullptr;
    }
}

} // namespace

void policy_divert(RequestContext& ctx) {
    release_caps(ctx);
    report_breakers(ctx);
}

void policy_end(RequestContext& ctx) {
    // Rules: nothing to do unless a delay slot is held or a breaker was asked (the common case,
    // no policy, returns here).
    if (!ctx.fault_delay && !ctx.bulkhead && !ctx.caps && ctx.route_admission == BreakerGate::Admission::NotAsked &&
        ctx.pool_admission == BreakerGate::Admission::NotAsked) {
        return;
    }
    release_caps(ctx);
    if (ctx.bulkhead) {
        ctx.bulkhead->leave();
        ctx.bulkhead = nullptr;
    }
    if (ctx.fault_delay) { // a request that never waited its delay (shut down meanwhile)
        ctx.fault_delay->active.fetch_sub(1, std::memory_order_relaxed);
        ctx.fault_delay = nullptr;
    }
    report_breakers(ctx);
}

} // namespace haven::proxy::stages
