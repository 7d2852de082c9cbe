// The stages of the request pipeline; pipeline.cpp calls them in order. Each file in this folder
// is one stage. See stage.hpp for StageResult.
#pragma once

#include "net/io.hpp"
#include "proxy/request_context.hpp"
#include "proxy/stage.hpp"

#include <vector>

namespace haven::proxy::stages {

// route.cpp: pick the pool from the listener's routes (404 when none matches).
StageResult route(RequestContext& ctx);
// policy.cpp: the route's policies (faults, rate limits, circuit breakers); a request they hold
// waits in policy_wait; policy_end reports the outcome to the breakers and frees what was held.
StageResult policy(RequestContext& ctx);
net::awaitable<StageResult> policy_wait(RequestContext& ctx);
void policy_end(RequestContext& ctx);
// respond.cpp: the route's fallback answers a request haven could not serve (true if it did);
// fallback_for says whether it will (classify counts the fallback's status).
net::awaitable<bool> fallback_reply(RequestContext& ctx);
const config::FallbackPolicy* fallback_for(const RequestContext& ctx);
// respond.cpp: what a fallback stands in for ("no_server", "circuit_open", "upstream_failed", ...),
// null for an outcome no fallback answers (a rate limit, a fault, a bad request).
const char* degraded_reason(ResponseFlag f);
// fallback_pool.cpp: after the route's pool could not serve the request, whether it goes to the
// route's fallback pool (then the attempts start over there).
bool divert_to_fallback_pool(RequestContext& ctx, const StageResult& failure);
// policy.cpp: before a request leaves its pool for the fallback pool, the breakers hear of the
// failure and the pool's request slot is freed.
void policy_divert(RequestContext& ctx);
// pick.cpp: choose a server of the pool with its load balancer, skipping servers already tried
// (and full ones, for servers with max_connections: then ctx.slot_wait may ask for...
StageResult pick(RequestContext& ctx);
// sticky.cpp: for pick, the server the request sticks to if it may go there (kNoHost: balance
// it; `refuse`: answer 503, its server is out and redispatch is off)...
upstream::HostIndex sticky_pick(RequestContext& ctx, bool& refuse);
// ...and for respond, what sticks the client to the server that answered: a stick table entry,
// the server's cookie rewritten, or the Set-Cookie lines to add (`insert`).
void sticky_response(RequestContext& ctx, std::string_view& insert);
// ...server_queue.cpp: a wait in the pool's queue for a slot, at most queue.timeout).
net::awaitable<StageResult> server_queue_wait(RequestContext& ctx);
// pick.cpp: the request uses server h (lease, tried list); and lets it go (lease, slot).
void use_server(RequestContext& ctx, upstream::HostIndex h);
void release_server(RequestContext& ctx);
// pick.cpp: the servers a waiting request may be given: eligible, not tried, not refused here.
std::vector<upstream::HostIndex> slot_candidates(RequestContext& ctx);
// connect.cpp: a pooled keep-alive connection to the server (true), without waiting...
bool reuse_connection(RequestContext& ctx);
// ...or a new one within timeouts.connect.
net::awaitable<StageResult> connect(RequestContext& ctx);
// forward.cpp: send the request (head and body)...
net::awaitable<StageResult> send_request(RequestContext& ctx);
// ...and read the response head (interim 1xx responses handled).
net::awaitable<StageResult> read_response_head(RequestContext& ctx);
// forward.cpp: the server inactivity limit for this attempt (per_try_timeout or timeouts.server).
std::chrono::milliseconds server_timeout(const RequestContext& ctx);
// respond.cpp: relay the response head and body to the client.
net::awaitable<StageResult> respond(RequestContext& ctx);
// tunnel.cpp: after a 101 to a WebSocket handshake, relay bytes both ways until both sides close.
net::awaitable<StageResult> tunnel(RequestContext& ctx);
// respond.cpp: haven's own reply (404, 502, 503, 504, ...).
net::awaitable<void> local_reply(RequestContext& ctx, int status, ResponseFlag flag);
// retry.cpp: whether to try again after a failure; if so, undo the attempt and wait the backoff.
net::awaitable<bool> retry(RequestContext& ctx, const StageResult& failure);
// retry.cpp: whether the response's status is one the pool retries on (e.g. 503)...
bool retryable_status(const RequestContext& ctx);
// ...and if so whether to try again (undoing the attempt), before relaying it.
net::awaitable<bool> retry_on_status(RequestContext& ctx);
// retry.cpp: an attempt's outcome, for outlier detection (once per attempt).
// `why`: the failure's flag (counted per server by kind), ResponseFlag::None for a 5xx response.
void report_attempt(RequestContext& ctx, bool success, ResponseFlag why = ResponseFlag::None);
// retry.cpp: after pick, whether a retry goes back to a server this request tried (then it waits
// the backoff, in `backoff`); a retry to another server goes at once.
bool backoff_needed(RequestContext& ctx);
net::awaitable<StageResult> backoff(RequestContext& ctx);
// retry.cpp: the request adds to its pool's retry budget and holds the pool from route to classify.
void begin_attempts(RequestContext& ctx);
void end_attempts(RequestContext& ctx);
// retry.cpp: ends a failed attempt: its connection closed, the server's lease released.
void end_attempt(RequestContext& ctx);
// Whether the request's body could be sent again: held whole, and within retry_buffer.
bool body_replayable(const RequestContext& ctx);
// classify.cpp: the status haven answers for a failure with this flag (502, 503, 504, ...).
int status_for(ResponseFlag f);
// classify.cpp: settle the outcome — status, flag, counters, server lease, upstream connection.
void classify(RequestContext& ctx, StageResult& result);
// classify.cpp: the request's listener/route counters and latency (also for rejected requests).
void count_request(RequestContext& ctx);
// log.cpp: the access-log record.
void log(RequestContext& ctx);

} // namespace haven::proxy::stages
