// Per-worker timeouts without a timer per operation.
//
// Arming an Asio timer for every read and write would cost timer-queue work and, whenever the
// earliest deadline changes, a timerfd_settime syscall — on the request path. Instead each
// connection embeds a Deadline whose expiry time is a plain store; one periodic sweep per worker
// fires the expired ones. Deadlines fire late by at most two ticks and never early.
#pragma once

#include "core/scheduler.hpp"

#include <memory>

namespace haven {

struct Deadline {
    TimePoint at = TimePoint::max();
    // Called from the sweep when `at` has passed; `at` is reset to max() first. It must not
    // destroy other Deadline entries inline (cancelling sockets is fine: Asio completes the
    // cancelled operations later, not inside this call).
    void (*on_expire)(Deadline*) = nullptr;
    void* owner = nullptr; // the object this deadline belongs to, for on_expire
    Deadline* prev = nullptr;
    Deadline* next = nullptr;
};

class DeadlineList {
public:
    DeadlineList(Scheduler& scheduler, Duration tick);
    ~DeadlineList();

    void add(Deadline& d);
    void remove(Deadline& d);

    // Expire `d` after at least `after`. A store, no syscall.
    void set(Deadline& d, Duration after) { d.at = now_ + after; }
    static void clear(Deadline& d) { d.at = TimePoint::max(); }

    // Starts the periodic sweep; on_tick (optional) runs at every tick with the current time.
    void start(std::function<void(TimePoint)> on_tick = {});
    void stop();
    // Fires every expired entry; called by the periodic tick, public for tests.
    void sweep();

    // The time at the last tick: lags real time by at most one tick.
    TimePoint now() const { return now_; }
    Duration tick() const { return tick_; }
    std::size_t size() const { return size_; }

private:
    void arm();

    Scheduler& scheduler_;
    Duration tick_;
    TimePoint now_;
    std::unique_ptr<Timer> timer_;
    std::function<void(TimePoint)> on_tick_;
    Deadline head_; // sentinel of a circular list
    std::size_t size_ = 0;
};

} // namespace haven
