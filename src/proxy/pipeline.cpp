#include "proxy/pipeline.hpp"

#include "proxy/stages/stages.hpp"
#include "proxy/worker_context.hpp"

namespace haven::proxy {

// read headers (http_session) -> route -> pick -> connect -> forward -> respond
//   on a failure before the response started: retry? (back to connect/pick) or a local reply
// -> classify (outcome, counters, connection reuse) -> log
net::awaitable<void> run_pipeline(RequestContext& ctx) {
    ctx.start = ctx.worker->scheduler.now();
    StageResult r = stages::route(ctx);
    if (r.ok()) r = stages::pick(ctx);
    while (r.ok()) {
        r = co_await stages::connect(ctx);
        if (r.ok()) r = co_await stages::forward(ctx);
        if (r.ok()) {
            r = co_await stages::respond(ctx);
            break;
        }
        if (!stages::retry(ctx, r)) break;
        r = StageResult::next();
    }
    stages::classify(ctx, r);
    if (r.kind != StageResult::Kind::Continue && !ctx.response_started) {
        co_await stages::local_reply(ctx, ctx.status, ctx.flag);
    }
    stages::log(ctx);
}

} // namespace haven::proxy
