// Stage: fallback pool. A request the route's pool could not serve — no serving server, an open
// breaker, a cap, or a server that failed after the retries — goes to the route's fallback pool
// (`policies.fallback.pool`), where its attempts start over with that pool's balancing, retries
// and budget. The server's answer reaches the client with `X-Haven-Degraded: <reason>`.
//
// Rules (the same safety as a retry, docs/proxying.md):
//   - only before any byte of a response went to the client, and only once per request;
//   - a request that reached a server of the first pool goes again only if it is idempotent;
//   - a request whose body was partly sent and not kept for replay does not go again;
//   - a rate limit, an injected fault, a bad request or a client that left never diverts.
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

#include <cstdio>

namespace haven::proxy::stages {
namespace {

bool may_go_again(const RequestContext& ctx) {
    if (ctx.body_streamed && !ctx.body_copy_valid) return false;
    return !ctx.request_sent || http::is_idempotent(ctx.req.method);
}

void add_degraded_field(RequestContext& ctx, const char* reason) {
    if (!ctx.policies || !ctx.policies->fallback) return; // (the fallback pool is the route's fallback's)
    const std::string& name = ctx.policies->fallback->degraded_header;
    if (name.empty()) return;
    auto& f = ctx.added_fields;
    const std::size_t at = ctx.added_fields_len;
    const int n = std::snprintf(f.data() + at, f.size() - at, "%s: %s\r\n", name.c_str(), reason);
    if (n > 0 && static_cast<std::size_t>(n) < f.size() - at) ctx.added_fields_len = at + static_cast<std::size_t>(n);
}

} // namespace

bool divert_to_fallback_pool(RequestContext& ctx, const StageResult& failure) {
    if (ctx.fallback_pool == kNoPool || ctx.degraded || failure.kind == StageResult::Kind::Continue) return false;
    if (ctx.response_started || ctx.session->aborted() || ctx.session->closing()) return false;
    const ResponseFlag flag = failure.kind == StageResult::Kind::Respond ? failure.reply.flag : failure.error.flag;
    const char* reason = degraded_reason(flag);
    if (!reason || !may_go_again(ctx)) return false;
    auto& w = *ctx.worker;
    // The first pool's part ends as if the request had ended there: outlier detection, breakers,
    // caps, the retry budget and the server's lease all hear of the failure.
    ctx.flag = flag;
    ctx.status = failure.kind == StageResult::Kind::Respond ? failure.reply.status : status_for(flag);
    if (failure.kind == StageResult::Kind::Fail) report_attempt(ctx, false, flag);
    policy_divert(ctx);
    end_attempt(ctx);
    end_attempts(ctx);
    // A fresh start on the fallback pool.
    ctx.pool_index = ctx.fallback_pool;
    ctx.pool = &w.pool(ctx.fallback_pool);
    ctx.attempts = 0;
    ctx.retries = 0;
    ctx.stale_retries = 0;
    ctx.force_fresh = false;
    ctx.backoff_due = false;
    // Server indices are per pool: the fallback pool's own stickiness decides there.
    ctx.sticky_done = false;
    ctx.sticky_host = upstream::kNoHost;
    ctx.cookie_host = upstream::kNoHost;
    ctx.stick_key = 0;
    ctx.flag = ResponseFlag::None;
    ctx.status = 0;
    ctx.degraded = reason;
    add_degraded_field(ctx, reason);
    if (ctx.policies) ctx.policies->counters.at(w.index).degraded.inc();
    begin_attempts(ctx);
    return true;
}

} // namespace haven::proxy::stages
