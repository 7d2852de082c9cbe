// Stage: retry. Decides whether a failed attempt is tried again (upstream/retry/policy.hpp has
// the rules; docs/proxying.md states them for users), undoes the attempt, waits the backoff, and
// sends the request back to `pick`, which avoids the servers already tried.
//
// Two kinds of second attempt:
//   - a pooled keep-alive connection the server had already closed (no response byte came back)
//     is retried once on a new connection to the same server, for an idempotent request whose body
//     can be replayed; it is not counted as a retry nor as a server failure;
//   - otherwise the pool's policy: `retries`, `retry_on`, idempotency, body replay, and the retry
//     budget (upstream/retry/budget.hpp: over 10 s, retries <= max_retry_ratio × requests + a floor
//     + the requests in flight).
//
// A retry waits its backoff only when it goes back to a server this request already tried (see
// `backoff`): a retry to another server goes at once, as HAProxy's redispatch does, since the
// backoff exists to give a failing server time, and the other server has not failed.
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"
#include "upstream/retry/backoff.hpp"

#include <asio/steady_timer.hpp>

#include <algorithm>

namespace haven::proxy::stages {
namespace {

using upstream::AttemptFailure;
using upstream::FailureKind;
using upstream::RetryDecision;

std::optional<AttemptFailure> as_attempt_failure(const RequestContext& ctx, ResponseFlag flag) {
    switch (flag) {
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamTls:
    case ResponseFlag::UpstreamConnectTimeout: return AttemptFailure{FailureKind::ConnectFailure, 0, false};
    case ResponseFlag::UpstreamReset: return AttemptFailure{FailureKind::Reset, 0, ctx.request_sent};
    case ResponseFlag::UpstreamTimeout: return AttemptFailure{FailureKind::Timeout, 0, ctx.request_sent};
    default: return std::nullopt; // client-side, protocol errors, local decisions: never retried
    }
}

std::optional<upstream::AttemptError> attempt_error(ResponseFlag f) {
    switch (f) {
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamTls:
    case ResponseFlag::UpstreamConnectTimeout: return upstream::AttemptError::Connect;
    case ResponseFlag::UpstreamTimeout: return upstream::AttemptError::Timeout;
    case ResponseFlag::UpstreamReset:
    case ResponseFlag::UpstreamAborted: return upstream::AttemptError::Reset;
    case ResponseFlag::UpstreamProtocolError: return upstream::AttemptError::Protocol;
    default: return std::nullopt;
    }
}

std::span<const upstream::HostIndex> tried(const RequestContext& ctx) {
    return {ctx.tried.data(), std::min<std::size_t>(ctx.attempts, ctx.tried.size())};
}

} // namespace

// The size rule is the same however the body arrived: one larger than retry_buffer is not sent
// again, even when all of it came with the head (else whether a retry happens would depend on
// how the client's packets were coalesced).
bool body_replayable(const RequestContext& ctx) {
    if (ctx.body_streamed) return ctx.body_copy_valid;
    return ctx.req.body != http::BodyKind::ContentLength || ctx.req.content_length <= ctx.pool->hosts().retry.retry_buffer;
}

// Ends the failed attempt: the connection is closed (it may hold half a request or response),
// the server's lease released. The server is remembered in `tried`.
void end_attempt(RequestContext& ctx) {
    ctx.session->watch_upstream(nullptr);
    ctx.conn.reset();
    release_server(ctx);
    ctx.resp_buf.clear();
    ctx.resp = http::ResponseHead{};
    ctx.request_sent = false;
    ctx.attempt_reported = false;
}

namespace {

bool try_again(RequestContext& ctx, const AttemptFailure& f) {
    auto& w = *ctx.worker;
    const auto& params = ctx.pool->hosts().retry;
    upstream::RetryContext rc;
    rc.retries_done = ctx.retries;
    rc.idempotent = http::is_idempotent(ctx.req.method);
    rc.body_replayable = body_replayable(ctx);
    rc.response_started = ctx.response_started;
    RetryDecision d = upstream::decide_retry(params, f, rc);
    // A request whose only servers refused ends with that failure (502), not a retry that finds
    // nothing (503): the refusal is what happened to it.
    if (d == RetryDecision::Retry && !ctx.pool->has_candidate(tried(ctx))) d = RetryDecision::NoServer;
    if (d == RetryDecision::Retry && !ctx.pool->budget().try_acquire(w.scheduler.now())) {
        d = RetryDecision::BudgetExhausted;
    }
    // The pool's max_retries caps retries in flight (counted as budget_exhausted, and as a
    // retry overflow in the pool's metrics).
    if (auto* caps = ctx.pool->hosts().caps.get(); d == RetryDecision::Retry && caps && caps->caps().max_retries) {
        if (caps->acquire_retry()) {
            ++ctx.capped_retries;
        } else {
            d = RetryDecision::BudgetExhausted;
        }
    }
    w.stats.retry_decisions[static_cast<std::size_t>(d)].inc();
    if (d != RetryDecision::Retry) return false;
    ++ctx.retries;
    if (ctx.host_rt) ctx.host_rt->counters->retried.inc();
    end_attempt(ctx);
    ctx.backoff_due = true;
    return true;
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
        signals.on_failure(why == ResponseFlag::None); // None: a 5xx response (see stages.hpp)
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
    co_return try_again(ctx, *f);
}

bool retryable_status(const RequestContext& ctx) {
    return upstream::status_is_retryable(ctx.pool->hosts().retry, ctx.resp.status);
}

net::awaitable<bool> retry_on_status(RequestContext& ctx) {
    const int status = ctx.resp.status;
    if (ctx.session->aborted()) co_return false;
    if (!upstream::status_is_retryable(ctx.pool->hosts().retry, status)) co_return false;
    report_attempt(ctx, false, ResponseFlag::None);
    co_return try_again(ctx, AttemptFailure{FailureKind::Status, status, true});
}

bool backoff_needed(RequestContext& ctx) {
    if (!ctx.backoff_due) return false;
    ctx.backoff_due = false;
    const auto t = tried(ctx);
    // The attempt just picked is the last entry; was that server tried before it?
    return t.size() >= 2 && std::find(t.begin(), t.end() - 1, ctx.host) != t.end() - 1;
}

net::awaitable<StageResult> backoff(RequestContext& ctx) {
    auto& w = *ctx.worker;
    const auto& params = ctx.pool->hosts().retry;
    const Duration wait = upstream::retry_backoff(ctx.retries, params.backoff_base, params.backoff_max, w.random);
    if (wait > Duration::zero()) {
        asio::steady_timer timer(w.io, wait);
        co_await timer.async_wait(net::use_nothrow);
    }
    // Shutdown gave up on this request meanwhile: answer 503 (nothing was sent for this attempt).
    if (ctx.session->aborted()) co_return StageResult::respond(503, ResponseFlag::Draining);
    co_return StageResult::next();
}

void begin_attempts(RequestContext& ctx) {
    ctx.pool->hold();
    ctx.pool->budget().on_request(ctx.start);
    ctx.pool_held = true;
}

void end_attempts(RequestContext& ctx) {
    if (!ctx.pool_held) return;
    ctx.pool_held = false;
    if (auto* caps = ctx.pool->hosts().caps.get(); caps && ctx.capped_retries) {
        for (; ctx.capped_retries > 0; --ctx.capped_retries) caps->release_retry();
    }
    ctx.pool->budget().request_finished();
    ctx.pool->drop();
}

} // namespace haven::proxy::stages
