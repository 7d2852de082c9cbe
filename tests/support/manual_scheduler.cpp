#include "support/manual_scheduler.hpp"

namespace haven::test {

class ManualTimer final : public Timer {
public:
    ManualTimer(ManualScheduler& s, std::uint64_t id) : sched_(s), id_(id) {}
    ~ManualTimer() override { cancel(); }
    void arm(Duration after, std::function<void()> callback) override {
        cancel();
        key_ = sched_.schedule(id_, after, [this, cb = std::move(callback)] {
            armed_ = false;
            cb();
        });
        armed_ = true;
    }
    void cancel() override {
        if (armed_) sched_.unschedule(key_);
        armed_ = false;
    }
    bool armed() const override { return armed_; }

private:
    ManualScheduler& sched_;
    std::uint64_t id_;
    ManualScheduler::Key key_{};
    bool armed_ = false;
};

std::unique_ptr<Timer> ManualScheduler::make_timer() {
    return std::make_unique<ManualTimer>(*this, next_timer_id_++);
}

ManualScheduler::Key ManualScheduler::schedule(std::uint64_t timer_id, Duration after, std::function<void()> fn) {
    if (after < Duration::zero()) after = Duration::zero();
    Key key{now_ + after, seq_++};
    queue_.emplace(key, Entry{std::move(fn), timer_id});
    return key;
}

void ManualScheduler::run_posted() {
    while (!posted_.empty()) {
        auto batch = std::move(posted_);
        posted_.clear();
        for (auto& fn : batch) fn();
    }
}

void ManualScheduler::advance(Duration d) {
    const TimePoint target = now_ + d;
    run_posted();
    while (!queue_.empty() && queue_.begin()->first.first <= target) {
        auto it = queue_.begin();
        now_ = it->first.first;
        auto fn = std::move(it->second.fn);
        queue_.erase(it);
        fn();
        run_posted();
    }
    now_ = target;
}

} // namespace haven::test
