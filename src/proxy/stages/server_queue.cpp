// Stage: server_queue_wait. Every server the request may use is at its max_connections: it waits
// in the pool's queue (upstream::ServerSlots), in arrival order across every worker, until a
// request finishing on one of those servers hands it that slot, or until queue.timeout
// (default timeouts.connect, as HAProxy's `timeout queue`): then 503, flag "server queue". A
// full queue answers 503 at once. The worker that frees a slot wakes this one through its
// mailbox (it cancels the timer); the request itself never leaves its worker.
#include "proxy/stages/stages.hpp"
#include "proxy/worker_context.hpp"

#include <asio/steady_timer.hpp>

#include <algorithm>

namespace haven::proxy::stages {
namespace {

// A slot granted on a server this worker may no longer use (it went down or was drained while
// the request waited) is passed on, and the request picks again.
bool still_usable(RequestContext& ctx, upstream::HostIndex h) {
    const auto& eligible = ctx.pool->hosts().eligible;
    return h < ctx.pool->hosts().hosts.size() && ctx.pool->host(h).refused_seq == 0 &&
           std::any_of(eligible.begin(), eligible.end(), [h](const upstream::LbEntry& e) { return e.host == h; });
}

} // namespace

net::awaitable<StageResult> server_queue_wait(RequestContext& ctx) {
    auto& w = *ctx.worker;
    ctx.slot_wait = false;
    const auto slots = ctx.pool->hosts().slots;
    auto timeout = ctx.pool->hosts().queue_timeout;
    if (timeout <= Duration::zero()) timeout = w.config().timeouts.connect;
    const auto until = w.scheduler.now() + timeout;
    for (;;) {
        auto candidates = slot_candidates(ctx);
        auto waiter = std::make_shared<upstream::ServerSlots::Waiter>();
        waiter->exclude.assign(ctx.tried.begin(), ctx.tried.begin() + std::min<std::size_t>(ctx.attempts, ctx.tried.size()));
        const auto left = until - w.scheduler.now();
        auto timer = std::make_shared<asio::steady_timer>(w.io, std::max(left, Duration::zero()));
        WorkerContext* home = &w;
        waiter->wake = [home, timer] { home->run_soon([timer] { timer->cancel(); }); };
        switch (slots->enter(waiter, candidates)) {
        case upstream::ServerSlots::Entry::Admitted: break;
        case upstream::ServerSlots::Entry::Rejected:
            co_return StageResult::respond(503, candidates.empty() ? ResponseFlag::NoHealthyServer : ResponseFlag::ServerQueue);
        case upstream::ServerSlots::Entry::Queued:
            co_await timer->async_wait(net::use_nothrow);
            if (waiter->state.load() != upstream::ServerSlots::Waiter::Granted && !slots->abandon(waiter)) {
                slots->count_timeout();
                co_return StageResult::respond(503, ResponseFlag::ServerQueue);
            }
            break;
        }
        const upstream::HostIndex h = waiter->granted;
        // The snapshot may have changed while it waited: the slot is only good on the same slots
        // object and a server this worker still picks.
        if (ctx.pool->hosts().slots == slots && still_usable(ctx, h)) {
            ctx.slots = slots;
            use_server(ctx, h);
            co_return StageResult::next();
        }
        slots->leave(h);
        if (ctx.pool->hosts().slots != slots || w.scheduler.now() >= until) {
            co_return StageResult::respond(503, ResponseFlag::ServerQueue);
        }
    }
}

} // namespace haven::proxy::stages
