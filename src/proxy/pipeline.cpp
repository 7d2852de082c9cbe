#include "proxy/pipeline.hpp"

#include "proxy/stages/stages.hpp"
#include "proxy/worker_context.hpp"

namespace haven::proxy {

// read headers (http_session) -> route -> policy (faults, rate limits, breakers; may wait)
//   -> pick (may wait in the pool's queue for a server with max_connections) -> connect -> forward
//   -> a retryable 5xx and the policy allows another try? back to pick (retry_on_status)
//   -> respond (or tunnel, after a 101 accepting a WebSocket handshake)
//   on a failure before the response started: retry? back to pick (another server), or a local reply
//   the route's pool could not serve it? once more on the route's fallback pool (stages/fallback_pool.cpp)
// -> classify (outcome, counters, connection reuse) -> log
net::awaitable<void> run_pipeline(RequestContext& ctx) {
    ctx.start = ctx.worker->scheduler.now();
    StageResult r = stages::route(ctx);
    if (r.ok()) r = stages::policy(ctx);
    if (r.ok() && (ctx.policy_wait > Duration::zero() || ctx.bulkhead_pending)) r = co_await stages::policy_wait(ctx);
    if (r.ok()) stages::begin_attempts(ctx);
    // (One function, no nested coroutine: a coroutine frame per request costs what a peer does not pay.)
    for (;;) {
        while (r.ok()) {
            if (!ctx.host_rt) {
                r = stages::pick(ctx);
                if (r.ok() && ctx.slot_wait) r = co_await stages::server_queue_wait(ctx);
                if (r.ok() && stages::backoff_needed(ctx)) r = co_await stages::backoff(ctx);
            }
            // A warm keep-alive connection needs no waiting: skip the coroutine call then.
            if (r.ok() && !stages::reuse_connection(ctx)) r = co_await stages::connect(ctx);
            if (r.ok()) r = co_await stages::send_request(ctx);
            if (r.ok()) r = co_await stages::read_response_head(ctx);
            if (r.ok()) {
                if (stages::retryable_status(ctx) && co_await stages::retry_on_status(ctx)) continue;
                // (An if, not ?: — g++ 12 can evaluate both co_await operands of a conditional.)
                if (ctx.resp.status == 101) {
                    r = co_await stages::tunnel(ctx);
                } else {
                    r = co_await stages::respond(ctx);
                }
                break;
            }
            if (!co_await stages::retry(ctx, r)) break;
            r = StageResult::next();
        }
        // What the route's pool could not serve, its fallback pool may (once): the attempts start over.
        if (r.kind == StageResult::Kind::Continue || !stages::divert_to_fallback_pool(ctx, r)) break;
        r = StageResult::next();
    }
    stages::classify(ctx, r);
    // A client that went away gets no reply (499 is only shown in the log); the route's fallback
    // answers what haven could not serve, when it has one.
    if (r.kind != StageResult::Kind::Continue && !ctx.response_started && ctx.flag != ResponseFlag::ClientAborted) {
        if (!co_await stages::fallback_reply(ctx)) co_await stages::local_reply(ctx, ctx.status, ctx.flag);
    }
    stages::log(ctx);
}

} // namespace haven::proxy
