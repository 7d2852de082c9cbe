// Stage: pick. The pool's load balancer chooses a server among those that may take traffic,
// skipping the servers this request already tried.
#include "http/fields.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

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

} // namespace

StageResult pick(RequestContext& ctx) {
    auto& pool = *ctx.pool;
    upstream::PickRequest pr;
    pr.exclude = std::span<const upstream::HostIndex>(ctx.tried.data(), std::min<std::size_t>(ctx.attempts, ctx.tried.size()));
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
    ctx.host = h;
    ctx.host_rt = pool.acquire(h);
    if (ctx.attempts < ctx.tried.size()) ctx.tried[ctx.attempts] = h;
    ++ctx.attempts;
    return StageResult::next();
}

} // namespace haven::proxy::stages
