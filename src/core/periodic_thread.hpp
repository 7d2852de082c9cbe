// A background thread that runs a function every `interval` until stopped, and once more on stop
// (so nothing queued is lost at shutdown). Used by the access-log writer.
#pragma once

#include "core/clock.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace haven {

class PeriodicThread {
public:
    PeriodicThread(Duration interval, std::function<void()> fn);
    ~PeriodicThread();
    PeriodicThread(const PeriodicThread&) = delete;
    PeriodicThread& operator=(const PeriodicThread&) = delete;
    void stop();

private:
    void loop();
    Duration interval_;
    std::function<void()> fn_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace haven
