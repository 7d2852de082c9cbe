#include "upstream/circuit/server_slots.hpp"

#include <algorithm>
#include <limits>

namespace haven::upstream {
namespace {

bool take(std::atomic<std::uint32_t>& active, std::uint32_t max) {
    auto cur = active.load();
    while (cur < max) {
        if (active.compare_exchange_weak(cur, cur + 1)) return true;
    }
    return false;
}

bool excludes(const ServerSlots::Waiter& w, HostIndex h) {
    return std::find(w.exclude.begin(), w.exclude.end(), h) != w.exclude.end();
}

} // namespace

ServerSlots::ServerSlots(std::vector<std::uint32_t> caps, std::uint32_t max_queue)
    : caps_(std::move(caps)), max_queue_(max_queue), active_(new std::atomic<std::uint32_t>[caps_.size()]) {
    for (std::size_t i = 0; i < caps_.size(); ++i) active_[i].store(0);
}

bool ServerSlots::try_take(HostIndex h) {
    if (!capped(h)) return true;
    return waiting_.load() == 0 && take(active_[h], caps_[h]);
}

std::uint32_t ServerSlots::room(HostIndex h) const {
    if (!capped(h)) return std::numeric_limits<std::uint32_t>::max();
    const auto a = active_[h].load(std::memory_order_relaxed);
    return a < caps_[h] ? caps_[h] - a : 0;
}

ServerSlots::Entry ServerSlots::enter(const std::shared_ptr<Waiter>& w, std::span<const HostIndex> candidates) {
    // Rules (as the bulkhead's): announce the wait before looking at the slots (leave() looks at
    // `waiting_` after freeing one, so one of the two always sees the other: no wake-up is lost);
    // take a slot if one is free and nobody is ahead; otherwise queue while the queue has room.
    if (candidates.empty()) return Entry::Rejected; // nothing to wait for
    std::lock_guard lock(mu_);
    waiting_.fetch_add(1);
    if (queue_.empty()) {
        for (const HostIndex h : candidates) {
            if (!capped(h) || take(active_[h], caps_[h])) {
                waiting_.fetch_sub(1);
                w->granted = h;
                w->state.store(Waiter::Granted);
                return Entry::Admitted;
            }
        }
    }
    if (queue_.size() >= max_queue_) {
        waiting_.fetch_sub(1);
        full_total_.fetch_add(1, std::memory_order_relaxed);
        return Entry::Rejected;
    }
    queue_.push_back(w);
    queued_total_.fetch_add(1, std::memory_order_relaxed);
    return Entry::Queued;
}

void ServerSlots::leave(HostIndex h) {
    if (!capped(h)) return;
    active_[h].fetch_sub(1);
    if (waiting_.load() == 0) return;
    std::shared_ptr<Waiter> woken;
    {
        std::lock_guard lock(mu_);
        for (auto it = queue_.begin(); it != queue_.end();) {
            Waiter& w = **it;
            if (w.state.load() != Waiter::Waiting) { // gave up: drop it
                it = queue_.erase(it);
                waiting_.fetch_sub(1);
                continue;
            }
            if (excludes(w, h)) {
                ++it;
                continue;
            }
            if (!take(active_[h], caps_[h])) break; // someone took it meanwhile (a waiter entering)
            w.granted = h;
            std::uint8_t expected = Waiter::Waiting;
            if (w.state.compare_exchange_strong(expected, Waiter::Granted)) {
                woken = std::move(*it);
                queue_.erase(it);
                waiting_.fetch_sub(1);
                break;
            }
            active_[h].fetch_sub(1); // it gave up just now: the slot goes to the next one
            it = queue_.erase(it);
            waiting_.fetch_sub(1);
        }
    }
    if (woken) woken->wake(); // outside the lock: wake() takes the waiter's mailbox lock
}

bool ServerSlots::abandon(const std::shared_ptr<Waiter>& w) {
    std::uint8_t expected = Waiter::Waiting;
    if (!w->state.compare_exchange_strong(expected, Waiter::Gone)) return true; // granted meanwhile
    std::lock_guard lock(mu_);
    const auto it = std::find(queue_.begin(), queue_.end(), w);
    if (it != queue_.end()) {
        queue_.erase(it);
        waiting_.fetch_sub(1);
    }
    return false;
}

std::uint32_t ServerSlots::queued() const {
    std::lock_guard lock(mu_);
    return static_cast<std::uint32_t>(queue_.size());
}

} // namespace haven::upstream
