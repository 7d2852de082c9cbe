// Stage: retry. Decides whether a failed attempt is tried again, and undoes it first.
//
// The rules (docs/retries.md states them for users):
//   - never once any byte of the response reached the client;
//   - only failures marked retryable by the stage that saw them: a connect failure or timeout
//     (nothing was sent), or a reused keep-alive connection that the server had already closed
//     (no response byte came back) for an idempotent request whose body was sent whole;
//   - a stale keep-alive connection is retried once, on a new connection to the same server.
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

namespace haven::proxy::stages {

bool retry(RequestContext& ctx, const StageResult& failure) {
    if (failure.kind != StageResult::Kind::Fail || !failure.error.retryable || ctx.response_started) return false;
    const bool stale = ctx.conn_reused && failure.error.flag == ResponseFlag::UpstreamReset;
    if (!stale || ctx.stale_retries > 0) return false;
    ++ctx.stale_retries;
    ctx.worker->stats.upstream_stale_retries.inc();
    ctx.session->watch_upstream(nullptr);
    ctx.conn.reset(); // closes the dead connection
    ctx.force_fresh = true;
    ctx.resp_buf.clear();
    ctx.resp = http::ResponseHead{};
    ctx.bytes_out = 0;
    return true;
}

} // namespace haven::proxy::stages
