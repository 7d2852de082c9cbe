#include "core/periodic_thread.hpp"

namespace haven {

PeriodicThread::PeriodicThread(Duration interval, std::function<void()> fn)
    : interval_(interval), fn_(std::move(fn)), thread_([this] { loop(); }) {}

PeriodicThread::~PeriodicThread() { stop(); }

void PeriodicThread::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PeriodicThread::loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        cv_.wait_for(lock, interval_, [this] { return stopping_; });
        lock.unlock();
        fn_();
        lock.lock();
    }
}

} // namespace haven
