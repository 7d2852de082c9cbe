// Stage: route. The listener's routes choose the pool; requests haven refuses on sight stop here.
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

namespace haven::proxy::stages {

// Rules, in order:
//   - an Expect other than 100-continue cannot be met: 417 (RFC 9110 §10.1.1);
//   - CONNECT asks for a tunnel, which a reverse proxy does not offer: 405;
//   - no route matches: 404.
StageResult route(RequestContext& ctx) {
    const auto& listener = ctx.worker->snapshot().listeners[ctx.session->listener()];
    if (!listener) return StageResult::respond(503, ResponseFlag::Draining); // listener removed by a reload
    ctx.route_metrics = listener->no_route.get();
    if (ctx.req.expect_other) return StageResult::respond(417, ResponseFlag::BadRequest);
    if (ctx.req.method == http::Method::Connect) return StageResult::respond(405, ResponseFlag::BadRequest);
    auto& w = *ctx.worker;
    const Router::Match m = listener->router.route(ctx.req);
    ctx.route_metrics = m.metrics ? m.metrics : listener->no_route.get();
    ctx.policies = m.policies;
    if (m.pool == kNoPool) return StageResult::respond(404, ResponseFlag::NoRoute);
    ctx.pool_index = m.pool;
    ctx.pool = &w.pool(m.pool);
    ctx.fallback_pool = m.fallback_pool;
    return StageResult::next();
}

} // namespace haven::proxy::stages
