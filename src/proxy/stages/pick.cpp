// Stage: pick. The pool's load balancer chooses a server among those that may take traffic,
// skipping the servers this request already tried.
#include "http/fields.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

#include <algorithm>
#include <vector>

namespace haven::proxy::stages {
namespace {

// The hash key for `balance: hash`; empty when the request lacks it (the balancer then falls
// back to round-robin, as documented).
std::string_view hash_source(const RequestContext& ctx, const config::HashKey& key) {
    switch (key.on) {
    case config::HashOn::Source: return ctx.session->client_ip();
    case config::HashOn::Path: return ctx.req.path;
    case config::HashOn::Header: return http::find_field(ctx.req, key.name);
    case config::HashOn::Cookie: return http::find_cookie(ctx.req, key.name);
    }
    return {};
}

std::span<const upstream::HostIndex> tried_hosts(const RequestContext& ctx) {
    return {ctx.tried.data(), std::min<std::size_t>(ctx.attempts, ctx.tried.size())};
}

// The eligible server with the most free slots that this request has not tried and this worker
// has not seen refuse, its slot taken; kNoHost when every one is full (or someone waits).
upstream::HostIndex take_roomiest(RequestContext& ctx, upstream::ServerSlots& slots) {
    auto& pool = *ctx.pool;
    const auto done = tried_hosts(ctx);
    for (int round = 0; round < 8; ++round) { // bounded: other workers take slots meanwhile
        upstream::HostIndex best = upstream::kNoHost;
        std::uint32_t most = 0;
        for (const auto& e : pool.hosts().eligible) {
            if (std::find(done.begin(), done.end(), e.host) != done.end() || pool.host(e.host).refused_seq != 0) continue;
            const auto room = slots.room(e.host);
            if (room > most) {
                most = room;
                best = e.host;
            }
        }
        if (best == upstream::kNoHost) return best;
        if (slots.try_take(best)) return best;
        if (slots.queued() > 0) break; // others wait: queue behind them
    }
    return upstream::kNoHost;
}

// Server h for the request, if it has a free slot (servers with max_connections); else the
// eligible server with the most room, else the request waits in the pool's queue.
StageResult take_server(RequestContext& ctx, upstream::HostIndex h) {
    if (const auto& slots = ctx.pool->hosts().slots) {
        if (!slots->try_take(h)) h = take_roomiest(ctx, *slots);
        if (h == upstream::kNoHost) {
            ctx.slot_wait = true;
            return StageResult::next();
        }
        ctx.slots = slots;
    }
    use_server(ctx, h);
    return StageResult::next();
}

} // namespace

StageResult pick(RequestContext& ctx) {
    auto& pool = *ctx.pool;
    if (pool.hosts().sticky) {
        bool refuse = false;
        const upstream::HostIndex h = sticky_pick(ctx, refuse);
        if (refuse) return StageResult::respond(503, ResponseFlag::NoHealthyServer);
        if (h != upstream::kNoHost) return take_server(ctx, h);
    }
    upstream::PickRequest pr;
    pr.exclude = tried_hosts(ctx);
    const auto& set = pool.hosts();
    if (set.balance == config::Balance::Hash) {
        const std::string_view key = hash_source(ctx, set.hash_on);
        if (!key.empty()) {
            pr.hash = upstream::hash_key(key);
            pr.has_hash = true;
        }
    }
    upstream::HostIndex h = pool.pick(pr);
    if (h == upstream::kNoHost && (!pr.exclude.empty() || pool.refused_count() > 0)) {
        // Every serving server was tried, or refused this worker's connects: the request goes to
        // the best usable server of another tier, else to a serving server already tried (a
        // retry; it waits the backoff then).
        h = pool.fallback(pr.exclude);
        if (h == upstream::kNoHost && !pr.exclude.empty()) {
            pr.exclude = {};
            h = pool.pick(pr);
        }
    }
    if (h == upstream::kNoHost) return StageResult::respond(503, ResponseFlag::NoHealthyServer);
    return take_server(ctx, h);
}

void use_server(RequestContext& ctx, upstream::HostIndex h) {
    ctx.host = h;
    ctx.host_rt = ctx.pool->acquire(h);
    if (ctx.attempts < ctx.tried.size()) ctx.tried[ctx.attempts] = h;
    ++ctx.attempts;
}

void release_server(RequestContext& ctx) {
    if (!ctx.host_rt) return;
    ctx.pool->release(ctx.host_rt);
    ctx.host_rt = nullptr;
    if (ctx.slots) {
        ctx.slots->leave(ctx.host);
        ctx.slots.reset();
    }
}

std::vector<upstream::HostIndex> slot_candidates(RequestContext& ctx) {
    auto& pool = *ctx.pool;
    const auto done = tried_hosts(ctx);
    std::vector<upstream::HostIndex> out;
    for (const auto& e : pool.hosts().eligible) {
        if (std::find(done.begin(), done.end(), e.host) != done.end() || pool.host(e.host).refused_seq != 0) continue;
        out.push_back(e.host);
    }
    return out;
}

} // namespace haven::proxy::stages
