#include "core/deadlines.hpp"

namespace haven {

DeadlineList::DeadlineList(Scheduler& scheduler, Duration tick)
    : scheduler_(scheduler), tick_(tick), now_(scheduler.now()) {
    head_.prev = head_.next = &head_;
}

DeadlineList::~DeadlineList() { stop(); }

void DeadlineList::add(Deadline& d) {
    d.next = &head_;
    d.prev = head_.prev;
    head_.prev->next = &d;
    head_.prev = &d;
    ++size_;
}

void DeadlineList::remove(Deadline& d) {
    if (!d.prev) return;
    d.prev->next = d.next;
    d.next->prev = d.prev;
    d.prev = d.next = nullptr;
    --size_;
}

void DeadlineList::start(std::function<void(TimePoint)> on_tick) {
    on_tick_ = std::move(on_tick);
    timer_ = scheduler_.make_timer();
    now_ = scheduler_.now();
    arm();
}

void DeadlineList::stop() {
    if (timer_) timer_->cancel();
}

void DeadlineList::arm() {
    timer_->arm(tick_, [this] {
        sweep();
        arm();
    });
}

void DeadlineList::sweep() {
    now_ = scheduler_.now();
    if (on_tick_) on_tick_(now_);
    // A deadline set at a tick time t0 with `now_` up to one tick stale is at >= real_set + d - tick;
    // requiring at + tick <= now keeps every timeout from firing early.
    const TimePoint limit = now_ - tick_;
    for (Deadline* d = head_.next; d != &head_;) {
        Deadline* next = d->next;
        if (d->at <= limit) {
            d->at = TimePoint::max();
            if (d->on_expire) d->on_expire(d);
        }
        d = next;
    }
}

} // namespace haven
