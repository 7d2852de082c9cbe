// Bulkhead: a route's cap on requests in flight, with a bounded queue (the brief's bulkhead
// pattern; HAProxy's maxconn / maxqueue / timeout queue for a route). Shared by every worker: the
// cap is for the process, whatever `threads:` is.
//
// The common path is one atomic add and one atomic subtract. Only a request that finds every
// slot taken touches the queue (a mutex): it waits, in arrival order across all workers, until
// a finishing request hands it its slot directly (so a slot never goes to a newcomer while
// someone waits), or until its queue timeout (then 503). The hand-over wakes the waiter on its
// own worker thread through that worker's mailbox (WorkerContext::run_soon), so a request never
// crosses threads.
#pragma once

#include "core/clock.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace haven::policy {

class Bulkhead {
public:
    // A request waiting for a slot. The waiter's worker owns it; `wake` runs on some other worker
    // (it must post to the waiter's own thread).
    struct Waiter {
        enum State : std::uint8_t { Waiting, Granted, Gone };
        std::atomic<std::uint8_t> state{Waiting};
        std::function<void()> wake;
    };

    Bulkhead(std::uint32_t max_active, std::uint32_t max_queue) : max_active_(max_active), max_queue_(max_queue) {}

    // The common path: a slot when one is free and nobody waits for one.
    bool try_enter();
    enum class Entry : std::uint8_t { Admitted, Queued, Rejected };
    // Takes a slot, or queues `w` (when the queue has room), or rejects.
    Entry enter(const std::shared_ptr<Waiter>& w);
    // The waiter gave up (timeout, shutdown). True if it had been granted a slot meanwhile (the
    // caller then owns that slot and must leave()).
    bool abandon(const std::shared_ptr<Waiter>& w);
    // A request holding a slot is done: the slot goes to the oldest waiter still waiting, or is freed.
    void leave();

    std::uint32_t active() const { return active_.load(std::memory_order_relaxed); }
    std::uint32_t queued() const;
    std::uint32_t max_active() const { return max_active_; }
    std::uint32_t max_queue() const { return max_queue_; }

private:
    const std::uint32_t max_active_;
    const std::uint32_t max_queue_;
    std::atomic<std::uint32_t> active_{0};
    std::atomic<std::uint32_t> waiting_{0}; // waiters in the queue (a hint for the fast path)
    mutable std::mutex mu_;
    std::deque<std::shared_ptr<Waiter>> queue_;
};

} // namespace haven::policy
