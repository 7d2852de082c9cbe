// Bulkhead: a route's cap on requests in flight, with a bounded queue (the brief's bulkhead
// pattern; HAProxy's maxconn / maxqueue / timeout queue for a route). Shared by every worker: the
// cap is for the process, whatever `threads:` is.
//
// The mechanism is a pool's per-server slots with one "server" (upstream::ServerSlots): the
// common path is one atomic add and one atomic subtract; only a request that finds every slot
// taken touches the queue (a mutex): it waits, in arrival order across all workers, until a
// finishing request hands it its slot directly (so a slot never goes to a newcomer while someone
// waits), or until its queue timeout (then 503). The hand-over wakes the waiter on its own worker
// thread through that worker's mailbox (WorkerContext::run_soon), so a request never crosses
// threads.
#pragma once

#include "upstream/circuit/server_slots.hpp"

#include <cstdint>
#include <memory>

namespace haven::policy {

class Bulkhead {
public:
    // A request waiting for a slot. The waiter's worker owns it; `wake` runs on some other worker
    // (it must post to the waiter's own thread).
    using Waiter = upstream::ServerSlots::Waiter;
    using Entry = upstream::ServerSlots::Entry;

    // max_active >= 1 (the config's range).
    Bulkhead(std::uint32_t max_active, std::uint32_t max_queue) : slots_({max_active}, max_queue) {}

    // The common path: a slot when one is free and nobody waits for one.
    bool try_enter() { return slots_.try_take(0); }
    // Takes a slot, or queues `w` (when the queue has room), or rejects.
    Entry enter(const std::shared_ptr<Waiter>& w) {
        static constexpr upstream::HostIndex kOnly[] = {0};
        return slots_.enter(w, kOnly);
    }
    // The waiter gave up (timeout, shutdown). True if it had been granted a slot meanwhile (the
    // caller then owns that slot and must leave()).
    bool abandon(const std::shared_ptr<Waiter>& w) { return slots_.abandon(w); }
    // A request holding a slot is done: the slot goes to the oldest waiter still waiting, or is freed.
    void leave() { slots_.leave(0); }

    std::uint32_t active() const { return slots_.active(0); }
    std::uint32_t queued() const { return slots_.queued(); }
    std::uint32_t max_active() const { return slots_.cap(0); }
    std::uint32_t max_queue() const { return slots_.max_queue(); }

private:
    upstream::ServerSlots slots_;
};

} // namespace haven::policy
