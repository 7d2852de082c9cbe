// Stage: retry. Decides whether a failed attempt is tried again (upstream/retry/policy.hpp has
// the rules; docs/proxying.md states them for users), undoes the attempt, waits the backoff, and
// sends the request back to `pick`, which avoids the servers already tried.
//
// Two kinds of second attempt:
//   - a pooled keep-alive connection the server had already closed (no response byte came back)
//     is retried once on a new connection to the same server, for an idempotent request whose body
//     can be replayed; it is not counted as a retry nor as a server failure;
//   - otherwise the pool's policy: `retries`, `retry_on`, idempotency, body replay, and the retry
//     budget (retries in flight <= max_retry_ratio × requests in flight, per worker).
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"
#include "upstream/retry/backoff.hpp"

#include <asio/steady_timer.hpp>

namespace haven::proxy::stages {
namespace {

using upstream::AttemptFailure;
using upstream::FailureKind;
using upstream::RetryDecision;

std::optional<AttemptFailure> as_attempt_failure(const RequestContext& ctx, ResponseFlag flag) {
    switch (flag) {
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamConnectTimeout: return AttemptFailure{FailureKind::ConnectFailure, 0, false};
    case ResponseFlag::UpstreamReset: return AttemptFailure{FailureKind::Reset, 0, ctx.request_sent};
    case ResponseFlag::UpstreamTimeout: return AttemptFailure{FailureKind::Timeout, 0, ctx.request_sent};
    default: return std::nullopt; // client-side, protocol errors, local decisions: never retried
    }
}

std::optional<upstream::AttemptError> attempt_error(ResponseFlag f) {
    switch (f) {
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamConnectTimeout: return upstream::AttemptError::Connect;
    case ResponseFlag::UpstreamTimeout: return upstream::AttemptError::Timeout;
    case ResponseFlag::UpstreamReset:
    case ResponseFlag::UpstreamAborted: return upstream::AttemptError::Reset;
    case ResponseFlag::UpstreamProtocolError: return upstream::AttemptError::Protocol;
    default: return std::nullopt;
    }
}

bool body_replayable(const RequestContext& ctx) { return !ctx.body_streamed || ctx.body_copy_valid; }

// Ends the failed attempt: the connection is closed (it may hold half a request or response),
// the server's lease released. The server is remembered in `tried`.
void end_attempt(RequestContext& ctx) {
    ctx.session->watch_upstream(nullptr);
    ctx.conn.reset();
    if (ctx.host_rt) {
        ctx.pool->release(ctx.host_rt);
        ctx.host_rt = nullptr;
    }
    ctx.resp_buf.clear();
    ctx.resp = http::ResponseHead{};
    ctx.request_sent = false;
    ctx.attempt_reported = false;
}

net::awaitable<bool> try_again(RequestContext& ctx, const AttemptFailure& f) {
    auto& w = *ctx.worker;
    const auto& params = ctx.pool->hosts().retry;
    upstream::RetryContext rc;
    rc.retries_done = ctx.retries;
    rc.idempotent = http::is_idempotent(ctx.req.method);
    rc.body_replayable = body_replayable(ctx);
    rc.response_started = ctx.response_started;
    RetryDecision d = upstream::decide_retry(params, f, rc);
    if (d == RetryDecision::Retry && !ctx.pool->budget().try_acquire()) d = RetryDecision::BudgetExhausted;
    w.stats.retry_decisions[static_cast<std::size_t>(d)].inc();
    if (d != RetryDecision::Retry) co_return false;
    ++ctx.retries;
    ++ctx.budget_retries;
    if (ctx.host_rt) ctx.host_rt->counters->retried.inc();
    end_attempt(ctx);
    const Duration wait = upstream::retry_backoff(ctx.retries, params.backoff_base, params.backoff_max, w.random);
    if (wait > Duration::zero()) {
        asio::steady_timer timer(w.io, wait);
        co_await timer.async_wait(net::use_nothrow);
    }
    co_return !ctx.session->aborted(); // shutdown gave up on this request meanwhile
}

} // namespace

// Reports an attempt's outcome to outlier detection: workers count consecutive failures per
// server; the control thread ejects.
void report_attempt(RequestContext& ctx, bool success, ResponseFlag why) {
    if (ctx.attempt_reported || !ctx.host_rt || !ctx.host_rt->info) return;
    ctx.attempt_reported = true;
    if (const auto e = attempt_error(why)) ctx.host_rt->counters->failures[static_cast<std::size_t>(*e)].inc();
    auto& signals = *ctx.host_rt->info->signals;
    if (success) {
        signals.on_success();
    } else {
        signals.on_failure();
    }
}

net::awaitable<bool> retry(RequestContext& ctx, const StageResult& failure) {
    if (failure.kind != StageResult::Kind::Fail || ctx.response_started || ctx.session->aborted()) co_return false;
    const bool stale = failure.error.retryable && ctx.conn_reused &&
                       (failure.error.flag == ResponseFlag::UpstreamReset ||
                        failure.error.flag == ResponseFlag::UpstreamProtocolError);
    if (stale && ctx.stale_retries == 0) {
        ++ctx.stale_retries;
        ctx.worker->stats.upstream_stale_retries.inc();
        ctx.session->watch_upstream(nullptr);
        ctx.conn.reset();
        ctx.force_fresh = true;
        ctx.resp_buf.clear();
        ctx.resp = http::ResponseHead{};
        ctx.request_sent = false;
        co_return true; // same server, fresh connection: the host lease is kept
    }
    const auto f = as_attempt_failure(ctx, failure.error.flag);
    if (!f) co_return false;
    report_attempt(ctx, false, failure.error.flag);
    co_return co_await try_again(ctx, *f);
}

bool retryable_status(const RequestContext& ctx) {
    return upstream::status_is_retryable(ctx.pool->hosts().retry, ctx.resp.status);
}

net::awaitable<bool> retry_on_status(RequestContext& ctx) {
    const int status = ctx.resp.status;
    if (ctx.session->aborted()) co_return false;
    if (!upstream::status_is_retryable(ctx.pool->hosts().retry, status)) co_return false;
    report_attempt(ctx, false, ResponseFlag::None);
    co_return co_await try_again(ctx, AttemptFailure{FailureKind::Status, status, true});
}

void begin_attempts(RequestContext& ctx) {
    ctx.pool->hold();
    ctx.pool->budget().request_started();
    ctx.budget_counted = true;
}

void end_attempts(RequestContext& ctx) {
    if (!ctx.budget_counted) return;
    auto& budget = ctx.pool->budget();
    budget.request_finished();
    for (; ctx.budget_retries > 0; --ctx.budget_retries) budget.retry_finished();
    ctx.budget_counted = false;
    ctx.pool->drop();
}

} // namespace haven::proxy::stages
