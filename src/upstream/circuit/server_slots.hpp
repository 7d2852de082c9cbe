// ServerSlots: per-server caps on requests in flight (`servers[].max_connections`, HAProxy's
// `maxconn`) for one pool, for the whole process, with the pool's queue (`queue: {max, timeout}`,
// HAProxy's backend queue, `maxqueue` and `timeout queue`). Not to be confused with the pool's
// resource_limits (Envoy-style caps that refuse at once) or a route's bulkhead.
//
// The common path is one atomic add per request on a capped server, one subtract when it ends.
// A request whose server is full goes to another eligible server with room (the pick stage);
// only when every server it may use is full does it touch the queue (a mutex): it waits, in
// arrival order across all workers, until a finishing request on a server it may use hands it
// that slot directly (so a slot never goes to a newcomer while someone waits), or until the
// queue timeout (then 503). The hand-over wakes the waiter on its own worker thread through that
// worker's mailbox, as the bulkhead's does; a request never crosses threads.
#pragma once

#include "upstream/host.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace haven::upstream {

class ServerSlots {
public:
    // A request waiting for a slot. Its worker owns it; `wake` runs on some other worker (it must
    // post to the waiter's own thread). `granted` is written before `state` becomes Granted.
    struct Waiter {
        enum State : std::uint8_t { Waiting, Granted, Gone };
        std::atomic<std::uint8_t> state{Waiting};
        HostIndex granted = kNoHost;
        std::vector<HostIndex> exclude; // servers this request already tried: never granted one of those
        std::function<void()> wake;
    };

    // caps: per server (HostIndex order), 0 = no cap. max_queue: waiting requests at most.
    ServerSlots(std::vector<std::uint32_t> caps, std::uint32_t max_queue);

    bool capped(HostIndex h) const { return h < caps_.size() && caps_[h] != 0; }
    // The common path: a slot on h when it has one free and nobody waits (always, uncapped).
    bool try_take(HostIndex h);
    // Free slots on h now (uncapped: UINT32_MAX); a hint for choosing among full servers.
    std::uint32_t room(HostIndex h) const;

    enum class Entry : std::uint8_t { Admitted, Queued, Rejected };
    // A slot on one of `candidates` (the first with room; w->granted says which), or queues `w`
    // when the queue has room, or rejects.
    Entry enter(const std::shared_ptr<Waiter>& w, std::span<const HostIndex> candidates);
    // The waiter gave up (queue timeout, shutdown). True if it had been granted a slot meanwhile
    // (the caller then owns that slot, w->granted, and must leave() it).
    bool abandon(const std::shared_ptr<Waiter>& w);
    // A request holding a slot on h is done: the slot goes to the oldest waiter that may use h,
    // or is freed.
    void leave(HostIndex h);

    std::uint32_t active(HostIndex h) const { return h < caps_.size() ? active_[h].load(std::memory_order_relaxed) : 0; }
    std::uint32_t cap(HostIndex h) const { return h < caps_.size() ? caps_[h] : 0; }
    const std::vector<std::uint32_t>& caps() const { return caps_; }
    std::uint32_t max_queue() const { return max_queue_; }
    std::uint32_t queued() const;
    // Requests that waited; that found the queue full; whose wait ended at the queue timeout.
    std::uint64_t queued_total() const { return queued_total_.load(std::memory_order_relaxed); }
    std::uint64_t full_total() const { return full_total_.load(std::memory_order_relaxed); }
    std::uint64_t timeout_total() const { return timeout_total_.load(std::memory_order_relaxed); }
    void count_timeout() { timeout_total_.fetch_add(1, std::memory_order_relaxed); }

private:
    const std::vector<std::uint32_t> caps_;
    const std::uint32_t max_queue_;
    std::unique_ptr<std::atomic<std::uint32_t>[]> active_;
    std::atomic<std::uint32_t> waiting_{0}; // waiters in the queue (a hint for the common path)
    std::atomic<std::uint64_t> queued_total_{0};
    std::atomic<std::uint64_t> full_total_{0};
    std::atomic<std::uint64_t> timeout_total_{0};
    mutable std::mutex mu_;
    std::deque<std::shared_ptr<Waiter>> queue_;
};

} // namespace haven::upstream
