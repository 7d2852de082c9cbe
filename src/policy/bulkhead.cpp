#include "policy/bulkhead.hpp"

#include <algorithm>
#include <vector>

namespace haven::policy {
namespace {

bool take(std::atomic<std::uint32_t>& active, std::uint32_t max) {
    auto cur = active.load();
    while (cur < max) {
        if (active.compare_exchange_weak(cur, cur + 1)) return true;
    }
    return false;
}

} // namespace

bool Bulkhead::try_enter() { return waiting_.load() == 0 && take(active_, max_active_); }

Bulkhead::Entry Bulkhead::enter(const std::shared_ptr<Waiter>& w) {
    // Rules: announce the wait before looking at the slots (leave() looks at `waiting_` after
    // freeing one, so one of the two always sees the other: no wake-up is lost); take a slot if
    // one is free and nobody is ahead; otherwise queue while the queue has room.
    std::lock_guard lock(mu_);
    waiting_.fetch_add(1);
    if (queue_.empty() && take(active_, max_active_)) {
        waiting_.fetch_sub(1);
        return Entry::Admitted;
    }
    if (queue_.size() >= max_queue_) {
        waiting_.fetch_sub(1);
        return Entry::Rejected;
    }
    queue_.push_back(w);
    return Entry::Queued;
}

void Bulkhead::leave() {
    active_.fetch_sub(1);
    if (waiting_.load() == 0) return;
    std::vector<std::shared_ptr<Waiter>> woken;
    {
        std::lock_guard lock(mu_);
        while (!queue_.empty() && take(active_, max_active_)) {
            auto w = std::move(queue_.front());
            queue_.pop_front();
            waiting_.fetch_sub(1);
            std::uint8_t expected = Waiter::Waiting;
            if (w->state.compare_exchange_strong(expected, Waiter::Granted)) {
                woken.push_back(std::move(w));
            } else {
                active_.fetch_sub(1); // it had given up: the slot goes to the next one
            }
        }
    }
    for (auto& w : woken) w->wake(); // outside the lock: wake() takes the waiter's mailbox lock
}

bool Bulkhead::abandon(const std::shared_ptr<Waiter>& w) {
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

std::uint32_t Bulkhead::queued() const {
    std::lock_guard lock(mu_);
    return static_cast<std::uint32_t>(queue_.size());
}

} // namespace haven::policy
