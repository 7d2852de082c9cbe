// A Scheduler whose time moves only when a test calls advance(). Timers fire in deadline order,
// ties in creation (arming) order; posted work runs on the next advance() or run_posted().
#pragma once

#include "core/scheduler.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace haven::test {

class ManualScheduler final : public Scheduler {
public:
    explicit ManualScheduler(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}

    TimePoint now() const override { return now_; }
    std::unique_ptr<Timer> make_timer() override;
    void post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }

    // Moves time forward by d, running posted work and every timer that falls due, in order.
    void advance(Duration d);
    // Runs posted work (and work that it posts) without moving time.
    void run_posted();
    std::size_t pending_timers() const { return queue_.size(); }

private:
    friend class ManualTimer;
    using Key = std::pair<TimePoint, std::uint64_t>;
    struct Entry {
        std::function<void()> fn;
        std::uint64_t timer_id;
    };
    Key schedule(std::uint64_t timer_id, Duration after, std::function<void()> fn);
    void unschedule(const Key& key) { queue_.erase(key); }

    TimePoint now_;
    std::uint64_t seq_ = 0;
    std::uint64_t next_timer_id_ = 1;
    std::map<Key, Entry> queue_;
    std::vector<std::function<void()>> posted_;
};

} // namespace haven::test
