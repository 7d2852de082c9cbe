// Scheduler and Timer: how anything that runs later asks for it, so that tests can drive time by
// hand (tests/support/manual_scheduler.hpp) and production uses an io_context
// (src/core/asio_scheduler.hpp).
#pragma once

#include "core/clock.hpp"

#include <functional>
#include <memory>

namespace haven {

// A one-shot timer. Re-arming replaces the previous deadline; destroying or cancelling it
// guarantees the callback does not run afterwards.
class Timer {
public:
    virtual ~Timer() = default;
    virtual void arm(Duration after, std::function<void()> callback) = 0;
    virtual void cancel() = 0;
    virtual bool armed() const = 0;
};

class Scheduler : public Clock {
public:
    virtual std::unique_ptr<Timer> make_timer() = 0;
    // Runs fn soon, on this scheduler's thread, never inline.
    virtual void post(std::function<void()> fn) = 0;
};

} // namespace haven
